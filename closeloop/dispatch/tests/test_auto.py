"""The dispatch setting acting on its own when unassigned work arrives: auto, round
robin and suggest on create and after a reopen, a team's setting over its type's,
nobody available, and the order against the rules."""

from datetime import timedelta

import pytest
import time_machine

from closeloop.core.clock import now
from closeloop.dispatch import hooks
from closeloop.dispatch.models import DispatchSetting
from closeloop.roster.models import Leave
from closeloop.rules import hooks as rules_hooks
from closeloop.rules.services import do_create_rule
from closeloop.workorders.lifecycle import S, hooks_for
from closeloop.workorders.models import TimelineEvent
from closeloop.workorders.services import do_create_work_order, do_transition

from .conftest import T0


def create(world, actor=None, **kw):
    data = {"type": "repair", "title": "呼吸机离线", "asset": "SN-A-1", **kw}
    return do_create_work_order(actor=actor or world.dispatcher, data=data)


def dispatch_events(wo):
    return list(TimelineEvent.objects.filter(work_order=wo, kind="dispatch").order_by("id"))


@time_machine.travel(T0, tick=False)
def test_auto_assigns_the_best_on_create_with_reasons_and_eta(crew):
    DispatchSetting.objects.create(wo_type=crew.repair, mode="auto", estimated_hours=3)
    wo = create(crew, actor=crew.cust_a)  # a customer files it: the setting assigns, not the customer
    wo.refresh_from_db()
    assert wo.status == S.ASSIGNED and wo.assignee == crew.eng_x
    [ev] = dispatch_events(wo)
    assert ev.actor is None and ev.data["automatic"] is True and ev.data["mode"] == "auto"
    assert ev.data["trigger"] == "create" and ev.data["explanation"].startswith("eng_x: skills 1/1")
    assert ev.data["suggested"][0] == ev.data["explanation"]
    start, finish = (ev.data["estimated_start"], ev.data["estimated_finish"])
    assert start >= now().isoformat()[:16] and finish > start
    assign = TimelineEvent.objects.get(work_order=wo, action="assign")
    assert assign.id > ev.id and "eng_x: skills" in assign.data["note"]


@time_machine.travel(T0, tick=False)
def test_suggest_leaves_it_to_the_dispatcher(crew):
    wo = create(crew)  # no setting: suggest
    DispatchSetting.objects.create(wo_type=crew.repair, mode="suggest")
    wo2 = create(crew)
    for w in (wo, wo2):
        w.refresh_from_db()
        assert w.status == S.NEW and w.assignee is None and not dispatch_events(w)


@time_machine.travel(T0, tick=False)
def test_round_robin_takes_turns_within_the_team(crew):
    DispatchSetting.objects.create(team=crew.team_x, mode="round_robin")
    got = []
    for _ in range(3):
        wo = create(crew, team="team-x")
        wo.refresh_from_db()
        got.append(wo.assignee.username)
        assert dispatch_events(wo)[0].data["mode"] == "round_robin"
    assert set(got[:2]) == {"eng_x", "eng_x2"} and got[2] == got[0]  # eng_y (team Y) never


@time_machine.travel(T0, tick=False)
def test_team_setting_wins_over_type_setting(crew):
    DispatchSetting.objects.create(wo_type=crew.repair, mode="auto")
    DispatchSetting.objects.create(team=crew.team_x, mode="suggest")
    in_x = create(crew, team="team-x")
    in_y = create(crew, team="team-y")  # no team-y row: the type's auto applies
    in_x.refresh_from_db(), in_y.refresh_from_db()
    assert in_x.assignee is None and in_y.assignee == crew.eng_x


@time_machine.travel(T0, tick=False)
def test_nobody_available_is_recorded_and_creation_still_succeeds(crew):
    DispatchSetting.objects.create(wo_type=crew.repair, mode="auto")
    for u in (crew.eng_x, crew.eng_x2, crew.eng_y):
        Leave.objects.create(user=u, starts_at=now() - timedelta(hours=1), ends_at=now() + timedelta(hours=1))
    wo = create(crew)
    wo.refresh_from_db()
    assert wo.status == S.NEW and wo.assignee is None
    [ev] = dispatch_events(wo)
    assert ev.data["unavailable"] is True and ev.data["assignee"] is None
    assert ev.data["excluded_counts"] == {"leave": 3}
    assert ev.data["explanation"] == "Nobody available: 3 on leave"
    assert len(ev.data["excluded"]) == 3


@time_machine.travel(T0, tick=False)
def test_round_robin_with_nobody_in_the_team_is_recorded(crew):
    DispatchSetting.objects.create(team=crew.team_y, mode="round_robin")
    Leave.objects.create(user=crew.eng_y, starts_at=now() - timedelta(hours=1), ends_at=now() + timedelta(hours=1))
    wo = create(crew, team="team-y")
    wo.refresh_from_db()
    assert wo.assignee is None and dispatch_events(wo)[0].data["unavailable"] is True


@time_machine.travel(T0, tick=False)
def test_back_to_new_after_a_reopen_dispatches_again(crew):
    DispatchSetting.objects.create(wo_type=crew.repair, mode="auto")
    leave = Leave.objects.create(user=crew.eng_x, starts_at=now() - timedelta(hours=1),
                                 ends_at=now() + timedelta(hours=1))
    Leave.objects.create(user=crew.eng_x2, starts_at=now() - timedelta(hours=1), ends_at=now() + timedelta(hours=1))
    Leave.objects.create(user=crew.eng_y, starts_at=now() - timedelta(hours=1), ends_at=now() + timedelta(hours=1))
    wo = create(crew)
    assert wo.assignee_id is None
    do_transition(actor=crew.dispatcher, wo=wo, action="cancel", data={"reason": "无人"})
    leave.delete()
    do_transition(actor=crew.dispatcher, wo=wo, action="reopen", data={"reason": "eng_x 回来了"})
    wo.refresh_from_db()
    assert wo.status == S.ASSIGNED and wo.assignee == crew.eng_x
    assert [e.data["trigger"] for e in dispatch_events(wo)] == ["create", "reopen"]


@time_machine.travel(T0, tick=False)
def test_reopen_back_to_the_assignee_is_left_alone(crew):
    DispatchSetting.objects.create(wo_type=crew.repair, mode="auto")
    wo = create(crew, assignee="eng_y")  # the creator assigns: the setting does not
    assert wo.assignee == crew.eng_y and not dispatch_events(wo)
    do_transition(actor=crew.dispatcher, wo=wo, action="cancel", data={"reason": "x"})
    do_transition(actor=crew.dispatcher, wo=wo, action="reopen", data={"reason": "y"})
    wo.refresh_from_db()
    assert wo.status == S.ASSIGNED and wo.assignee == crew.eng_y and not dispatch_events(wo)


def test_rules_effects_run_before_dispatch():
    for action, ours, theirs in (("create", hooks.on_create, rules_hooks.on_create),
                                 ("reopen", hooks.on_reopen, rules_hooks.on_transition)):
        effects = hooks_for(action).effects
        assert effects.index(theirs) < effects.index(ours)


@time_machine.travel(T0, tick=False)
def test_a_rule_runs_first_and_its_team_decides_the_setting(crew):
    DispatchSetting.objects.create(wo_type=crew.repair, mode="suggest")
    DispatchSetting.objects.create(team=crew.team_x, mode="round_robin")
    do_create_rule(actor=crew.manager, data={"name": "归华东", "condition": "true",
                                             "actions": [{"type": "set_fields", "fields": {"team": "team-x"}}]})
    wo = create(crew)
    wo.refresh_from_db()
    assert wo.team == crew.team_x and wo.assignee in (crew.eng_x, crew.eng_x2)
    kinds = [e.kind for e in TimelineEvent.objects.filter(work_order=wo).order_by("id")]
    assert kinds.index("rule") < kinds.index("dispatch")


@time_machine.travel(T0, tick=False)
def test_a_rule_that_assigns_leaves_nothing_to_dispatch(crew):
    DispatchSetting.objects.create(wo_type=crew.repair, mode="auto")
    do_create_rule(actor=crew.manager, data={"name": "给 eng_y", "condition": "true",
                                             "actions": [{"type": "assign", "assignee": "eng_y"}]})
    wo = create(crew)
    wo.refresh_from_db()
    assert wo.assignee == crew.eng_y and not dispatch_events(wo)


@pytest.mark.django_db
def test_open_work_is_read_from_its_partial_index():
    """The partial index wo_open_work serves open_work only while the query's states are its own,
    written into the SQL (a bound list, or another order, and the database reads the table for
    every open work order: 97 ms at 1M on SQLite, which without statistics would not pick it). The
    plan is read on SQLite, where it does not depend on statistics; PostgreSQL's choice does (at 1M
    it was an index-only scan on wo_open_work: docs/performance.md)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from closeloop.dispatch import facts

    with CaptureQueriesContext(connection) as q:
        facts.open_work()
    sql = next(x["sql"] for x in q.captured_queries if "GROUP BY assignee_id, wo_type_id" in x["sql"])
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cur:
        cur.execute("EXPLAIN QUERY PLAN " + sql)
        plan = " ".join(str(r) for r in cur.fetchall())
    assert "wo_open_work" in plan, plan
