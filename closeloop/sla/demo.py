"""SLA part of the demo: calendars, policies (including a 30-second policy that
breaches live) and two showcase work orders. A demo scenario (demo/scenarios.py):
`closeloop demo` runs `seed()` after the demo company is loaded.

The demo's historical work orders get no ledger: escalating months-old work orders
the moment the demo starts would bury the live ones. Every work order created or
changed after loading gets one.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils.translation import gettext as _

from closeloop.accounts.models import User
from closeloop.core import refcache
from closeloop.core.clock import now
from closeloop.customers.models import Customer
from closeloop.sla.calendars import OFFICE_WEEK
from closeloop.sla.models import BusinessCalendar, SLAPolicy
from closeloop.sla.services import recompute
from closeloop.workorders import timeline
from closeloop.workorders.models import TimelineEvent, WorkOrder, WorkOrderType
from closeloop.workorders.services import do_create_work_order, next_code, search_document_for

ORDER = 10  # first: the rules and dispatch scenarios file work orders that pick an SLA policy
SHANGHAI = ZoneInfo("Asia/Shanghai")
H = 3600
#: The fault code that selects the 30-second policy: create a work order with it and watch.
LIVE_FAULT_CODE = "SLA-DEMO"
#: Friday before the 2026 Spring Festival, 17:55; Saturday 2026-02-14 is an adjusted working day (调休).
SHOWCASE_AT = datetime(2026, 2, 13, 17, 55, tzinfo=SHANGHAI)

LADDER = [
    {"level": 1, "pct": 75, "actions": ["remind_assignee"]},
    {"level": 2, "after": 0, "actions": ["notify_supervisor", "reassign_backup"]},
    {"level": 3, "after": 30 * 60, "actions": ["raise_priority", "call_manager"]},
]


def seed() -> str:
    sla = seed_sla()
    return (_("SLA: %(p)d policies, %(c)d calendars; %(s)s shows deadlines across the Spring Festival holiday; "
              "%(l)s breaches a 30-second policy live (any work order with fault code %(f)s does).")
            % {"p": sla["policies"], "c": sla["calendars"], "s": sla["showcase"], "l": sla["live"],
               "f": LIVE_FAULT_CODE})


def seed_sla() -> dict:
    with transaction.atomic():
        t = now()
        week = {str(k): [list(s) for s in v] for k, v in OFFICE_WEEK.items()}
        china = BusinessCalendar.objects.create(key="cn-office", name="中国大陆工作日 9:00–18:00", kind="china",
                                                tz="Asia/Shanghai", week=week)
        always = BusinessCalendar.objects.create(key="24x7", name="7×24", kind="always", tz="Asia/Shanghai")
        BusinessCalendar.objects.create(key="de-office", name="Berlin office", kind="hours", tz="Europe/Berlin",
                                        week=week, holidays=["2026-12-25", "2026-12-26"])
        policies = [
            SLAPolicy(key="demo-30s", name="演示: 30 秒响应", order=1, condition=f'wo.fault_code == "{LIVE_FAULT_CODE}"',
                      calendar=always, targets={"response": 30, "arrival": 90, "resolution": 300},
                      response_actions=["depart", "arrive"], updated_at=t,
                      ladder=[{"level": 1, "pct": 50, "actions": ["remind_assignee"]},
                              {"level": 2, "after": 0, "actions": ["notify_supervisor", "raise_priority"]},
                              {"level": 3, "after": 20, "actions": ["call_manager"]}]),
            SLAPolicy(key="urgent-line-stop", name="紧急停机: 15 分钟响应", order=10,
                      condition='wo.priority == "urgent"', calendar=always,
                      targets={"response": 15 * 60, "arrival": 4 * H, "resolution": 8 * H, "closure": 72 * H},
                      response_actions=["depart", "arrive"], ladder=LADDER, updated_at=t),
            SLAPolicy(key="gold-high", name="金牌客户高优先级", order=20,
                      condition='wo.priority == "high" && wo.customer.tier == "gold"', calendar=always,
                      targets={"response": H, "arrival": 8 * H, "resolution": 24 * H, "closure": 120 * H},
                      response_actions=["depart", "arrive"], ladder=LADDER, updated_at=t),
            SLAPolicy(key="standard", name="标准: 2 工作小时响应", order=100, condition="", calendar=china,
                      targets={"response": 2 * H, "arrival": 9 * H, "resolution": 27 * H, "closure": 90 * H},
                      response_actions=["depart", "arrive"], ladder=LADDER, updated_at=t),
        ]
        SLAPolicy.objects.bulk_create(policies)
        refcache.changed("sla.policies")
        showcase = _showcase()
        live = _live()
    return {"calendars": 3, "policies": len(policies), "showcase": showcase.code, "live": live.code if live else None}


def _showcase() -> WorkOrder:
    """Filed 17:55 on the Friday before Spring Festival; answered on the adjusted
    working Saturday; fixed after the holiday. Its ledger shows the deadlines skip the
    holiday and honour 调休 (response due Sat 10:55, resolution due Wed 02-25 17:55)."""
    wo_type = WorkOrderType.objects.get(key="repair")
    customer = Customer.objects.filter(sites__isnull=False).order_by("id").first()
    site = customer.sites.order_by("id").first()
    dispatcher = User.objects.get(username="dispatcher")
    engineer = User.objects.get(username="engineer")
    t0 = SHOWCASE_AT
    wo = WorkOrder(code=next_code(wo_type.prefix, t0), wo_type=wo_type, title="春节前周五 17:55 报修: CT 球管报警",
                   description="SLA 日历演示: 截止时间跳过春节假期, 并按 2 月 14 日(周六)调休上班计算。",
                   priority="normal", customer=customer, site=site, team=engineer.team, assignee=engineer,
                   created_by=dispatcher, custom={"symptom": "报警"}, status="resolved", created_at=t0,
                   updated_at=t0, resolution="更换高压电缆, 试机正常。")
    steps = [  # (time, action, from, to, actor)
        (t0 + timedelta(minutes=3), "assign", "new", "assigned", dispatcher),
        (datetime(2026, 2, 14, 9, 5, tzinfo=SHANGHAI), "accept", "assigned", "accepted", engineer),
        (datetime(2026, 2, 14, 9, 40, tzinfo=SHANGHAI), "depart", "accepted", "en_route", engineer),
        (datetime(2026, 2, 14, 10, 35, tzinfo=SHANGHAI), "arrive", "en_route", "on_site", engineer),
        (datetime(2026, 2, 14, 10, 50, tzinfo=SHANGHAI), "start", "on_site", "in_progress", engineer),
        (datetime(2026, 2, 24, 15, 0, tzinfo=SHANGHAI), "complete", "in_progress", "resolved", engineer),
    ]
    for at, action, _f, _t, _a in steps:
        field = {"assign": "assigned_at", "accept": "accepted_at", "depart": "departed_at", "arrive": "arrived_at",
                 "start": "started_at", "complete": "resolved_at"}[action]
        setattr(wo, field, at)
    wo.updated_at = steps[-1][0]
    wo.search_document = search_document_for(wo)
    wo.save()
    timeline.append_event(wo, TimelineEvent.Kind.CREATED, actor=dispatcher, at=t0, to_state="new",
                          public=True, data={"title": wo.title, "priority": wo.priority, "type": "repair"})
    for at, action, from_state, to_state, actor in steps:
        data = {"assignee": engineer.username, "assignee_name": str(engineer)} if action == "assign" else {}
        if action == "complete":
            data["resolution"] = wo.resolution
        timeline.append_event(wo, TimelineEvent.Kind.TRANSITION, actor=actor, at=at, action=action,
                              from_state=from_state, to_state=to_state, public=True, data=data)
    recompute(wo, at=now())
    return wo


def _live() -> WorkOrder | None:
    """Created now under the 30-second policy: it breaches while you watch and the
    worker fires its ladder onto the timeline."""
    customer = Customer.objects.filter(sites__isnull=False).order_by("id").first()
    dispatcher = User.objects.get(username="dispatcher")
    return do_create_work_order(actor=dispatcher, data={
        "type": "repair", "title": "演示: 30 秒 SLA, 看它实时超时并升级", "customer": customer.code,
        "site": customer.sites.order_by("id").first().code, "fault_code": LIVE_FAULT_CODE, "assignee": "engineer",
        "custom": {"symptom": "报警"}})
