"""The demo's SLA story: the Friday-before-Spring-Festival work order and the live
30-second policy."""

from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import time_machine
from django.core.management import call_command

from closeloop.sla.models import Escalation, SLATarget
from closeloop.sla.worker import handle_one_sla_check
from closeloop.workorders.models import TimelineEvent, WorkOrder

SH = ZoneInfo("Asia/Shanghai")


def test_the_demo_shows_holiday_deadlines_and_a_live_breach(db):
    out = StringIO()
    t0 = datetime(2026, 11, 20, 10, tzinfo=SH)
    with time_machine.travel(t0, tick=False):
        call_command("demo", "--scale", "0.02", stdout=out)
    assert "SLA-DEMO" in out.getvalue()
    showcase = WorkOrder.objects.get(title__startswith="春节前周五")
    rows = {r.milestone: r for r in SLATarget.objects.filter(work_order=showcase)}
    assert rows["response"].due_at == datetime(2026, 2, 14, 10, 55, tzinfo=SH)  # adjusted working Saturday
    assert rows["response"].state == "met"
    assert rows["resolution"].due_at == datetime(2026, 2, 25, 17, 55, tzinfo=SH)  # after the holiday
    assert rows["resolution"].state == "met"
    live = WorkOrder.objects.get(fault_code="SLA-DEMO")
    assert SLATarget.objects.get(work_order=live, milestone="response").due_at == t0 + timedelta(seconds=30)
    with time_machine.travel(t0 + timedelta(seconds=51), tick=False):
        while handle_one_sla_check("demo"):
            pass
    assert list(Escalation.objects.filter(work_order=live, milestone="response").values_list("level", flat=True)) \
        == [1, 2, 3]
    assert TimelineEvent.objects.filter(work_order=live, kind="escalation").count() >= 3
    # Historical demo work orders carry no ledger (nothing escalates retroactively); the showcase is
    # the one filed in the past on purpose. What the scenarios file now (at t0) gets its ledger.
    historical = SLATarget.objects.filter(work_order__created_at__lt=t0)
    assert set(historical.values_list("work_order", flat=True)) == {showcase.pk}
    assert SLATarget.objects.filter(work_order=live).exists()
