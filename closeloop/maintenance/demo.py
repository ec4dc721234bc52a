"""Maintenance part of the demo (a scenario, demo/scenarios.py): an elevator customer (申城电梯
维保) with three elevators of one model and batch, a monthly preventive plan for the model (the
first occurrence in 3 days, generated a week ahead: a work order per elevator now), a 500-hour
running-hours plan, and the door-delay plan: the 6th 开门延时 (door_delay) alarm on one elevator
within 30 days opens a preventive work order, not before and not twice. With the telemetry app
installed, the scenario posts six alarms through the telemetry API (a gateway token) for one
elevator and runs the worker's step after each: the work order appears on the 6th.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db import transaction
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role, User
from closeloop.core.clock import local_today, now
from closeloop.customers.models import Asset, Customer, Site
from closeloop.workorders.models import WorkOrderType

from . import engine, services, sources
from .models import Occurrence, Plan

ORDER = 70  # after telemetry's scenario, before analytics
CUSTOMER, SITE, MODEL, BATCH = "sh-lift", "sh-lift-xh", "GeN2-MR", "2019-OT-07"
SERIALS = ["ELV-XH-01", "ELV-XH-02", "ELV-XH-03"]
DOOR_PLAN = "开门延时 30 天内第 6 次 → 预防性维护"


def _elevators() -> list[Asset]:
    cust, _c = Customer.objects.get_or_create(code=CUSTOMER, defaults={"name": "申城电梯维保"})
    site, _s = Site.objects.get_or_create(code=SITE, defaults={"customer": cust, "name": "徐汇花园小区"})
    out = []
    for i, serial in enumerate(SERIALS):
        a, _a = Asset.objects.get_or_create(
            serial_number=serial,
            defaults={
                "customer": cust,
                "site": site,
                "name": f"{i + 1}号客梯",
                "category": "电梯",
                "manufacturer": "奥的斯",
                "model": MODEL,
                "batch": BATCH,
                "install_date": date(2019, 7, 1 + i),
            },
        )
        out.append(a)
    return out


def _custom(pm_type: str) -> dict:
    """Values for the type's required choice fields (the demo's 预防性维护 asks for 保养周期)."""
    from closeloop.workorders.models import CustomField

    return {
        f.key: (f.choices or [""])[0]
        for f in CustomField.objects.filter(wo_type__key=pm_type, required=True, kind="choice")
    }


def _plans(owner: User, pm_type: str) -> list[Plan]:
    specs = [
        {
            "name": "电梯月度保养（GeN2-MR）",
            "scope": "model",
            "model": MODEL,
            "trigger": "calendar",
            "every": 1,
            "unit": "month",
            "start_date": (local_today() + timedelta(days=3)).isoformat(),
            "lead_days": 7,
            "calendar": "china-office" if _calendar_exists("china-office") else "",
            "type": pm_type,
            "title": "{plan} · {asset}",
            "checklist": ["检查门机与门锁", "润滑导轨", "测试平层精度", "检查制动器"],
            "on_open": "merge",
        },
        {
            "name": "曳引机 500 运行小时保养",
            "scope": "batch",
            "batch": BATCH,
            "trigger": "meter",
            "meter_kind": "running_hours",
            "meter_every": 500,
            "type": pm_type,
            "title": "{plan} · {asset}",
            "checklist": ["更换曳引机润滑油", "检查钢丝绳"],
        },
        {
            "name": DOOR_PLAN,
            "scope": "model",
            "model": MODEL,
            "trigger": "condition",
            "alarm_kind": "door_delay",
            "alarm_count": 6,
            "window_days": 30,
            "type": pm_type,
            "title": "开门延时频发：{asset} 预防性检修",
            "checklist": ["检查门机皮带与门刀", "清洁地坎", "调整开门延时参数"],
            "priority": "high",
        },
    ]
    out = []
    for spec in specs:
        plan = Plan.objects.filter(name=spec["name"]).first()
        out.append(plan or services.do_create_plan(actor=owner, data={**spec, "custom": _custom(pm_type)}))
    return out


def _calendar_exists(key: str) -> bool:
    from closeloop.sla.models import BusinessCalendar

    return BusinessCalendar.objects.filter(key=key).exists()


def post_door_alarms(serial: str, n: int) -> list[int]:
    """Post n door-delay alarms for `serial` through the telemetry API, running the worker step
    after each; returns the number of the demo plan's work orders after each alarm."""
    from django.test import Client

    from closeloop.telemetry import services as tele  # only called when telemetry is installed

    _g, token = tele.do_create_gateway(actor=None, name="demo elevator gateway", customer=CUSTOMER)
    client = Client()
    plan = Plan.objects.get(name=DOOR_PLAN)
    counts = []
    t = now()
    for i in range(n):
        at = t - timedelta(minutes=(n - i) * 37)
        r = client.post(
            "/api/v1/telemetry/batches",
            data={"items": [{"type": "alarm", "asset": serial, "kind": "door_delay", "at": at.isoformat()}]},
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code in (200, 201, 207), r.content
        # telemetry's ingest listener makes the plan due once the batch commits; inside a
        # transaction (tests) it has not yet: the same one UPDATE here
        engine.on_ingest([Asset.objects.get(serial_number=serial).pk], ["door_delay"])
        for _i in range(5):
            if not engine.run_due_plans("demo"):
                break
        counts.append(Occurrence.objects.filter(plan=plan, outcome="created").count())
    return counts


def seed() -> str | None:
    owner = (
        User.objects.filter(role=Role.DISPATCHER, is_active=True).order_by("id").first()
        or User.objects.filter(role=Role.ADMIN, is_active=True).order_by("id").first()
    )
    pm_type = WorkOrderType.objects.filter(kind="preventive", active=True).order_by("id").first()
    if owner is None or pm_type is None:
        return None
    with transaction.atomic():
        _elevators()
        _plans(owner, pm_type.key)
    for _i in range(10):
        if not engine.run_due_plans("demo"):
            break
    line = _(
        "Maintenance: 3 plans for the elevators of 申城电梯维保 (monthly, every 500 running hours, the 6th "
        "door-delay alarm in 30 days); %(n)d preventive work orders generated."
    ) % {"n": Occurrence.objects.filter(outcome="created").count()}
    if sources.telemetry_ready():
        try:
            counts = post_door_alarms(SERIALS[0], 7)
        except Exception as exc:  # the demo goes on without the alarm story
            return line + " " + _("(door-delay alarms not posted: %(e)s)") % {"e": exc}
        line += " " + _("Door-delay alarms posted for %(s)s: work orders after each alarm %(c)s.") % {
            "s": SERIALS[0],
            "c": counts,
        }
    return line
