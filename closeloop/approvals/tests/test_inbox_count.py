"""The Approvals badge (selectors.inbox_count, one constant statement) counts what the inbox and the
open justifications' querysets hold, for every user, as requests start, are bypassed and decided."""

from closeloop.accounts.models import User
from closeloop.workorders.lifecycle import S
from closeloop.workorders.tests.factories import make_wo

from .. import selectors, services
from ..models import ApprovalStep, Justification


def _orm(user) -> int:
    if user.role == "customer":
        return 0
    return selectors.inbox(user).count() + Justification.objects.filter(
        user=user, status=Justification.Status.OPEN).count()


def _check_everyone():
    counts = {}
    for user in User.objects.all():
        counts[user.username] = selectors.inbox_count(user)
        assert counts[user.username] == _orm(user), user.username
    return counts


def test_the_badge_counts_what_the_inbox_and_justifications_hold(world, org, purchase_flow):
    assert set(_check_everyone().values()) == {0}
    wo = make_wo(world, status=S.IN_PROGRESS)
    req = services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part", data={"amount": 1200})
    services.do_start_request(actor=world.eng_x, wo=make_wo(world, status=S.IN_PROGRESS), action="purchase_part",
                              data={"amount": 1300})
    counts = _check_everyone()
    assert max(counts.values()) == 2  # both requests wait on the same first approvers
    services.do_bypass(actor=world.manager, req=req, reason="ICU ventilator down")
    counts = _check_everyone()
    assert counts[world.manager.username] >= 1  # their justification is open
    assert ApprovalStep.objects.filter(request=req, status="bypassed").exists()
    assert counts[world.cust_a.username] == 0
