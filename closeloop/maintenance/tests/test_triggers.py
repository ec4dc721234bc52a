"""Each trigger kind with a controlled clock (time_machine), through the worker step."""

from datetime import UTC, date, datetime

import pytest
import time_machine

from closeloop.core.errors import ValidationFailed
from closeloop.maintenance import engine, selectors
from closeloop.maintenance.models import Occurrence, Plan
from closeloop.sla.models import BusinessCalendar
from closeloop.workorders.models import TimelineEvent, WorkOrder

pytestmark = pytest.mark.django_db


def run(at) -> None:
    """Run the worker step until nothing is due, at `at` (a controlled clock)."""
    with time_machine.travel(at, tick=False):
        Plan.objects.update(next_check_at=at)
        for _ in range(20):
            if not engine.run_due_plans("t", at):
                break


def created(plan) -> list[str]:
    return [o.key for o in Occurrence.objects.filter(plan=plan, outcome="created").order_by("at", "id")]


def test_monthly_fixed_calendar_once_per_occurrence_with_lead_time(pm):
    with time_machine.travel(datetime(2026, 1, 1, 1, tzinfo=UTC), tick=False):
        plan = pm.plan(start_date="2026-01-10", lead_days=3)
    run(datetime(2026, 1, 6, 1, tzinfo=UTC))  # 4 days before: not yet
    assert created(plan) == []
    run(datetime(2026, 1, 7, 1, tzinfo=UTC))  # 3 days before the 10th: generated
    assert created(plan) == ["d2026-01-10"]
    run(datetime(2026, 1, 8, 1, tzinfo=UTC))  # again: nothing new
    assert created(plan) == ["d2026-01-10"]
    wo = WorkOrder.objects.get()
    assert (
        wo.wo_type.key == "pm" and wo.asset.serial_number == "EL-0" and wo.title == "季度保养 EL-0 2026-01-10"
    )
    # the first one still open: February's occurrence is skipped (plan setting "skip")
    run(datetime(2026, 2, 8, 1, tzinfo=UTC))
    occ = Occurrence.objects.get(plan=plan, key="d2026-02-10")
    assert occ.outcome == "skipped" and occ.work_order == wo
    assert WorkOrder.objects.count() == 1


def test_missed_occurrences_are_not_backfilled(pm):
    with time_machine.travel(datetime(2026, 1, 1, 1, tzinfo=UTC), tick=False):
        plan = pm.plan(start_date="2026-01-01", every=1, unit="week", on_open="merge")
    run(datetime(2026, 3, 5, 1, tzinfo=UTC))  # worker down for two months: only the latest week
    assert created(plan) == ["d2026-03-05"]


def test_working_day_handling_moves_to_the_next_working_day(pm):
    BusinessCalendar.objects.create(
        key="office",
        name="Office",
        kind="hours",
        week={str(d): [["09:00", "18:00"]] for d in range(5)},
        holidays=["2026-03-02"],
    )
    with time_machine.travel(datetime(2026, 1, 1, 1, tzinfo=UTC), tick=False):
        plan = pm.plan(start_date="2026-02-28", calendar="office")  # a Saturday; March 2 is a holiday
    run(datetime(2026, 3, 1, 1, tzinfo=UTC))
    assert created(plan) == []
    run(datetime(2026, 3, 3, 1, tzinfo=UTC))  # Tuesday the 3rd
    occ = Occurrence.objects.get(plan=plan)
    assert occ.key == "d2026-02-28" and occ.due == date(2026, 3, 3)


def test_rrule_and_forecast(pm):
    with time_machine.travel(datetime(2026, 1, 1, 1, tzinfo=UTC), tick=False):
        plan = pm.plan(
            every=None,
            unit="",
            rrule="FREQ=MONTHLY;BYMONTHDAY=15;BYMONTH=1,4,7,10",
            start_date="2026-01-01",
            scope="model",
            asset="",
            model="LX-9",
        )
        f = selectors.forecast(Plan.objects.get(pk=plan.pk), n=4)
    assert [(x["serial"], x["due"]) for x in f] == [
        ("EL-0", date(2026, 1, 15)),
        ("EL-1", date(2026, 1, 15)),
        ("EL-2", date(2026, 1, 15)),
        ("EL-0", date(2026, 4, 15)),
    ]
    run(datetime(2026, 1, 15, 1, tzinfo=UTC))
    assert sorted(Occurrence.objects.values_list("asset__serial_number", flat=True)) == [
        "EL-0",
        "EL-1",
        "EL-2",
    ]


def test_from_the_last_completion(pm):
    with time_machine.travel(datetime(2026, 1, 1, 1, tzinfo=UTC), tick=False):
        plan = pm.plan(start_date="2026-01-05", every=30, unit="day", anchor="completion")
    run(datetime(2026, 1, 5, 1, tzinfo=UTC))
    wo = WorkOrder.objects.get()
    run(datetime(2026, 2, 20, 1, tzinfo=UTC))  # still open: nothing is counted yet
    assert WorkOrder.objects.count() == 1
    WorkOrder.objects.filter(pk=wo.pk).update(
        status="closed", resolved_at=datetime(2026, 2, 21, 3, tzinfo=UTC)
    )
    run(datetime(2026, 3, 22, 1, tzinfo=UTC))  # 29 days after
    assert created(plan) == ["d2026-01-05"]
    run(datetime(2026, 3, 23, 1, tzinfo=UTC))  # 30 days after the completion
    assert created(plan) == ["d2026-01-05", "d2026-03-23"]


def test_age_of_the_asset_and_of_the_batch(pm):
    with time_machine.travel(datetime(2025, 1, 1, 1, tzinfo=UTC), tick=False):
        own = pm.plan(name="5年", trigger="age", age_years=5, scope="model", asset="", model="LX-9")
        batch = pm.plan(
            name="批次5年",
            trigger="age",
            age_years=5,
            age_basis="batch",
            scope="batch",
            asset="",
            batch="B2020",
            on_open="merge",
        )
    run(datetime(2025, 3, 1, 1, tzinfo=UTC))  # EL-0 installed 2020-03-01: 5 years; EL-1 (03-02) the next day
    assert sorted(Occurrence.objects.filter(plan=own).values_list("asset__serial_number", flat=True)) == [
        "EL-0"
    ]
    # the batch's age is its oldest asset's: all three
    assert Occurrence.objects.filter(plan=batch).count() == 3
    run(datetime(2025, 3, 4, 1, tzinfo=UTC))
    assert Occurrence.objects.filter(plan=own).count() == 3
    run(datetime(2026, 3, 4, 1, tzinfo=UTC))
    assert Occurrence.objects.filter(plan=own).count() == 3  # once per asset


def test_skip_or_merge_when_one_is_open(pm):
    with time_machine.travel(datetime(2026, 1, 1, 1, tzinfo=UTC), tick=False):
        plan = pm.plan(start_date="2026-01-01", every=1, unit="day", on_open="merge")
    run(datetime(2026, 1, 1, 2, tzinfo=UTC))
    run(datetime(2026, 1, 2, 2, tzinfo=UTC))
    wo = WorkOrder.objects.get()
    merged = Occurrence.objects.get(key="d2026-01-02")
    assert merged.outcome == "merged" and merged.work_order == wo
    note = TimelineEvent.objects.filter(work_order=wo, kind="comment").get()
    assert "季度保养" in note.data["body"] and not note.public
    # once it is closed, the next occurrence opens a new one
    WorkOrder.objects.filter(pk=wo.pk).update(
        status="closed", resolved_at=datetime(2026, 1, 2, 5, tzinfo=UTC)
    )
    run(datetime(2026, 1, 3, 2, tzinfo=UTC))
    assert WorkOrder.objects.count() == 2
    assert created(plan) == ["d2026-01-01", "d2026-01-03"]


def test_the_plan_carries_checklist_parts_priority_team_assignee(pm):
    w = pm.world
    with time_machine.travel(datetime(2026, 1, 1, 1, tzinfo=UTC), tick=False):
        pm.plan(
            start_date="2026-01-01",
            checklist=["检查门机", "润滑导轨"],
            parts=[{"part_id": 7, "quantity": 2}],
            priority="high",
            team="team-x",
            assignee="eng_x",
        )
    run(datetime(2026, 1, 1, 2, tzinfo=UTC))
    wo = WorkOrder.objects.get()
    assert (
        wo.priority == "high" and wo.team == w.team_x and wo.assignee == w.eng_x and wo.status == "assigned"
    )
    assert "- [ ] 检查门机" in wo.description and "#7 × 2" in wo.description
    assert Occurrence.objects.get().reserved is False  # no parts app offering reservations here


def test_bad_input_names_the_field_and_writes_nothing(pm):
    for data, field in [
        ({"every": None, "unit": ""}, "every"),
        ({"rrule": "FREQ=SOMETIMES"}, "rrule"),
        ({"asset": "NOPE"}, "asset"),
        ({"type": "nope"}, "type"),
        ({"trigger": "meter"}, "meter_kind"),
        ({"trigger": "age"}, "age_years"),
        ({"trigger": "condition"}, "alarm_kind"),
        ({"parts": [{"part_id": "x"}]}, "parts[0]"),
        ({"calendar": "nope"}, "calendar"),
        ({"start_date": "2026-13-01"}, "start_date"),
    ]:
        with pytest.raises(ValidationFailed) as exc:
            pm.plan(**data)
        assert field in [p.field for p in exc.value.problems], (data, exc.value.problems)
    assert Plan.objects.count() == 0


def test_parts_are_reserved_through_the_parts_app(pm):
    from closeloop.parts.models import Part, Reservation

    t = datetime(2026, 1, 1, 1, tzinfo=UTC)
    belt = Part.objects.create(number="DR-BELT-9", name="门机皮带", created_at=t)
    with time_machine.travel(t, tick=False):
        pm.plan(start_date="2026-01-01", parts=[{"part_id": belt.pk, "quantity": 2}])
    run(datetime(2026, 1, 1, 2, tzinfo=UTC))
    occ = Occurrence.objects.get()
    assert occ.reserved is True
    r = Reservation.objects.get()
    assert r.work_order == occ.work_order and r.part == belt and r.quantity == 2


def test_the_types_custom_fields_come_from_the_plan(pm):
    with pytest.raises(ValidationFailed) as exc:
        pm.plan(type="production")  # 模温 (temperature) is required by the type
    assert any("temperature" in p.field for p in exc.value.problems), exc.value.problems
    with time_machine.travel(datetime(2026, 1, 1, 1, tzinfo=UTC), tick=False):
        pm.plan(type="production", start_date="2026-01-01", custom={"temperature": 80, "shift": "早"})
    run(datetime(2026, 1, 1, 2, tzinfo=UTC))
    assert WorkOrder.objects.get().custom == {"temperature": 80, "shift": "早"}
