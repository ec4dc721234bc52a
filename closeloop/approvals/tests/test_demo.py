"""The approvals demo scenario on the demo company (small scale)."""

from datetime import timedelta

import time_machine

from closeloop.approvals.demo import seed
from closeloop.core.clock import now
from closeloop.demo.services import load_demo
from closeloop.outbox.models import OutboxMessage

from ..models import ApprovalFlow, ApprovalRequest, Justification
from .conftest import run_outbox


def test_demo_scenario(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    load_demo(scale=0.05)
    line = seed()
    assert "/approvals/flows/" in line
    flow = ApprovalFlow.objects.get(action="purchase_part")
    small, large, urgent = ApprovalRequest.objects.order_by("id")
    assert small.status == "approved" and not small.steps.filter(node_id__startswith="fin").exists()
    assert [s["key"] for s in large.plan if s["t"] == "step"][:3] == ["chain#1", "chain#2", "chain#3"]
    assert large.steps.get(status="pending").approvers.get().user.username == "director"
    j = Justification.objects.get()
    assert j.status == "open"
    with time_machine.travel(now() + timedelta(minutes=5), tick=False):
        run_outbox()
    j.refresh_from_db()
    assert j.status == "escalated"
    assert OutboxMessage.objects.filter(payload__event="approval.justification_overdue").exists()
    assert flow.current_version.number == 1
