"""Approvers deciding at the same moment, on real concurrent connections (SQLite file or
PostgreSQL): the request row lock makes the step settle and advance exactly once."""

import pytest

from closeloop.core.testing import run_at_once
from closeloop.workorders.lifecycle import S
from closeloop.workorders.tests.factories import make_wo

from .. import services
from ..models import ApprovalStep, RequestStatus

pytestmark = pytest.mark.django_db(transaction=True)
_run_in_threads = run_at_once


def test_all_of_approvers_at_once_advance_once(world):
    users = [world._user(f"board{i}", "manager") for i in range(4)]
    flow = services.do_create_flow(actor=world.admin, data={"name": "Board", "action": "purchase_part", "tree": {
        "nodes": [{"id": "board", "type": "approver", "mode": "all",
                   "approvers": {"kind": "user", "users": [u.username for u in users]}},
                  {"id": "fin", "type": "approver", "approvers": {"kind": "role", "role": "finance"}}]}})
    services.do_publish(actor=world.admin, flow=flow)
    wo = make_wo(world, status=S.IN_PROGRESS)
    req = services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part", data={"amount": 9000})

    results, errors = _run_in_threads(4, lambda i: services.do_decide(actor=users[i], req=req, decision="approve"))
    assert not errors, errors
    req.refresh_from_db()
    assert req.status == RequestStatus.PENDING
    assert list(ApprovalStep.objects.filter(request=req).values_list("key", "status")) == [
        ("board", "approved"), ("fin", "pending")]
