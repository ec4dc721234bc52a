"""The approval engine: branching, supervisor chains, parallel modes, timers, bypass,
version pinning, the lifecycle guard."""

from datetime import timedelta

import pytest
import time_machine

from closeloop.core.clock import now
from closeloop.core.errors import Conflict, DomainError, Forbidden, ValidationFailed
from closeloop.outbox.models import OutboxMessage
from closeloop.workorders.lifecycle import S
from closeloop.workorders.models import TimelineEvent
from closeloop.workorders.services import do_transition
from closeloop.workorders.tests.factories import make_wo

from .. import services
from ..models import ApprovalStep, Justification, RequestStatus, StepStatus
from .conftest import purchase_tree, run_outbox


def _waiting(req):
    return {s.key: sorted(a.user.username for a in s.approvers.filter(open=True))
            for s in req.steps.filter(status=StepStatus.PENDING)}


def _approve_all(req, *users):
    for u in users:
        services.do_decide(actor=u, req=req, decision="approve", comment="ok")
    req.refresh_from_db()
    return req


def test_under_500_skips_finance(world, org, purchase_flow):
    wo = make_wo(world, status=S.IN_PROGRESS)
    req = services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part", data={"amount": 120})
    assert _waiting(req) == {"lead#1": ["manager"]}
    _approve_all(req, world.manager)
    assert req.status == RequestStatus.APPROVED
    keys = [s.key for s in req.steps.all()]
    assert "fin" not in keys and "fin-large" not in keys
    # The CC node copied the store, once.
    assert OutboxMessage.objects.filter(kind="notify", payload__event="approval.cc").count() == 1
    # Every step on the timeline, and the requester hears the outcome.
    events = [e.data["event"] for e in TimelineEvent.objects.filter(work_order=wo, kind="approval")]
    assert events == ["requested", "step_opened", "decision", "cc", "approved"]
    assert OutboxMessage.objects.filter(kind="notify", payload__event="approval.approved",
                                        payload__recipients=[{"user": "eng_x"}]).exists()


def test_default_branch_needs_finance(world, org, purchase_flow):
    wo = make_wo(world, status=S.IN_PROGRESS)
    req = services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part", data={"amount": 1200})
    _approve_all(req, world.manager)
    assert _waiting(req) == {"fin": ["finance"]}
    n = OutboxMessage.objects.filter(kind="notify", payload__event="approval.requested",
                                     payload__recipients=[{"user": "finance"}])
    assert n.count() == 1 and n.get().payload["work_order"] == wo.code
    _approve_all(req, world.finance)
    assert req.status == RequestStatus.APPROVED


def test_over_5000_walks_three_supervisor_levels(world, org, purchase_flow):
    wo = make_wo(world, status=S.IN_PROGRESS)
    req = services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part", data={"amount": 8000})
    path = [s["key"] for s in services.describe_plan(req.plan) if s["t"] == "step"]
    assert path == ["chain#1", "chain#2", "chain#3", "fin-large", "cc-store"]
    assert _waiting(req) == {"chain#1": ["manager"]}
    # Someone later in the chain cannot decide before it is their turn.
    with pytest.raises(Forbidden):
        services.do_decide(actor=org.ceo, req=req, decision="approve")
    _approve_all(req, world.manager)
    assert _waiting(req) == {"chain#2": ["ops_head"]}
    _approve_all(req, org.ops_head)
    assert _waiting(req) == {"chain#3": ["ceo"]}
    _approve_all(req, org.ceo, world.finance)
    assert req.status == RequestStatus.APPROVED


def test_reject_needs_comment_and_ends_request(world, org, purchase_flow):
    wo = make_wo(world, status=S.IN_PROGRESS)
    req = services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part", data={"amount": 100})
    with pytest.raises(ValidationFailed) as e:
        services.do_decide(actor=world.manager, req=req, decision="reject")
    assert e.value.problems[0].field == "comment"
    services.do_decide(actor=world.manager, req=req, decision="reject", comment="use stock")
    req.refresh_from_db()
    assert req.status == RequestStatus.REJECTED
    with pytest.raises(Conflict):
        services.do_decide(actor=world.manager, req=req, decision="approve")
    # A new request may start once the last one is decided; two at once may not.
    services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part", data={"amount": 100})
    with pytest.raises(Conflict):
        services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part", data={"amount": 100})


def _flow(world, nodes, action="purchase_part", **extra):
    tree = {"settings": {"bypass_roles": ["admin", "manager"], "justify_hours": 24}, "auto_approve": [],
            "nodes": nodes, **extra}
    flow = services.do_create_flow(actor=world.admin, data={"name": "F " + action, "action": action, "tree": tree})
    services.do_publish(actor=world.admin, flow=flow)
    flow.refresh_from_db()
    return flow


def test_parallel_all_of_and_percentage(world):
    b = world._user("board2", "manager")
    c = world._user("board3", "manager")
    _flow(world, [{"id": "par", "type": "parallel", "branches": [
        {"id": "p1", "nodes": [{"id": "all", "type": "approver", "mode": "all",
                                "approvers": {"kind": "user", "users": ["finance", "dispatcher"]}}]},
        {"id": "p2", "nodes": [{"id": "pct", "type": "approver", "mode": "percent", "percent": 60,
                                "approvers": {"kind": "user", "users": ["manager", "board2", "board3"]}}]},
    ]}])
    wo = make_wo(world, status=S.IN_PROGRESS)
    req = services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part", data={"amount": 1})
    assert set(_waiting(req)) == {"all", "pct"}  # both branches at once
    _approve_all(req, world.finance)
    assert req.status == RequestStatus.PENDING and "all" in _waiting(req)  # all-of needs dispatcher too
    _approve_all(req, world.dispatcher)
    assert set(_waiting(req)) == {"pct"}
    _approve_all(req, world.manager)  # 1 of 3 < 60 %
    assert req.status == RequestStatus.PENDING
    _approve_all(req, b)  # 2 of 3 >= 60 %
    assert req.status == RequestStatus.APPROVED
    # The third member's task left the inbox.
    assert _waiting(req) == {}
    assert not c.approval_tasks.filter(open=True).exists()


def test_percentage_rejects_when_unreachable(world):
    world._user("board2", "manager")
    _flow(world, [{"id": "pct", "type": "approver", "mode": "percent", "percent": 60,
                   "approvers": {"kind": "user", "users": ["manager", "board2", "finance"]}}])
    wo = make_wo(world, status=S.IN_PROGRESS)
    req = services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part")
    services.do_decide(actor=world.manager, req=req, decision="reject", comment="no")
    req.refresh_from_db()
    assert req.status == RequestStatus.PENDING  # 2 of 3 could still make 60 %
    services.do_decide(actor=world.finance, req=req, decision="reject", comment="no")
    req.refresh_from_db()
    assert req.status == RequestStatus.REJECTED


def test_parallel_any_reject_rejects(world):
    _flow(world, [{"id": "par", "type": "parallel", "branches": [
        {"id": "p1", "nodes": [{"id": "a", "type": "approver", "approvers": {"kind": "user", "users": ["finance"]}}]},
        {"id": "p2", "nodes": [{"id": "b", "type": "approver", "approvers": {"kind": "user", "users": ["manager"]}}]},
    ]}])
    wo = make_wo(world, status=S.IN_PROGRESS)
    req = services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part")
    services.do_decide(actor=world.finance, req=req, decision="reject", comment="over budget")
    req.refresh_from_db()
    assert req.status == RequestStatus.REJECTED
    assert not world.manager.approval_tasks.filter(open=True).exists()


def test_auto_approval_rule(world):
    _flow(world, [{"id": "a", "type": "approver", "approvers": {"kind": "role", "role": "finance"}}],
          auto_approve=[{"name": "routine", "condition": "amount < 50 && data.part == 'fuse'"}])
    wo = make_wo(world, status=S.IN_PROGRESS)
    req = services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part",
                                    data={"amount": 20, "part": "fuse"})
    assert req.status == RequestStatus.APPROVED and req.auto_rule == "routine" and not req.steps.exists()
    req2 = services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part",
                                     data={"amount": 20, "part": "pump"})
    assert req2.status == RequestStatus.PENDING


def test_supervisor_chain_skips_requester_and_falls_back(world, org):
    _flow(world, [{"id": "s", "type": "approver", "approvers": {"kind": "supervisor", "levels": 2}}])
    wo = make_wo(world, status=S.IN_PROGRESS)
    # The manager supervises team-x: their own chain starts one level up.
    req = services.do_start_request(actor=world.manager, wo=wo, action="purchase_part")
    world.manager.team = world.team_x
    world.manager.save()
    services.do_cancel(actor=world.manager, req=req)
    req = services.do_start_request(actor=world.manager, wo=wo, action="purchase_part")
    assert [s["users"] for s in req.plan] == [[org.ops_head.pk], [org.ceo.pk]]
    # Someone with no supervisor at all: the administrators get it (never a dead end).
    wo2 = make_wo(world, status=S.IN_PROGRESS, team=None)
    req = services.do_start_request(actor=world.dispatcher, wo=wo2, action="purchase_part")
    assert _waiting(req) == {"s#1": ["admin"]}


def test_timers_remind_escalate_and_auto_approve(world, org):
    _flow(world, [
        {"id": "r", "type": "approver", "approvers": {"kind": "user", "users": ["finance"]},
         "timer": {"hours": 4, "action": "remind"}},
        {"id": "e", "type": "approver", "approvers": {"kind": "user", "users": ["eng_x2"]},
         "timer": {"hours": 8, "action": "escalate"}},
        {"id": "a", "type": "approver", "approvers": {"kind": "user", "users": ["dispatcher"]},
         "timer": {"hours": 24, "action": "approve"}},
    ])
    with time_machine.travel("2026-11-23 01:00:00Z", tick=False) as clock:
        wo = make_wo(world, status=S.IN_PROGRESS)
        req = services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part")
        run_outbox()
        assert not OutboxMessage.objects.filter(kind="notify", payload__event="approval.reminder").exists()
        clock.shift(timedelta(hours=4, seconds=1))
        run_outbox()
        reminder = OutboxMessage.objects.get(kind="notify", payload__event="approval.reminder")
        assert reminder.payload["recipients"] == [{"user": "finance"}]
        _approve_all(req, world.finance)
        clock.shift(timedelta(hours=8, seconds=1))
        run_outbox()
        # eng_x2 is in team-x: escalated to its supervisor, who now may decide too.
        assert _waiting(req) == {"e": ["eng_x2", "manager"]}
        assert OutboxMessage.objects.filter(kind="notify", payload__event="approval.escalated",
                                            payload__recipients=[{"user": "manager"}]).exists()
        _approve_all(req, world.manager)
        assert _waiting(req) == {"a": ["dispatcher"]}
        clock.shift(timedelta(hours=23))
        run_outbox()
        assert req.status == RequestStatus.PENDING
        clock.shift(timedelta(hours=1, seconds=1))
        run_outbox()
        req.refresh_from_db()
        assert req.status == RequestStatus.APPROVED
        assert req.steps.get(key="a").status == StepStatus.AUTO
        timers = [e.data["timer"] for e in TimelineEvent.objects.filter(work_order=wo, kind="approval")
                  if e.data["event"] == "timer"]
        assert timers == ["remind", "escalate", "approve"]
        # A decided step's timer does nothing when it fires late.
        assert req.decided_at - req.created_at == timedelta(hours=36, seconds=3)


def test_bypass_opens_justification_that_escalates(world, org, purchase_flow):
    world.manager.team = org.ops
    world.manager.save()
    with time_machine.travel("2026-11-23 01:00:00Z", tick=False) as clock:
        wo = make_wo(world, status=S.IN_PROGRESS)
        req = services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part", data={"amount": 1200})
        with pytest.raises(Forbidden):
            services.do_bypass(actor=world.eng_x, req=req, reason="urgent")
        with pytest.raises(ValidationFailed):
            services.do_bypass(actor=world.manager, req=req, reason=" ")
        j = services.do_bypass(actor=world.manager, req=req, reason="ICU ventilator down")
        assert j.due_at == now() + timedelta(hours=24)
        assert _waiting(req) == {"fin": ["finance"]}
        step = ApprovalStep.objects.get(request=req, key="lead2#1")
        assert step.status == StepStatus.BYPASSED and step.bypassed_by == world.manager
        clock.shift(timedelta(hours=24, seconds=1))
        run_outbox()
        j.refresh_from_db()
        assert j.status == Justification.Status.ESCALATED
        n = OutboxMessage.objects.get(kind="notify", payload__event="approval.justification_overdue")
        assert {"user": "ops_head"} in n.payload["recipients"]  # the bypasser's supervisor
        assert TimelineEvent.objects.filter(work_order=wo, kind="approval",
                                            data__event="justification_overdue").count() == 1
        # Filing late is still recorded (and says it was late).
        services.do_file_justification(actor=world.manager, j=j, text="ventilator in ICU")
        ev = TimelineEvent.objects.filter(work_order=wo, kind="approval").last()
        assert ev.data["event"] == "justified" and ev.data["late"] is True


def test_filed_justification_does_not_escalate(world, org, purchase_flow):
    with time_machine.travel("2026-11-23 01:00:00Z", tick=False) as clock:
        wo = make_wo(world, status=S.IN_PROGRESS)
        req = services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part", data={"amount": 100})
        j = services.do_bypass(actor=world.admin, req=req, reason="night emergency")
        req.refresh_from_db()
        assert req.status == RequestStatus.APPROVED
        with pytest.raises(Forbidden):
            services.do_file_justification(actor=world.eng_x, j=j, text="me")
        services.do_file_justification(actor=world.admin, j=j, text="customer's ICU")
        clock.shift(timedelta(hours=25))
        run_outbox()
        j.refresh_from_db()
        assert j.status == Justification.Status.FILED
        assert not OutboxMessage.objects.filter(payload__event="approval.justification_overdue").exists()


def test_running_request_stays_on_its_version(world, org, purchase_flow):
    wo = make_wo(world, status=S.IN_PROGRESS)
    old = services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part", data={"amount": 1200})
    # A manager removes finance from the default branch and publishes v2.
    tree = purchase_tree()
    tree["nodes"][0]["branches"][2]["nodes"].pop()
    v2 = services.do_publish(actor=world.manager, flow=purchase_flow, tree=tree)
    assert v2.number == 2
    _approve_all(old, world.manager)
    assert _waiting(old) == {"fin": ["finance"]} and old.version.number == 1
    wo2 = make_wo(world, status=S.IN_PROGRESS)
    new = services.do_start_request(actor=world.eng_x, wo=wo2, action="purchase_part", data={"amount": 1200})
    assert new.version == v2
    _approve_all(new, world.manager)
    assert new.status == RequestStatus.APPROVED


def test_guard_on_lifecycle_action(world, org):
    _flow(world, [{"id": "m", "type": "approver", "approvers": {"kind": "role", "role": "manager"},
                   "mode": "any"}], action="close")
    wo = make_wo(world, status=S.INVOICED, invoice_number="INV-1")
    with pytest.raises(DomainError) as e:
        do_transition(actor=world.dispatcher, wo=wo, action="close")
    assert e.value.code == "approval_required" and e.value.status == 409
    req = services.do_start_request(actor=world.dispatcher, wo=wo, action="close")
    with pytest.raises(DomainError) as e:
        do_transition(actor=world.dispatcher, wo=wo, action="close")
    assert "still waiting" in str(e.value)
    services.do_decide(actor=world.manager, req=req, decision="approve")
    do_transition(actor=world.dispatcher, wo=wo, action="close")
    req.refresh_from_db()
    assert req.consumed_at is not None and wo.status == S.CLOSED
    # One approval, one action: a reopen-and-close needs a new approval.
    do_transition(actor=world.dispatcher, wo=wo, action="reopen", data={"reason": "again"})
    assert wo.status == S.ASSIGNED


def test_other_types_and_actions_unaffected(world, org):
    _flow(world, [{"id": "m", "type": "approver", "approvers": {"kind": "role", "role": "manager"}}],
          action="close")
    wo = make_wo(world, status=S.ASSIGNED)
    do_transition(actor=world.eng_x, wo=wo, action="accept")
    assert wo.status == S.ACCEPTED


def test_data_validation(world, org, purchase_flow):
    wo = make_wo(world, status=S.IN_PROGRESS)
    with pytest.raises(ValidationFailed) as e:
        services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part",
                                  data={"amount": -1, "Bad Key": 1, "x": {"nested": 1}})
    fields = {p.field for p in e.value.problems}
    assert fields == {"data.amount", "data.Bad Key", "data.x"}
    with pytest.raises(Forbidden):
        services.do_start_request(actor=world.cust_a, wo=wo, action="purchase_part", data={"amount": 1})


def test_cancelling_the_work_order_cancels_waiting_approvals(world, org, purchase_flow):
    wo = make_wo(world, status=S.IN_PROGRESS)
    req = services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part", data={"amount": 100})
    assert world.manager.approval_tasks.filter(open=True).count() == 1
    do_transition(actor=world.dispatcher, wo=wo, action="cancel", data={"reason": "duplicate"})
    req.refresh_from_db()
    assert req.status == RequestStatus.CANCELLED
    assert world.manager.approval_tasks.filter(open=True).count() == 0


def test_any_of_second_approver_gets_a_conflict(world):
    _flow(world, [{"id": "a", "type": "approver", "mode": "any",
                   "approvers": {"kind": "user", "users": ["manager", "finance"]}},
                  {"id": "b", "type": "approver", "approvers": {"kind": "user", "users": ["dispatcher"]}}])
    wo = make_wo(world, status=S.IN_PROGRESS)
    req = services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part")
    services.do_decide(actor=world.manager, req=req, decision="approve")
    with pytest.raises(Conflict):
        services.do_decide(actor=world.finance, req=req, decision="approve")
    with pytest.raises(Forbidden):
        services.do_decide(actor=world.eng_y, req=req, decision="approve")
