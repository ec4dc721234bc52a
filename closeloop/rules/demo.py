"""Rules part of the demo (a scenario, demo/scenarios.py): the urgent keyword library
and the rules of the "呼吸机离线" story: a request with an urgent keyword from a 三级甲等
hospital (or about life-support / imaging equipment) becomes urgent, goes to the nearest
skilled engineer on shift with capacity, and the team lead gets a text. The skill
requirements and dispatch settings (dispatch/demo.py) and the rosters (roster/demo.py)
are seeded just before; this prints the story's line.
"""

from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role, User
from closeloop.core.clock import now
from closeloop.roster.models import Shift

from .models import KeywordLibrary, Rule

ORDER = 22
URGENT_WORDS = ["监护仪黑屏", "呼吸机离线", "停机", "报警", "无法启动", "无法开机", "黑屏", "离线"]
CRITICAL = ["呼吸机", "麻醉机", "MRI", "CT", "DSA"]


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


def seed() -> str:
    seeded = seed_rules()
    return (_("Rules and dispatch: %(r)d rules, an urgent keyword library, %(s)d roster shifts; "
              "file \"呼吸机离线\" at a 三级甲等 hospital to see it become urgent and dispatched.")
            % {"r": seeded["rules"], "s": Shift.objects.count()})


def seed_rules(at: datetime | None = None) -> dict:
    t = at or now()
    with transaction.atomic():
        owner = User.objects.filter(username="admin").first() or User.objects.filter(role=Role.ADMIN).first()
        KeywordLibrary.objects.update_or_create(name="urgent", defaults={
            "label": "紧急关键词", "words": URGENT_WORDS, "updated_at": t, "updated_by": owner})
        if owner is not None:
            for spec in rules_spec():
                if not Rule.objects.filter(name=spec["name"]).exists():
                    Rule.objects.create(owner=owner, created_at=t, updated_at=t, **spec)
    return {"rules": Rule.objects.count(), "keywords": len(URGENT_WORDS)}
