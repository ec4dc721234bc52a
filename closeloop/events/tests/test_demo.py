import pytest

from closeloop.events import demo
from closeloop.events.models import ConnectedSystem
from closeloop.workorders.models import TimelineEvent

pytestmark = pytest.mark.django_db


def test_the_demo_connects_a_crm_and_an_erp_and_their_messages_land_on_the_timeline(world):
    line = demo.seed()
    assert "OPP-2026-0042" in line
    assert set(ConnectedSystem.objects.values_list("key", flat=True)) == {"crm", "erp"}
    kinds = list(TimelineEvent.objects.filter(kind="integration").values_list("data__type", flat=True))
    assert kinds == ["request.upsert", "purchase.updated"]
    assert demo.seed() is None  # once
