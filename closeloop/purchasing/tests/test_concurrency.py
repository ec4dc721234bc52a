"""Two workers (or a worker and the button) consolidating at the same instant make one request."""

import pytest

from closeloop.core.testing import run_at_once
from closeloop.purchasing import services
from closeloop.purchasing.models import Need, PurchaseRequest
from closeloop.workorders.models import WorkOrder

from .test_purchasing import encoders

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_consolidation_makes_one_request(world):
    encoders(world)
    services.purchase_type()
    results, errors = run_at_once(3, lambda i: services.do_consolidate(actor=world.manager))
    assert not errors, errors
    assert sum(len(r) for r in results) == 1
    assert PurchaseRequest.objects.count() == 1 and Need.objects.count() == 3
    assert WorkOrder.objects.filter(wo_type__key="purchase").count() == 1
