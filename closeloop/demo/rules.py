"""Rules and dispatch part of the demo: the urgent keyword library, skill requirements
per equipment type, two weeks of rosters (day shifts, night on-call, a few people on
leave) and the rules of the "呼吸机离线" story: a request with an urgent keyword from a
三级甲等 hospital (or about life-support / imaging equipment) becomes urgent, goes to the
nearest skilled engineer on shift with capacity, and the team lead gets a text.

Called by `closeloop demo` after the demo company is loaded.
"""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction

from closeloop.accounts.models import Role, SkillTag, User
from closeloop.core.clock import now
from closeloop.dispatch.models import DispatchSetting, SkillRequirement
from closeloop.roster.models import Leave, Shift
from closeloop.rules.models import KeywordLibrary, Rule
from closeloop.workorders.models import WorkOrderType

SHANGHAI = ZoneInfo("Asia/Shanghai")
URGENT_WORDS = ["监护仪黑屏", "呼吸机离线", "停机", "报警", "无法启动", "无法开机", "黑屏", "离线"]
#: equipment type -> (skill tag, minimum level)
REQUIREMENTS = [("呼吸机", "呼吸机校准", 2), ("麻醉机", "麻醉机泄漏测试", 2), ("监护仪", "监护仪参数模块校准", 1),
                ("输液泵", "输液泵流量校准", 1), ("超声", "超声探头维修", 1)]
CRITICAL = ["呼吸机", "麻醉机", "MRI", "CT", "DSA"]
ROSTER_DAYS = 14


def rules_spec() -> list[dict]:
    critical = ", ".join(f'"{c}"' for c in CRITICAL)
    return [
        {"name": "紧急: 关键词 + 三甲医院或生命支持设备", "order": 10, "trigger": "created", "stop_after": True,
         "condition": f'wo.keywords.urgent && (wo.site.grade == "三级甲等" || wo.asset.category in [{critical}])',
         "actions": [{"type": "set_priority", "priority": "urgent"},
                     {"type": "dispatch", "mode": "best"},
                     {"type": "notify", "recipients": ["team_lead"], "channels": ["sms", "inbox"],
                      "message": "紧急工单 {code}: {title}"}]},
        {"name": "关键词 → 高优先级", "order": 20, "trigger": "created",
         "condition": 'wo.keywords.urgent && wo.priority in ["low", "normal"]',
         "actions": [{"type": "set_priority", "priority": "high"}]},
        {"name": "重开通知组长", "order": 30, "trigger": "status_changed", "condition": 'event.action == "reopen"',
         "actions": [{"type": "notify", "recipients": ["team_lead"], "channels": ["inbox"],
                      "message": "工单 {code} 被重开"}]},
    ]


def seed_rules(at: datetime | None = None) -> dict:
    t = at or now()
    with transaction.atomic():
        owner = User.objects.filter(username="admin").first() or User.objects.filter(role=Role.ADMIN).first()
        KeywordLibrary.objects.update_or_create(name="urgent", defaults={
            "label": "紧急关键词", "words": URGENT_WORDS, "updated_at": t, "updated_by": owner})
        tags = {tg.name: tg for tg in SkillTag.objects.all()}
        for category, tag, level in REQUIREMENTS:
            if tag in tags and not SkillRequirement.objects.filter(asset_category=category, tag=tags[tag]).exists():
                SkillRequirement.objects.create(asset_category=category, tag=tags[tag], min_level=level)
        for wtype in WorkOrderType.objects.all():
            DispatchSetting.objects.get_or_create(wo_type=wtype, defaults={
                "estimated_hours": 4 if wtype.kind == "production" else 2})
        engineers = list(User.objects.filter(role=Role.ENGINEER, is_active=True).order_by("username"))
        shifts = []
        today = t.astimezone(SHANGHAI).date()
        for d in range(-1, ROSTER_DAYS):
            day = today + timedelta(days=d)
            start = datetime.combine(day, time(7), SHANGHAI)
            for i, u in enumerate(engineers):
                shifts.append(Shift(user=u, kind=Shift.Kind.SHIFT, starts_at=start, ends_at=start + timedelta(hours=15)))
                if (i + d) % 3 == 0:  # a third of the engineers are on call each night
                    shifts.append(Shift(user=u, kind=Shift.Kind.ON_CALL, starts_at=start + timedelta(hours=15),
                                        ends_at=start + timedelta(hours=24)))
        if not Shift.objects.exists():
            Shift.objects.bulk_create(shifts)
            # Two engineers on leave this week (they show up as "on leave" in the exclusions).
            for u in engineers[5:7]:
                Leave.objects.create(user=u, starts_at=t - timedelta(days=1), ends_at=t + timedelta(days=5),
                                     reason="年假")
        created = 0
        if owner is not None:
            for spec in rules_spec():
                if not Rule.objects.filter(name=spec["name"]).exists():
                    Rule.objects.create(owner=owner, created_at=t, updated_at=t, **spec)
                    created += 1
    return {"rules": Rule.objects.count(), "keywords": len(URGENT_WORDS), "shifts": Shift.objects.count()}
