"""The notifications demo: channels on notify_sink, SLA escalations to the robot and by
email, an urgent work order filed by the worker that starts acknowledge-or-escalate."""

from io import StringIO

import pytest
from django.core.management import call_command

from closeloop.notify.demo import TITLE, file_urgent_work_order
from closeloop.notify.models import AckChain, Channel, UserPreference
from closeloop.notify.services import fan_out_payload
from closeloop.outbox.models import OutboxMessage
from closeloop.workorders.models import WorkOrder

pytestmark = pytest.mark.django_db


def test_demo_seeds_channels_and_the_ack_chain():
    out = StringIO()
    call_command("demo", "--scale", "0.02", stdout=out)
    # `make demo` (closeloop serve) starts the sink itself: nobody is told to run it by hand.
    assert "8025" in out.getvalue() and "run `closeloop notify_sink`" not in out.getvalue()
    assert set(Channel.objects.values_list("kind", flat=True)) == {"dingtalk", "email", "sms_twilio", "voice_twilio"}
    assert OutboxMessage.objects.filter(kind="notify.demo", done_at__isnull=True).exists()
    assert not WorkOrder.objects.filter(title=TITLE).exists()
    file_urgent_work_order()
    wo = WorkOrder.objects.get(title=TITLE)
    chain = AckChain.objects.get(work_order=wo)
    assert chain.target.username == "engineer" and len(chain.steps) == 5
    # An SLA escalation to a supervisor goes to the robot and by email.
    sup = UserPreference.objects.filter(event="sla.escalation", medium="email").first().user
    out = fan_out_payload("esc:1", {
        "event": "sla.escalation", "recipients": [{"user": sup.username}], "work_order": wo.code, "urgent": True,
        "context": {"milestone": "response", "level": 2, "action": "notify_supervisor",
                    "due_at": "2026-11-22T10:00:00+08:00", "title": wo.title, "priority": "urgent"}}, wo.created_at)
    assert {d.medium for d in out} == {"inbox", "email", "dingtalk"}
    robot = next(d for d in out if d.medium == "dingtalk")
    assert robot.markdown.startswith("### ") and wo.code in robot.markdown
