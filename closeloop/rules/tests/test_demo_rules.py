"""The demo story of issue 5: "呼吸机离线" from a 三级甲等 hospital becomes urgent, goes to
the nearest ventilator-skilled engineer on shift with capacity, the team lead gets a
text, and the timeline shows the rule and the dispatch reasons."""

from datetime import datetime
from io import StringIO
from zoneinfo import ZoneInfo

import time_machine
from django.core.management import call_command

from closeloop.accounts.models import EngineerSkill, User
from closeloop.customers.models import Asset
from closeloop.dispatch import suggestions
from closeloop.outbox.models import OutboxMessage
from closeloop.workorders.models import TimelineEvent
from closeloop.workorders.services import do_create_work_order

SH = ZoneInfo("Asia/Shanghai")


def test_ventilator_offline_at_a_top_hospital(db):
    t0 = datetime(2026, 11, 23, 10, tzinfo=SH)  # Monday morning: the day shift
    with time_machine.travel(t0, tick=False):
        out = StringIO()
        call_command("demo", "--scale", "0.02", stdout=out)
        assert "呼吸机离线" in out.getvalue()
        customer = User.objects.get(username="customer")
        asset = Asset.objects.filter(customer=customer.customer, category="呼吸机",
                                     site__grade="三级甲等").select_related("site").first()
        assert asset is not None
        wo = do_create_work_order(actor=customer, data={"type": "repair", "title": "ICU 3床呼吸机离线",
                                                        "asset": asset.serial_number,
                                                        "custom": {"symptom": "其他"}})
        wo.refresh_from_db()
        assert wo.priority == "urgent" and wo.status == "assigned"
        eng = wo.assignee
        assert EngineerSkill.objects.get(user=eng, tag__name="呼吸机校准").level >= 2
        # The assignee was eligible (on shift, with capacity) and the nearest of the eligible.
        s = suggestions.suggest(wo, limit=50)
        ev = TimelineEvent.objects.get(work_order=wo, kind="dispatch")
        assert ev.data["explanation"].startswith(str(eng))
        rule_ev = TimelineEvent.objects.get(work_order=wo, kind="rule")
        assert rule_ev.data["keywords"] == {"urgent": ["呼吸机离线", "离线"]}
        assert all(a["ok"] for a in rule_ev.data["actions"])
        lead = wo.team.supervisor
        # The rule's messages (others, e.g. "work_order.assigned" to the engineer, are not the rule's).
        msgs = OutboxMessage.objects.filter(kind="notify", payload__work_order=wo.code,
                                            payload__event="rule.notify")
        assert {m.payload["recipients"][0]["user"] for m in msgs} == {lead.username}
        assert {m.payload["channels"][0] for m in msgs} == {"sms", "inbox"}
        assert s.excluded_counts  # others were left out, each with a reason
        mine = next(x for x in s.suggestions if x["username"] == eng.username)
        assert mine["distance_km"] == min(x["distance_km"] for x in s.suggestions if x["distance_km"] is not None)
