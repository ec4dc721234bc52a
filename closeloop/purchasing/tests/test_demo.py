"""The parts and purchasing demo scenarios on a small company: vans with 2 bottles each, and
ONE purchase request for the 3 encoders past 5 years, waiting in the approval flow."""

import pytest

from closeloop.parts import demo as parts_demo
from closeloop.parts.models import Location, Stock
from closeloop.purchasing import demo, services
from closeloop.purchasing.models import PurchaseRequest
from closeloop.workorders.lifecycle import S
from closeloop.workorders.tests.factories import make_wo

pytestmark = pytest.mark.django_db


def test_the_encoder_batch_makes_one_request_for_three_routed_through_approvals(world):
    wo = make_wo(world, status=S.ASSIGNED)
    line = parts_demo.seed()
    assert "2" in line and wo.code in line
    vans = Location.objects.filter(kind="van")
    assert vans.count() == 3 and {s.quantity for s in Stock.objects.filter(location__in=vans)} == {2}
    line = demo.seed()
    [age] = PurchaseRequest.objects.filter(source="age")
    assert [(ln.part.number, ln.quantity) for ln in age.lines.all()] == [("ENC-GEN2", 3)]
    assert services.status_of(age) == "pending" and services.approval_of(age).data["amount"] == 3600.0
    assert age.work_order.code in line
    assert demo.seed() is None and PurchaseRequest.objects.filter(source="age").count() == 1
