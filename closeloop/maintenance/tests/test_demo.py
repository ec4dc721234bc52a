"""The maintenance scenario of `closeloop demo` on a small world."""

import pytest

from closeloop.maintenance import demo
from closeloop.maintenance.models import Occurrence, Plan

pytestmark = pytest.mark.django_db


def test_seed_makes_the_plans_and_the_first_monthly_work_orders(pm):
    line = demo.seed()
    assert "申城电梯维保" in line
    assert "[0, 0, 0, 0, 0, 1, 1]" in line, line  # the 6th door-delay alarm, not before, not twice
    assert Plan.objects.count() == 3
    monthly = Plan.objects.get(trigger="calendar")
    assert (
        sorted(Occurrence.objects.filter(plan=monthly).values_list("asset__serial_number", flat=True))
        == demo.SERIALS
    )
    demo.seed()  # again: nothing doubles
    assert Plan.objects.count() == 3 and Occurrence.objects.filter(plan=monthly).count() == 3
