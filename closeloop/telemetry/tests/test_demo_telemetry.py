"""The telemetry demo scenario on the demo company: meters, readings and alarms through the
ingestion service, conditions that match some ventilators, and nothing twice."""

import pytest

from closeloop.demo.services import load_demo
from closeloop.telemetry import demo, selectors
from closeloop.telemetry.models import AlarmEvent, Condition, Gateway, Reading


@pytest.fixture
def company(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    assert load_demo(scale=0.05).loaded


def test_the_scenario(company):
    line = demo.seed()
    assert "clg_" in line
    assert Gateway.objects.count() == 1 and Reading.objects.count() > 500 and AlarmEvent.objects.exists()
    from closeloop.core.clock import now

    for c in Condition.objects.all():
        assert 0 < len(selectors.assets_matching(c, at=now())) < 40, c.name
    assert demo.seed() is None
