"""Effects run in named phases (workorders.lifecycle.PHASES), and raising the priority is one
service for the SLA ladder and the rules' escalate action (issue 13)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from closeloop.rules.services import do_create_rule
from closeloop.sla.models import SLATarget
from closeloop.sla.worker import handle_one_sla_check
from closeloop.workorders import lifecycle
from closeloop.workorders import services as wo_services
from closeloop.workorders.models import TimelineEvent

from .helpers import calendars, policy

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def always(db):
    return calendars()[1]


def create(world, **data):
    body = {"type": "repair", "title": "呼吸机报警", "customer": "org-a", "site": "site-a"}
    body.update(data)
    return wo_services.do_create_work_order(actor=world.dispatcher, data=body)


def sla_events(wo):
    return list(TimelineEvent.objects.filter(work_order=wo, kind="sla").values_list("data__policy", flat=True))


def test_the_phase_order_is_written_once_and_every_effect_names_its_phase():
    assert [p.name for p in lifecycle.PHASES] == ["record", "automation", "dispatch", "sla", "notifications",
                                                  "follow_up"]
    assert {r.phase for r in lifecycle._effects} <= {p.name for p in lifecycle.PHASES}
    with pytest.raises(ValueError):
        lifecycle.register_effect("create", print, phase="whenever")


@time_machine.travel(T0, tick=False)
def test_a_new_work_order_gets_its_policy_once_after_the_rules_set_its_priority(world, always):
    policy("urgent", always, order=10, condition='wo.priority == "urgent"', ladder=[])
    policy("default", always, order=20, ladder=[])
    do_create_rule(actor=world.manager, data={"name": "呼吸机加急", "condition": 'wo.title.contains("呼吸机")',
                                              "actions": [{"type": "set_priority", "priority": "urgent"}]})
    do_create_rule(actor=world.manager, data={"name": "派给张工", "condition": "true",
                                              "actions": [{"type": "assign", "assignee": "eng_x"}]})
    wo = create(world)
    wo.refresh_from_db()
    assert wo.priority == "urgent" and wo.assignee == world.eng_x
    assert sla_events(wo) == ["urgent"]  # one event, the policy of the final priority
    assert set(SLATarget.objects.filter(work_order=wo).values_list("policy__key", flat=True)) == {"urgent"}


def _watch_priority_rule(world):
    """A rule on the priority edit: proves the "update" effects ran."""
    do_create_rule(actor=world.manager, data={
        "name": "加急打标", "trigger": "field_changed", "trigger_field": "priority", "condition": "true",
        "actions": [{"type": "add_tags", "tags": ["raised"]}]})


def _outcome(wo):
    wo.refresh_from_db()
    esc = TimelineEvent.objects.filter(work_order=wo, kind="escalation").last()
    return {"priority": wo.priority, "tags": list(wo.tags), "policy": sorted(set(
        SLATarget.objects.filter(work_order=wo).values_list("policy__key", flat=True))),
        "escalation_priority": esc.data["priority"],
        "updated_events": TimelineEvent.objects.filter(work_order=wo, kind="updated",
                                                       data__changes__priority__isnull=False).count()}


def test_sla_ladder_and_rule_escalation_raise_the_priority_the_same_way(world, always):
    policy("urgent", always, order=10, condition='wo.priority == "urgent"', ladder=[])
    policy("default", always, order=20, targets={"response": 1000},
           ladder=[{"level": 1, "after": 0, "actions": ["raise_priority"]}])
    _watch_priority_rule(world)
    with time_machine.travel(T0, tick=False):
        by_sla = create(world, priority="high", assignee="eng_x")
        by_rule = create(world, priority="high", assignee="eng_x")
    assert sla_events(by_sla) == ["default"]

    # The SLA ladder: the response target breaches, level 1 raises the priority.
    at = T0 + timedelta(seconds=1001)
    with time_machine.travel(at, tick=False):
        n = 0
        while handle_one_sla_check("w1", at=at):
            n += 1
            assert n < 100
    # A rule's escalate action (run on demand through a comment trigger).
    do_create_rule(actor=world.manager, data={"name": "升级", "trigger": "comment_added",
                                              "condition": 'event.body == "升级"',
                                              "actions": [{"type": "escalate", "raise_priority": True}]})
    with time_machine.travel(at, tick=False):
        wo_services.do_add_comment(actor=world.dispatcher, wo=by_rule, body="升级")

    expected = {"priority": "urgent", "tags": ["raised"], "policy": ["urgent"],
                "escalation_priority": {"from": "high", "to": "urgent"}, "updated_events": 0}
    assert _outcome(by_sla) == expected
    assert _outcome(by_rule) == expected
    assert sla_events(by_sla) == ["default", "urgent"] and sla_events(by_rule) == ["default", "urgent"]


LEDGER_COLUMNS = ("milestone", "policy_id", "policy_version", "calendar_id", "target_seconds", "started_at", "due_at",
                  "met_at", "elapsed_seconds", "paused_seconds", "paused_intervals", "state", "breached",
                  "next_check_at")


@time_machine.travel(T0, tick=False)
@pytest.mark.parametrize("case", ["plain", "rules assign and raise the priority", "assignee in the create",
                                  "a rule puts it on hold"])
def test_the_creates_own_pass_writes_the_rows_a_full_recompute_writes(world, always, case):
    """A create's SLA pass does not read the ledger rows and fired levels it cannot have
    (TransitionContext.created): the rows equal those of a pass that reads everything, and a
    second pass over them changes nothing and adds no row or event."""
    from closeloop.sla.services import recompute

    policy("urgent", always, order=10, condition='wo.priority == "urgent"')
    policy("default", always, order=20)
    data = {}
    if case == "rules assign and raise the priority":
        do_create_rule(actor=world.manager, data={"name": "加急", "condition": 'wo.title.contains("呼吸机")',
                                                  "actions": [{"type": "set_priority", "priority": "urgent"}]})
        do_create_rule(actor=world.manager, data={"name": "派工", "condition": "true",
                                                  "actions": [{"type": "assign", "assignee": "eng_x"}]})
    elif case == "assignee in the create":
        data = {"assignee": "eng_x"}
    elif case == "a rule puts it on hold":
        do_create_rule(actor=world.manager, data={"name": "派工", "condition": "true",
                                                  "actions": [{"type": "assign", "assignee": "eng_x"}]})
        do_create_rule(actor=world.manager, data={"name": "备注", "condition": "true",
                                                  "actions": [{"type": "add_tags", "tags": ["待件"]}]})
    wo = create(world, **data)
    rows = lambda: sorted(SLATarget.objects.filter(work_order=wo).values_list(*LEDGER_COLUMNS))  # noqa: E731
    first, events = rows(), TimelineEvent.objects.filter(work_order=wo).count()
    assert {r[0] for r in first} == {"response", "arrival", "resolution", "closure"}
    wo.refresh_from_db()
    recompute(wo, at=T0)  # reads its rows, fired levels and timeline
    assert rows() == first
    assert TimelineEvent.objects.filter(work_order=wo).count() == events
    SLATarget.objects.filter(work_order=wo).delete()
    recompute(wo, at=T0)  # from nothing, as the create's pass did: the same rows again
    assert rows() == first
