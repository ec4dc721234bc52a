"""Preferences through the console form and the API; quiet hours validated."""

import pytest
from django.test import Client

from closeloop.notify.models import UserPreference, UserSettings
from closeloop.notify.services import media_for_user

pytestmark = pytest.mark.django_db


def test_console_form_saves_preferences_and_quiet_hours(world):
    c = Client()
    c.force_login(world.eng_x)
    r = c.post("/notifications/preferences", {"p:*:inbox": "on", "p:*:sms": "on", "p:sla.escalation:voice": "on",
                                              "quiet_start": "22:00", "quiet_end": "07:00"})
    assert r.status_code == 302
    # Each row of the form is saved as shown: unchecked is off (the inbox always stays on).
    assert media_for_user(world.eng_x, "approval.requested", None, False) == ["inbox"]
    assert media_for_user(world.eng_x, "sla.escalation", None, False) == ["inbox", "voice"]
    assert media_for_user(world.eng_x, "some.other.event", None, False) == ["inbox", "sms"]  # the * row
    s = UserSettings.objects.get(user=world.eng_x)
    assert (s.quiet_start.hour, s.quiet_end.hour) == (22, 7)
    c.post("/notifications/preferences", {"quiet_start": "22:00"})  # one end only: refused, nothing changes
    assert UserSettings.objects.get(user=world.eng_x).quiet_end is not None


def test_api_put_validates(world):
    api = world.api(world.eng_x, ["read", "write"])
    r = api.put("/api/v1/notifications/preferences", {"preferences": [{"medium": "fax"}]})
    assert r.status_code == 422 and "preferences[0].medium" in r.content.decode()
    r = api.put("/api/v1/notifications/preferences", {"quiet_start": "25:00", "quiet_end": "07:00"})
    assert r.status_code == 422 and "quiet_start" in r.content.decode()
    r = api.put("/api/v1/notifications/preferences", {"preferences": [{"event": "sla.escalation", "medium": "sms"}],
                                                      "quiet_start": "23:00", "quiet_end": "06:30"})
    assert r.status_code == 200 and r.json()["quiet_end"] == "06:30"
    assert UserPreference.objects.filter(user=world.eng_x, event="sla.escalation", medium="sms").exists()
    r = api.put("/api/v1/notifications/preferences", {"bogus": 1})
    assert r.status_code == 422
