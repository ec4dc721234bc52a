"""Meter and condition triggers over the telemetry app's real tables and public reads, with a
controlled clock; and the demo's story: door-delay (开门延时) alarms posted through the telemetry
API open a preventive work order on the 6th alarm in a month, not before, not twice."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from closeloop.maintenance import engine
from closeloop.maintenance.models import Occurrence, Plan
from closeloop.telemetry import services as tele
from closeloop.telemetry.models import Condition, Reading
from closeloop.workorders.models import WorkOrder

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def step(at) -> None:
    with time_machine.travel(at, tick=False):
        for _ in range(10):
            if not engine.run_due_plans("t", at):
                break


def due_now(at) -> None:
    Plan.objects.update(next_check_at=at)


def readings(asset, pairs, kind):
    Reading.objects.bulk_create(
        [Reading(asset=asset, kind=kind, at=t, value=v, received_at=t) for t, v in pairs]
    )


def test_meter_every_500_running_hours(pm):
    lift = pm.lifts[0]
    with time_machine.travel(T0, tick=False):
        plan = pm.plan(
            trigger="meter", meter_kind="running_hours", meter_every=500, every=None, unit="", on_open="skip"
        )
    for h, (hours, expect) in enumerate(
        [(120, []), (499.5, []), (500, ["m1"]), (730, ["m1"]), (1010, ["m1", "m2"])]
    ):
        at = T0 + timedelta(hours=h + 1)
        readings(lift, [(at - timedelta(minutes=1), hours)], "running_hours")
        due_now(at)
        step(at)
        assert (
            list(Occurrence.objects.filter(plan=plan).order_by("at").values_list("key", flat=True)) == expect
        )
    # m2 arrived while m1's work order was open: skipped (plan setting), one work order in all
    assert Occurrence.objects.get(key="m2").outcome == "skipped" and WorkOrder.objects.count() == 1


def test_condition_reading_above_and_rising_faster_than_a_rate(pm):
    lift = pm.lifts[1]
    t = T0 - timedelta(hours=10)
    cond = Condition.objects.create(
        name="过热且升温快",
        created_at=t,
        updated_at=t,
        expression="reading.temperature.last > 90.0 && reading.temperature.rate_per_hour > 2.0",
    )
    with time_machine.travel(T0 - timedelta(days=1), tick=False):
        pm.plan(
            trigger="condition",
            condition=cond.pk,
            scope="model",
            asset="",
            model="LX-9",
            every=None,
            unit="",
            window_days=7,
        )
    readings(
        lift, [(T0 - timedelta(hours=h), 70.0 + (10 - h) * 2) for h in range(10)], "temperature"
    )  # 72 → 90
    due_now(T0)
    step(T0)
    assert not Occurrence.objects.exists()  # rising, but not above 90 yet
    readings(
        lift, [(T0 + timedelta(hours=h), 90.0 + 3 * h) for h in range(1, 4)], "temperature"
    )  # 99: +27 in 12 h
    at = T0 + timedelta(hours=3, minutes=5)
    due_now(at)
    step(at)
    occ = Occurrence.objects.get()
    assert occ.asset == lift and occ.outcome == "created" and occ.work_order.asset == lift
    # still true an hour later: within the plan's 7-day window, nothing new
    readings(lift, [(at + timedelta(minutes=50), 99.0)], "temperature")
    due_now(at + timedelta(hours=1))
    step(at + timedelta(hours=1))
    assert Occurrence.objects.count() == 1


def test_the_6th_door_delay_alarm_in_a_month_opens_one_work_order(
    pm, client, django_capture_on_commit_callbacks
):
    """Posted through POST /api/v1/telemetry/batches with a gateway token; the ingest listener
    makes the plan due at once; the worker step generates on the 6th alarm, not before, not twice."""
    with time_machine.travel(T0 - timedelta(days=40), tick=False):
        plan = pm.plan(
            name="开门延时",
            trigger="condition",
            alarm_kind="door_delay",
            alarm_count=6,
            window_days=30,
            scope="model",
            asset="",
            model="LX-9",
            every=None,
            unit="",
            priority="high",
        )
        _g, token = tele.do_create_gateway(actor=None, name="梯联网网关")
    # an old alarm (35 days ago) does not count towards this month
    times = [T0 - timedelta(days=35)] + [T0 + timedelta(days=d, hours=d) for d in range(8)]
    seen = []
    for at in times:
        with time_machine.travel(at + timedelta(seconds=5), tick=False):
            with django_capture_on_commit_callbacks(execute=True):
                r = client.post(
                    "/api/v1/telemetry/batches",
                    {
                        "items": [
                            {"type": "alarm", "asset": "EL-2", "kind": "door_delay", "at": at.isoformat()}
                        ]
                    },
                    content_type="application/json",
                    headers={"Authorization": f"Bearer {token}"},
                )
            assert r.status_code == 200, r.content
            assert Plan.objects.get(pk=plan.pk).next_check_at <= at + timedelta(seconds=5)  # the listener
        step(at + timedelta(seconds=6))
        seen.append(WorkOrder.objects.count())
    # alarms in the month: 1..5 for items 1..5, the 6th is item 6
    assert seen == [0, 0, 0, 0, 0, 0, 1, 1, 1]
    wo = WorkOrder.objects.get()
    assert wo.asset.serial_number == "EL-2" and wo.priority == "high" and wo.wo_type.kind == "preventive"
    # a replay of the same alarms (idempotent ingestion) changes nothing
    with time_machine.travel(times[-1] + timedelta(minutes=1), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            client.post(
                "/api/v1/telemetry/batches",
                {
                    "items": [
                        {"type": "alarm", "asset": "EL-2", "kind": "door_delay", "at": t.isoformat()}
                        for t in times
                    ]
                },
                content_type="application/json",
                headers={"Authorization": f"Bearer {token}"},
            )
    step(times[-1] + timedelta(minutes=2))
    assert WorkOrder.objects.count() == 1
