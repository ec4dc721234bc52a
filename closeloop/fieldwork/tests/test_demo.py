"""The field work demo scenario on a freshly loaded demo company."""

from closeloop.demo import scenarios
from closeloop.demo.services import load_demo
from closeloop.fieldwork import gates
from closeloop.fieldwork.models import ClosurePolicy
from closeloop.workorders.lifecycle import S
from closeloop.workorders.models import WorkOrder


def test_demo_scenario(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    assert load_demo(scale=0.02).loaded
    assert "fieldwork" in [s.label for s in scenarios.discover()]
    from closeloop.fieldwork.demo import seed

    line = seed()
    assert "/m/" in line and "CL:S:" in line
    assert set(ClosurePolicy.objects.values_list("wo_type__key", flat=True)) == {"repair", "installation",
                                                                                 "production"}
    wo = WorkOrder.objects.filter(assignee__username="engineer", status=S.ASSIGNED).order_by("-id").first()
    assert wo is not None and wo.code in line and wo.site.latitude is not None and wo.contact_id
    assert [g.gate for g in gates.evaluate(wo)] == ["technical", "delivery", "financial"]
