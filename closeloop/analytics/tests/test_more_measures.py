"""The measures read from approvals, handoffs and acknowledge-or-escalate chains (the Episode
rows), the first-update targets and the region filter, against figures worked out by hand
from work orders driven through the real services; incremental equals rebuilt."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from closeloop.analytics import measures, refresh
from closeloop.analytics.models import Episode
from closeloop.analytics.selectors import scope_from
from closeloop.approvals import handoffs
from closeloop.approvals import services as approvals
from closeloop.workorders import services as wo

from .test_measures import _snapshot

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=TZ)


def at(minutes: float):
    return time_machine.travel(T0 + timedelta(minutes=minutes), tick=False)


def _tree(auto=False):
    return {"settings": {"bypass_roles": ["admin", "manager"], "justify_hours": 24},
            "auto_approve": [{"name": "small", "condition": "amount < 100"}] if auto else [],
            "nodes": [{"id": "lead", "type": "approver", "name": "Lead",
                       "approvers": {"kind": "user", "users": ["manager"]}},
                      {"id": "fin", "type": "approver", "name": "Finance",
                       "approvers": {"kind": "user", "users": ["finance"]}}]}


@pytest.fixture
def more(world):
    return build_more(world)


def build_more(world):
    """Two work orders through the real services: approvals under two flow versions, a rated
    handoff, an acknowledge chain that escalated; regions on a site and a customer."""
    from closeloop.accounts.models import Team
    from closeloop.notify.models import AckPolicy
    from closeloop.outbox.services import handle_one_outbox

    w = world
    w.site_a.province = "上海"
    w.site_a.save()
    w.org_b.province = "广东"
    w.org_b.save()
    with at(-60):
        fin = Team.objects.create(name="Finance", code="fin")
        flow = approvals.do_create_flow(actor=w.manager, data={"name": "Purchase", "action": "purchase_part",
                                                               "tree": _tree()})
        approvals.do_publish(actor=w.manager, flow=flow)
        handoffs.do_save_handoff_requirement(actor=w.manager, data={"action": "complete", "to_team": "fin",
                                                                    "fields": ["resolution"]})
        AckPolicy.objects.create(name="always", priorities=["urgent"], always=True,
                                 steps=[{"after": 0, "do": "im"}, {"after": 5, "do": "sms"}])
    with at(0):
        a = wo.do_create_work_order(actor=w.dispatcher, data={
            "type": "repair", "title": "呼吸机报警", "priority": "normal", "site": "site-a", "team": "team-x"})
    with at(10):  # the first update the customer sees: the assignment, 10 minutes in
        wo.do_transition(actor=w.dispatcher, wo=a, action="assign", data={"assignee": "eng_x"})
    # v1: lead decides after 30 min, finance 90 min later: 120 min in all
    with at(20):
        req = approvals.do_start_request(actor=w.eng_x, wo=a, action="purchase_part", data={"amount": 500})
    with at(50):
        approvals.do_decide(actor=w.manager, req=req, decision="approve")
    with at(140):
        approvals.do_decide(actor=w.finance, req=req, decision="approve")
    # v2 with an auto-approval rule: a small purchase is approved at once
    with at(150):
        approvals.do_publish(actor=w.manager, flow=flow, tree=_tree(auto=True))
        approvals.do_start_request(actor=w.eng_x, wo=a, action="purchase_part", data={"amount": 50})
    with at(160):
        wo.do_transition(actor=w.eng_x, wo=a, action="accept", data={})
        wo.do_transition(actor=w.eng_x, wo=a, action="arrive", data={})
        wo.do_transition(actor=w.eng_x, wo=a, action="start", data={})
    with at(200):  # the handoff to finance, rated 2 an hour later
        wo.do_transition(actor=w.eng_x, wo=a, action="complete", data={"resolution": "换传感器"})
    with at(260):
        handoffs.do_rate_handoff(actor=w.manager, h=a.handoffs.get(), score=2, reasons=[])
    # b: urgent, at org B (no site; the customer's province), assigned: a chain starts; nobody
    # acknowledges the first message, the SMS goes out at +5 min, acknowledged at +8 min.
    with at(24 * 60):
        b = wo.do_create_work_order(actor=w.dispatcher, data={
            "type": "repair", "title": "监护仪黑屏", "priority": "urgent", "customer": "org-b", "team": "team-x"})
    with at(24 * 60 + 1):
        wo.do_transition(actor=w.dispatcher, wo=b, action="assign", data={"assignee": "eng_x2"})
    for m in (0, 5):
        while handle_one_outbox("test", at=T0 + timedelta(minutes=24 * 60 + 1 + m)):
            pass
    with at(24 * 60 + 9):
        from closeloop.notify import ack

        ack.do_ack(actor=w.eng_x2, chain=b.ack_chains.get())
    refresh.catch_up()
    return {"a": a, "b": b, "w": w, "fin": fin}


def scope(**params):
    from closeloop.accounts.models import User

    admin = User.objects.get(username="admin")
    parsed = scope_from(admin, {"from": "2026-11-01", "to": "2026-11-07", **params})
    assert not parsed.problems
    return parsed.scope


@pytest.mark.django_db
def test_approval_durations_per_version_and_level(more):
    rows = measures.approvals_by_version(scope())
    assert [(r["flow"], r["version"], r["requests"], r["decided"], r["auto"]) for r in rows] == [
        ("Purchase", 1, 1, 1, 0), ("Purchase", 2, 1, 1, 1)]
    assert rows[0]["avg_s"] == 120 * 60 and rows[1]["avg_s"] == 0
    levels = measures.approvals_by_level(scope())
    assert [(r["flow"], r["level"], r["names"], r["steps"], r["avg_s"]) for r in levels] == [
        ("Purchase", 1, "Lead", 1, 30 * 60), ("Purchase", 2, "Finance", 1, 90 * 60)]


@pytest.mark.django_db
def test_handoff_quality_and_ack_outcomes(more):
    w = more["w"]
    hq = measures.handoff_quality(scope())
    assert hq == [{"team_id": w.team_x.pk, "handoffs": 1, "rated": 1, "score_sum": 2, "poor": 1, "score_avg": 2}]
    ack = measures.ack_outcomes(scope())
    assert (ack["chains"], ack["acked_first"], ack["acked_escalated"], ack["not_acked"]) == (1, 0, 1, 0)
    assert ack["avg_s"] == 8 * 60 and ack["escalated_rate"] == 1
    assert set(Episode.objects.values_list("kind", flat=True)) == {"approval", "step", "handoff", "ack"}


@pytest.mark.django_db
def test_first_update_targets_and_the_region_filter(more):
    s = measures.summary(scope())
    # a: first update 10 min (within both); b: its assignment 1 min in
    assert (s["created"], s["update15"], s["update30"]) == (2, 2, 2)
    assert s["update15_rate"] == 1
    assert measures.summary(scope(region="上海"))["created"] == 1  # a's site
    assert measures.summary(scope(region="广东"))["created"] == 1  # b: no site, its customer's province
    assert measures.ack_outcomes(scope(region="上海"))["chains"] == 0
    assert measures.ack_outcomes(scope(region="广东"))["chains"] == 1
    from closeloop.accounts.models import User

    bad = scope_from(User.objects.get(username="admin"), {"region": "火星"})
    assert [p.field for p in bad.problems] == ["region"]


@pytest.mark.django_db
def test_episodes_incremental_equal_rebuilt(more):
    incremental = _snapshot()
    incremental["Episode"] = _episodes()
    assert incremental["Episode"]
    refresh.rebuild()
    assert {**_snapshot(), "Episode": _episodes()} == incremental


def _episodes():
    return sorted(repr(sorted((k, v) for k, v in r.items() if k != "id")) for r in Episode.objects.values())


@pytest.mark.django_db
def test_drill_down_to_the_episodes(more):
    from closeloop.analytics import drill

    spec = {"from": "2026-11-01", "to": "2026-11-07", "m": "ep", "kind": "ack"}
    assert list(drill.ids_query(spec).values_list("work_order_id", flat=True)) == [more["b"].pk]
    spec = {**spec, "kind": "step", "level": "2"}
    assert list(drill.ids_query(spec).values_list("work_order_id", flat=True)) == [more["a"].pk]


@pytest.mark.django_db
def test_overview_shows_them_and_exports_them(more):
    import csv
    import io

    w = more["w"]
    c = w.browser_client(w.manager)
    with time_machine.travel(T0 + timedelta(days=3), tick=False):
        page = c.get("/analytics/", {"from": "2026-11-01", "to": "2026-11-07"}).content.decode()
        assert 'data-testid="approval-versions"' in page and "v2" in page
        assert 'data-testid="handoff-quality"' in page and 'data-testid="ack-outcomes"' in page
        assert 'name="region"' in page and "广东" in page
        regional = c.get("/analytics/", {"from": "2026-11-01", "to": "2026-11-07", "region": "广东"})
        assert regional.status_code == 200
        assert 'value="广东" selected' in regional.content.decode()
        for chart, first in (("approvals", ["Purchase", "1", "1", "1", "2.0", "0", "0", "0"]),
                             ("levels", ["Purchase", "1", "Lead", "1", "0.5", "0"]),
                             ("ack", ["1", "0", "1", "0", "8.0"])):
            r = c.get(f"/analytics/export/{chart}.csv", {"from": "2026-11-01", "to": "2026-11-07",
                                                         "lang": "en"})
            assert r.status_code == 200
            rows = list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode("utf-8-sig"))))
            assert rows[1] == first, (chart, rows)
        assert c.get("/analytics/export/handoffs.xlsx", {"from": "2026-11-01", "to": "2026-11-07"}).status_code == 200
