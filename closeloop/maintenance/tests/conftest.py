from datetime import date

import pytest

from closeloop.customers.models import Asset
from closeloop.maintenance import services
from closeloop.workorders.models import WorkOrderType


class PM:
    """The world plus a preventive type and three elevators of one model and batch."""

    def __init__(self, world):
        self.world = world
        self.pm = WorkOrderType.objects.create(key="pm", name="预防性维护", prefix="PM", kind="preventive")
        self.lifts = [
            Asset.objects.create(
                customer=world.org_a,
                site=world.site_a,
                name=f"电梯{i}",
                model="LX-9",
                batch="B2020",
                serial_number=f"EL-{i}",
                install_date=date(2020, 3, 1 + i),
            )
            for i in range(3)
        ]

    def plan(self, **data):
        base = {
            "name": "季度保养",
            "type": "pm",
            "scope": "asset",
            "asset": "EL-0",
            "trigger": "calendar",
            "every": 1,
            "unit": "month",
            "title": "{plan} {serial} {due}",
        }
        base.update(data)
        return services.do_create_plan(actor=self.world.manager, data=base)


@pytest.fixture
def pm(world) -> PM:
    return PM(world)
