"""The SLA ledger through the real services: policy selection, milestones,
pauses, calendars, policy change mid-flight. The clock is moved with time_machine."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from closeloop.core.errors import ValidationFailed
from closeloop.sla import services as sla
from closeloop.sla.models import SLATarget
from closeloop.workorders import services as wo_services
from closeloop.workorders.models import TimelineEvent

from .helpers import calendars, policy

SH = ZoneInfo("Asia/Shanghai")


def t(*args):
    return datetime(*args, tzinfo=SH)


def targets(wo):
    return {r.milestone: r for r in SLATarget.objects.filter(work_order=wo)}


def create(world, **data):
    body = {"type": "repair", "title": "呼吸机报警", "customer": "org-a", "site": "site-a"}
    body.update(data)
    return wo_services.do_create_work_order(actor=world.dispatcher, data=body)


def act(world, wo, action, actor=None, **data):
    wo.refresh_from_db()
    return wo_services.do_transition(actor=actor or world.eng_x, wo=wo, action=action, data=data)


@pytest.fixture
def cals(db):
    return calendars()


def test_it_picks_the_first_matching_policy_by_order(world, cals):
    china, always = cals
    policy("normal", china, order=20)
    policy("urgent", always, order=10, condition='wo.priority == "urgent" && wo.customer.tier == "gold"')
    with time_machine.travel(t(2026, 3, 2, 10), tick=False):
        urgent = create(world, priority="urgent")
        normal = create(world, priority="normal")
    assert {r.policy.key for r in targets(urgent).values()} == {"urgent"}
    assert {r.policy.key for r in targets(normal).values()} == {"normal"}
    assert targets(urgent)["response"].due_at == t(2026, 3, 2, 10, 15)
    ev = TimelineEvent.objects.filter(work_order=urgent, kind="sla").get()
    assert ev.data["policy"] == "urgent"


def test_accept_is_not_a_response_depart_is(world, cals):
    china, _ = cals
    policy("p", china)
    with time_machine.travel(t(2026, 3, 2, 10), tick=False) as clock:
        wo = create(world, assignee="eng_x")
        clock.shift(300)
        act(world, wo, "accept")
        assert targets(wo)["response"].met_at is None
        assert targets(wo)["response"].state == "on_track"
        clock.shift(300)
        act(world, wo, "depart")
    r = targets(wo)["response"]
    assert r.met_at == t(2026, 3, 2, 10, 10)
    assert r.state == "met" and r.next_check_at is None
    assert r.elapsed_seconds == 600


def test_a_policy_may_not_count_accept(world, cals):
    with pytest.raises(ValidationFailed) as e:
        sla.do_create_policy(actor=world.admin, data={"key": "x", "name": "x", "calendar": "24x7",
                                                      "targets": {"response": 60}, "response_actions": ["accept"]})
    assert e.value.problems[0].field == "response_actions"


def test_created_friday_1755_before_a_holiday_skips_it(world, cals):
    china, _ = cals
    policy("p", china, targets={"response": 2 * 3600, "resolution": 27 * 3600})
    with time_machine.travel(t(2026, 4, 3, 17, 55), tick=False):
        wo = create(world)
    rows = targets(wo)
    assert rows["response"].due_at == t(2026, 4, 7, 10, 55)  # weekend + Qingming Monday skipped
    with time_machine.travel(t(2026, 2, 13, 17, 55), tick=False):
        wo2 = create(world)
    rows = targets(wo2)
    assert rows["response"].due_at == t(2026, 2, 14, 10, 55)  # adjusted working Saturday
    assert rows["resolution"].due_at == t(2026, 2, 25, 17, 55)


def test_waiting_pauses_resolution_and_resume_restarts_it(world, cals):
    _, always = cals
    policy("p", always, targets={"response": 3600, "resolution": 4 * 3600})
    with time_machine.travel(t(2026, 3, 2, 10), tick=False) as clock:
        wo = create(world, assignee="eng_x")
        act(world, wo, "accept")
        act(world, wo, "arrive")
        clock.shift(3600)
        act(world, wo, "wait", reason="customer")
        r = targets(wo)["resolution"]
        assert r.state == "paused" and r.due_at is None and r.next_check_at is None
        clock.shift(5 * 3600)  # a long wait does not breach
        act(world, wo, "resume")
    r = targets(wo)["resolution"]
    assert r.state == "on_track"
    assert r.paused_seconds == 5 * 3600
    assert r.elapsed_seconds == 3600
    assert r.due_at == t(2026, 3, 2, 19)  # 10:00 + 4h + 5h paused
    assert len(r.paused_intervals) == 1 and r.paused_intervals[0][1] is not None


def test_a_pause_across_a_holiday_counts_only_business_time(world, cals):
    china, _ = cals
    policy("p", china, targets={"resolution": 9 * 3600})
    with time_machine.travel(t(2026, 4, 3, 9), tick=False) as clock:  # Friday before Qingming
        wo = create(world, assignee="eng_x")
        act(world, wo, "accept")
        act(world, wo, "start")
        clock.move_to(t(2026, 4, 3, 12))
        act(world, wo, "wait", reason="parts")
        clock.move_to(t(2026, 4, 7, 12))  # parts arrive Tuesday noon
        act(world, wo, "resume")
    r = targets(wo)["resolution"]
    # Paused: Fri 12-18 (6h) + Tue 9-12 (3h); weekend and the holiday are not business time.
    assert r.paused_seconds == 9 * 3600
    assert r.elapsed_seconds == 3 * 3600
    assert r.due_at == t(2026, 4, 7, 18)


def test_a_policy_change_mid_flight_recomputes_and_is_on_the_timeline(world, cals):
    china, always = cals
    p = policy("p", always, targets={"response": 3600})
    with time_machine.travel(t(2026, 3, 2, 10), tick=False) as clock:
        wo = create(world)
        assert targets(wo)["response"].due_at == t(2026, 3, 2, 11)
        clock.shift(600)
        sla.do_update_policy(actor=world.admin, policy=p, data={"targets": {"response": 1800}})
    r = targets(wo)["response"]
    assert r.due_at == t(2026, 3, 2, 10, 30) and r.policy_version == 2
    events = list(TimelineEvent.objects.filter(work_order=wo, kind="sla").order_by("id"))
    assert [e.data["version"] for e in events] == [1, 2]
    assert events[1].data["previous"] == {"policy": "p", "version": 1}


def test_a_priority_change_selects_another_policy(world, cals):
    china, always = cals
    policy("urgent", always, order=10, condition='wo.priority == "urgent"', targets={"response": 900})
    policy("normal", china, order=20, targets={"response": 7200})
    with time_machine.travel(t(2026, 3, 2, 10), tick=False):
        wo = create(world)
        assert targets(wo)["response"].policy.key == "normal"
        wo_services.do_update_work_order(actor=world.dispatcher, wo=wo, data={"priority": "urgent"})
    r = targets(wo)["response"]
    assert r.policy.key == "urgent" and r.due_at == t(2026, 3, 2, 10, 15)


def test_cancel_stops_every_clock(world, cals):
    _, always = cals
    policy("p", always)
    with time_machine.travel(t(2026, 3, 2, 10), tick=False):
        wo = create(world)
        act(world, wo, "cancel", actor=world.dispatcher, reason="duplicate")
    assert {r.state for r in targets(wo).values()} == {"stopped"}
    assert all(r.next_check_at is None for r in targets(wo).values())


def test_a_bad_condition_is_refused(world, cals):
    with pytest.raises(ValidationFailed):
        sla.do_create_policy(actor=world.admin, data={"key": "x", "name": "x", "calendar": "24x7",
                                                      "targets": {"response": 60}, "condition": "wo.priority =="})
    with pytest.raises(ValidationFailed):
        sla.do_create_policy(actor=world.admin, data={"key": "x", "name": "x", "calendar": "24x7",
                                                      "targets": {"response": 60}, "condition": "wo.priority"})


def test_no_policy_no_ledger(world, cals):
    wo = create(world)
    assert not targets(wo)
    assert not TimelineEvent.objects.filter(work_order=wo, kind="sla").exists()


def test_timers_point_at_the_next_thing_that_can_happen(world, cals):
    _, always = cals
    policy("p", always, targets={"response": 1000})
    with time_machine.travel(t(2026, 3, 2, 10), tick=False):
        wo = create(world)
    r = targets(wo)["response"]
    # Level 1 (75 %) and the warning are both at 750 s.
    assert r.next_check_at == t(2026, 3, 2, 10) + timedelta(seconds=750)
