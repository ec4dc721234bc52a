"""Each measure against figures worked out by hand from a few scripted work orders: pauses,
a reopening, hand-overs (one by a night-time escalation), a repeat, an auto-approval and a
bypassed approval, a customer's own request; and the incremental tables equal the rebuilt ones."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db.models import Count, F

from closeloop.analytics import measures, refresh
from closeloop.analytics.models import (
    BreakdownRollup,
    DailyRollup,
    OpenStayRollup,
    StateInterval,
    StateRollup,
    WorkOrderFact,
)
from closeloop.analytics.selectors import scope_from
from closeloop.workorders import services as wo
from closeloop.workorders import timeline
from closeloop.workorders.models import TimelineEvent

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=TZ)  # a Monday morning


def at(minutes: float):
    return time_machine.travel(T0 + timedelta(minutes=minutes), tick=False)


def act(actor, order, action, minutes, **data):
    with at(minutes):
        wo.do_transition(actor=actor, wo=order, action=action, data=data)
        order.refresh_from_db()
        refresh.step("test")  # the worker runs between the steps (incremental)


@pytest.fixture
def story(world):
    from closeloop.roster.models import Shift
    from closeloop.sla.models import BusinessCalendar, SLAPolicy

    w = world
    with at(-60):
        cal = BusinessCalendar.objects.create(key="24x7", name="7x24", kind="always", tz="Asia/Shanghai")
        SLAPolicy.objects.create(key="std", name="std", order=100, condition="", calendar=cal,
                                 targets={"response": 1800}, ladder=[], response_actions=["depart", "arrive"],
                                 updated_at=T0)
        Shift.objects.create(user=w.eng_x, starts_at=T0, ends_at=T0 + timedelta(hours=8))
    # 1. urgent, team X: response at +20 min (in time), a customer pause of an hour, rated 5, invoiced.
    with at(0):
        a = wo.do_create_work_order(actor=w.dispatcher, data={
            "type": "repair", "title": "呼吸机报警", "priority": "urgent", "site": "site-a", "asset": "SN-A-1",
            "team": "team-x"})
    act(w.dispatcher, a, "assign", 10, assignee="eng_x")
    act(w.eng_x, a, "accept", 15)
    act(w.eng_x, a, "depart", 20)
    act(w.eng_x, a, "arrive", 50)
    act(w.eng_x, a, "start", 55)
    act(w.eng_x, a, "wait", 115, reason="customer")
    act(w.eng_x, a, "resume", 175)
    act(w.eng_x, a, "complete", 235, resolution="更换传感器")
    act(w.dispatcher, a, "confirm", 240, rating=5)
    act(w.finance, a, "invoice", 360, invoice_number="INV-1")
    # 2. the same asset the next day (a repeat): handed over three times (the third by a night-time
    # escalation to team X), responded late, fixed, reopened, fixed again; rated 3.
    d = 24 * 60
    with at(d):
        b = wo.do_create_work_order(actor=w.dispatcher, data={
            "type": "repair", "title": "呼吸机又报警", "priority": "normal", "site": "site-a", "asset": "SN-A-1",
            "team": "team-x"})
    act(w.dispatcher, b, "assign", d + 5, assignee="eng_x")
    act(w.dispatcher, b, "assign", d + 10, assignee="eng_x2")  # hand-over 1 (person)
    act(w.dispatcher, b, "assign", d + 20, assignee="eng_y", team="team-y")  # hand-over 2 (person and team)
    with at(d + 14 * 60):  # 23:00
        # as the SLA ladder does: the service, then its escalation event with the changes
        changes = wo.do_escalate_work_order(actor=None, wo=b, raise_priority=False, team="team-x")  # hand-over 3
        timeline.append_event(b, TimelineEvent.Kind.ESCALATION, at=T0 + timedelta(minutes=d + 14 * 60),
                              data={"level": 1, **changes})
        b.refresh_from_db()
        refresh.step("test")
    act(w.eng_y, b, "accept", d + 14 * 60 + 5)
    act(w.eng_y, b, "arrive", d + 14 * 60 + 50)  # the response (arrive): 14 h 50 min, target 30 min
    act(w.eng_y, b, "start", d + 14 * 60 + 60)
    act(w.eng_y, b, "complete", d + 14 * 60 + 90, resolution="复位")
    act(w.dispatcher, b, "reopen", d + 16 * 60, reason="又坏了")
    act(w.eng_y, b, "accept", d + 16 * 60 + 10)
    act(w.eng_y, b, "arrive", d + 16 * 60 + 40)
    act(w.eng_y, b, "start", d + 16 * 60 + 45)
    act(w.eng_y, b, "complete", d + 16 * 60 + 105, resolution="更换主板")
    act(w.dispatcher, b, "confirm", d + 16 * 60 + 120, rating=3)
    # 3. a customer's own request (the portal channel), still new.
    with at(2 * d):
        c = wo.do_create_work_order(actor=w.cust_a, data={"type": "repair", "title": "监护仪黑屏", "site": "site-a"})
        refresh.step("test")
    refresh.catch_up()
    return {"a": a, "b": b, "c": c, "w": w}


def scope(**params):
    from closeloop.accounts.models import User

    admin = User.objects.get(username="admin")
    return scope_from(admin, {"from": "2026-11-01", "to": "2026-11-07", **params}).scope


def direct_intervals(order):
    """Time in each state straight from the timeline (the test's own reading)."""
    events = list(TimelineEvent.objects.filter(work_order=order).order_by("id"))
    out, state, since = {}, "new", events[0].at
    for e in events:
        if e.kind == "transition":
            out[state] = out.get(state, 0) + (e.at - since).total_seconds()
            state, since = e.to_state, e.at
    return out, state


@pytest.mark.django_db
def test_facts_of_each_work_order_equal_the_hand_reading(story):
    a, b, c = (WorkOrderFact.objects.get(work_order=story[k]) for k in "abc")
    # a: travel 20 → 50 min; execution on site 5 + in progress 60 + 60 (the customer's hour left out)
    assert a.travel_s == 30 * 60
    assert a.execution_s == 125 * 60
    spent, _ = direct_intervals(story["a"])
    assert a.execution_s == spent["on_site"] + spent["in_progress"]
    assert spent["waiting_customer"] == 60 * 60
    assert a.response_s == 20 * 60 and a.sla_response == 2
    assert a.handovers == 0 and a.reopens == 0 and a.first_time_fix is True and a.repeat is False
    assert a.rating == 5 and a.invoice_s == (360 - 235) * 60
    assert a.first_update_s == 10 * 60  # the assignment is the first thing the customer sees
    assert a.channel == "staff"
    # b: three hand-overs, one reopening, two visits, a repeat of a, responded late
    assert b.handovers == 3 and b.reopens == 1 and b.first_time_fix is False and b.repeat is True
    assert b.sla_response == 3
    assert b.execution_s == (10 + 30) * 60 + (5 + 60) * 60
    assert b.travel_s is None  # arrived without departing
    assert b.rating == 3 and b.status == "confirmed"
    assert c.channel == "portal" and c.status == "new" and c.execution_s is None


@pytest.mark.django_db
def test_summary_equals_the_hand_reading(story):
    s = measures.summary(scope())
    assert s["created"] == 3 and s["open"] == 3  # none closed (a is invoiced, b confirmed, c new)
    assert s["response_avg_s"] == (20 + 14 * 60 + 50) * 60 / 2  # a in 20 min; b arrived 14 h 50 min after
    assert s["responded"] == 2
    assert s["response_attainment"] == 0.5
    # attainment counts decided targets (a in time, b late); the overdue rate all (c still running)
    assert s["sla_attainment"] == 0.5 and s["overdue_rate"] == pytest.approx(1 / 3)
    assert s["handover3_share"] == pytest.approx(1 / 3) and s["handovers_avg"] == 1
    assert s["reopen_rate"] == 0.5  # one of the two completed work orders
    assert s["ftf_rate"] == 0.5 and s["repeat_rate"] == pytest.approx(1 / 3)
    assert s["execution_avg_s"] == (125 * 60 + 105 * 60) / 2
    assert s["travel_avg_s"] == 30 * 60
    assert s["rating_avg"] == 4 and s["satisfaction"] == 0.5
    assert s["waiting_invoice"] == 1 and s["invoice_avg_s"] == 125 * 60
    # The previous week had nothing; a team filter narrows to the current team.
    assert measures.summary(scope().previous())["created"] == 0
    assert measures.summary(scope(team="team-y"))["created"] == 0
    assert measures.summary(scope(customer="org-a"))["created"] == 3
    assert measures.summary(scope(priority="urgent"))["created"] == 1


@pytest.mark.django_db
def test_heatmap_and_top5(story):
    w = story["w"]
    with time_machine.travel(T0 + timedelta(days=3), tick=False):
        cells = measures.heatmap(scope(), "team")
        by_person = measures.heatmap(scope(), "person")
    cell = {(c["state"], c["key"]): c for c in cells}
    # a has waited to be closed since its invoice (66 hours by now): the worst cell, still open;
    # c has waited as "new", without a team, for a day.
    worst = cells[0]
    assert (worst["state"], worst["key"], worst["open"]) == ("invoiced", w.team_x.pk, 1)
    assert worst["hours"] == pytest.approx(3 * 24 - 6, abs=1e-3)
    new = cell[("new", 0)]
    assert (new["count"], new["open"], round(new["hours"], 3)) == (1, 1, 24)
    # b was assigned and waited with team Y from d+20 min to its escalation at 23:00.
    spent_b, _ = direct_intervals(story["b"])
    assert cell[("assigned", w.team_y.pk)]["hours"] == pytest.approx((14 * 60 - 20) / 60, abs=1e-3)
    total_assigned = sum(c["hours"] for c in cells if c["state"] == "assigned")
    assert total_assigned * 3600 == pytest.approx(spent_b["assigned"] + direct_intervals(story["a"])[0]["assigned"],
                                                 abs=1)
    assert cell[("waiting_customer", w.team_x.pk)]["hours"] == pytest.approx(1, abs=1e-3)
    assert any(c["key"] == w.eng_x.pk and c["state"] == "in_progress" for c in by_person)
    assert all(c["hours"] >= 0 for c in cells)
    assert not StateInterval.objects.filter(ended_at__lt=F("started_at")).exists()
    top = measures.top_stuck(scope(), 5)
    assert len(top) == 5 and top[0]["hours"] >= top[-1]["hours"]
    # the work orders behind a cell: exactly those that stayed there
    assert list(measures.ids_for_cell(scope(), "new", 0)) == [story["c"].pk]
    assert list(measures.ids_for_cell(scope(), "invoiced", w.team_x.pk)) == [story["a"].pk]
    assert sorted(measures.ids_for_cell(scope(), "in_progress", w.team_x.pk)) == [story["a"].pk, story["b"].pk]


@pytest.mark.django_db
def test_engineers_repeats_and_intake(story):
    w = story["w"]
    people = {r["assignee_id"]: r for r in measures.engineers(scope())}
    # eng_x worked a's 125 minutes on a shift of 8 hours
    assert people[w.eng_x.pk]["work_hours"] == pytest.approx(125 / 60, abs=1e-3)
    assert people[w.eng_x.pk]["utilisation"] == pytest.approx(125 / 480, abs=1e-4)
    assert people[w.eng_y.pk]["work_orders"] == 1 and people[w.eng_y.pk]["utilisation"] is None
    rep = measures.repeats_by(scope(), "asset")
    assert rep == [{"key": w.asset_a.pk, "repeats": 1, "created": 2, "rate": 0.5}]
    channels = {r["key"]: r["created"] for r in measures.intake_by(scope(), "channel")}
    assert channels == {"staff": 2, "portal": 1}
    assert sum(r["created"] for r in measures.intake_by_day(scope())) == 3


def _rows(qs) -> list[str]:
    """The rows of a queryset without their ids, floats rounded, in a comparable order."""
    return sorted(repr(sorted((k, round(v, 3) if isinstance(v, float) else v) for k, v in r.items() if k != "id"))
                  for r in qs.values())


def _snapshot():
    return {m.__name__: _rows(m.objects.all()) for m in (WorkOrderFact, StateInterval, DailyRollup, StateRollup,
                                                         BreakdownRollup, OpenStayRollup)}


@pytest.mark.django_db
def test_incremental_equals_rebuild(story):
    incremental = _snapshot()
    assert incremental["WorkOrderFact"] and incremental["StateRollup"] and incremental["OpenStayRollup"]
    refresh.rebuild()
    assert _snapshot() == incremental
    # and after more events, the step catches up to the same thing a rebuild gives
    w = story["w"]
    with at(3 * 24 * 60):
        wo.do_transition(actor=w.dispatcher, wo=story["c"], action="assign", data={"assignee": "eng_y"})
    refresh.catch_up()
    incremental = _snapshot()
    refresh.rebuild()
    assert _snapshot() == incremental


@pytest.mark.django_db
def test_month_rows_moved_by_difference_equal_the_recomputed_ones(story):
    """The step moves the month rows by the difference of the day rows it rewrites (it no longer
    reads a month's day rows again): after a change that adds a key (a team and person the
    month had not seen), one that empties a key (that person's only stay ends with a
    cancellation) and a new work order, they equal the month rows computed from the day rows
    (and so do the folded day rows the step writes again)."""
    w = story["w"]

    def months():
        return {m.__name__: _rows(m.objects.filter(span__in=("M", "D"))) for m in refresh.ROLLUPS}

    def equal_to_recomputed():
        moved = months()
        refresh.write_months(None)
        refresh.write_folded_days(None)
        assert months() == moved
        return moved

    start = equal_to_recomputed()
    act(w.dispatcher, story["c"], "assign", 3 * 24 * 60, assignee="eng_y", team="team-y")
    after_assign = equal_to_recomputed()
    assert after_assign != start
    act(w.dispatcher, story["c"], "cancel", 3 * 24 * 60 + 5, reason="duplicate")
    assert equal_to_recomputed() != after_assign
    with at(4 * 24 * 60):
        wo.do_create_work_order(actor=w.dispatcher, data={
            "type": "repair", "title": "监护仪黑屏", "priority": "low", "site": "site-a", "team": "team-y"})
    refresh.catch_up()
    equal_to_recomputed()


@pytest.mark.django_db
def test_a_breach_the_sla_worker_flags_reaches_the_figures(story):
    from closeloop.sla.models import SLATarget

    c = story["c"]
    assert WorkOrderFact.objects.get(work_order=c).sla_response == 1  # running
    SLATarget.objects.filter(work_order=c, milestone="response").update(breached=True, state="breached")
    refresh.step("test")  # no new timeline event: the step looks for it
    assert WorkOrderFact.objects.get(work_order=c).sla_response == 3
    assert measures.summary(scope())["breached"] == 2


@pytest.mark.django_db
def test_rollups_written_by_insert_select_equal_the_grouped_aggregates(story):
    """The rebuild writes the rollups with INSERT … SELECT (column order taken from the query):
    each row equals what `grouped` computes in Python from the same facts and stays."""
    refresh.rebuild()

    def norm(rows):
        return sorted(repr(sorted((k, round(float(v), 3) if isinstance(v, float | int) and not isinstance(v, bool)
                                   else str(v)) for k, v in r.items() if k not in ("id", "span"))) for r in rows)

    assert norm(DailyRollup.objects.filter(span="d").values()) == norm(
        refresh.grouped(WorkOrderFact.objects.all(), refresh.DAILY_KEY, refresh.DAILY))
    assert norm(StateRollup.objects.filter(span="d").values()) == norm(refresh.grouped(
        StateInterval.objects.filter(ended_at__isnull=False), refresh.STATE_KEY, refresh.state_aggregates()))
    expected = []
    for dim, col in refresh.BREAKDOWNS.items():
        group = refresh.DAILY_KEY if col in refresh.DAILY_KEY else refresh.DAILY_KEY + (col,)
        for r in refresh.grouped(WorkOrderFact.objects.all(), group, {"created": Count("pk")}):
            key = r[col] if col in refresh.DAILY_KEY else r.pop(col)
            expected.append({"dim": dim, "key": str(key), **r})
    assert norm(BreakdownRollup.objects.filter(span="d").values()) == norm(expected)
    assert {r["dim"] for r in BreakdownRollup.objects.values("dim")} == set(refresh.BREAKDOWNS)


@pytest.mark.django_db
@pytest.mark.parametrize("params", [
    {"from": "2026-10-15", "to": "2026-12-10"},  # November whole: its month rows, plus days either side
    {"from": "2026-11-01", "to": "2026-11-30"},  # exactly one month
    {"from": "2026-11-01", "to": "2026-11-03"},  # days only
    {"from": "2026-10-01", "to": "2026-12-31", "team": "team-x"},
    {"from": "2026-10-01", "to": "2026-12-31", "priority": "urgent"},  # folded: day rows
])
def test_month_rows_give_the_same_figures_as_day_rows(story, params, monkeypatch):
    from closeloop.accounts.models import User

    admin = User.objects.get(username="admin")
    s = scope_from(admin, params).scope

    def figures():
        return (measures.summary(s), measures.intake_by(s, "channel"), measures.intake_by(s, "customer"),
                measures.sla_by(s, "team"), measures.time_in_state(s), measures.engineers(s),
                [(c["state"], c["key"], c["count"], round(c["hours"], 6)) for c in measures.heatmap(s)
                 if c["open"] == 0])

    reads_months = measures.rolled(DailyRollup, s).filter(span="M").exists()
    assert reads_months == (params["to"] != "2026-11-03" and "priority" not in params)
    with time_machine.travel(T0 + timedelta(days=3), tick=False):
        by_month = figures()
        monkeypatch.setattr(measures, "USE_MONTHS", False)
        assert figures() == by_month
    assert DailyRollup.objects.filter(span="M").exists() and StateRollup.objects.filter(span="M").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("params", [
    {"from": "2026-10-15", "to": "2026-12-10"},  # month rows and day rows
    {"from": "2026-11-01", "to": "2026-11-07"},
    {"from": "2026-10-01", "to": "2026-12-31", "team": "team-x"},
    {"from": "2026-11-01", "to": "2026-11-30", "priority": "urgent"},
])
def test_rollups_give_the_figures_the_facts_give(story, params, monkeypatch):
    """The fast path (rollup rows, narrow aggregate queries) against the direct one (the
    per-work-order facts and stays, as a customer or region filter reads them), for every
    measure the overview and the heat map show: the same figures."""
    from closeloop.accounts.models import User

    s = scope_from(User.objects.get(username="admin"), params).scope

    def figures():
        summary = measures.summary(s)
        return (summary, measures.approvals(s, summary), measures.approvals(s), measures.intake_by_day(s),
                [measures.intake_by(s, d) for d in ("channel", "type", "customer", "site", "assignee")],
                [measures.sla_by(s, d) for d in ("team", "type", "priority")],
                measures.time_in_state(s), measures.engineers(s),
                [[(c["state"], c["key"], c["count"], c["open"], round(c["hours"], 6)) for c in measures.heatmap(s, by)]
                 for by in ("team", "person")],
                [measures.repeats_by(s, d) for d in ("customer", "asset", "fault_code")])

    with time_machine.travel(T0 + timedelta(days=3), tick=False):
        fast = figures()
        assert fast[0]["created"] or params.get("priority")
        monkeypatch.setattr(measures.Scope, "needs_facts", property(lambda self: True))
        direct = figures()
    assert fast == direct


@pytest.mark.django_db
def test_the_migration_builds_the_folded_day_rows_the_step_keeps(story):
    """Installations upgraded from before the folded day rows get them from migration 0008: the
    same rows the worker step wrote."""
    import importlib
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection

    migration = importlib.import_module("closeloop.analytics.migrations.0008_folded_day_rows")
    def folded():
        return {m.__name__: _rows(m.objects.filter(span="D")) for m in refresh.ROLLUPS}

    by_step = folded()
    assert all(by_step.values())
    for m in refresh.ROLLUPS:
        m.objects.filter(span="D").delete()
    migration.build(apps, SimpleNamespace(connection=connection))
    assert folded() == by_step
