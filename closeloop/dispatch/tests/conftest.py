from datetime import timedelta

import pytest
import time_machine
from django.utils import translation

from closeloop.accounts.models import EngineerSkill, SkillTag
from closeloop.core.clock import now
from closeloop.dispatch.models import SkillRequirement
from closeloop.roster.models import Shift


@pytest.fixture(autouse=True)
def _english():
    """Explanations are asserted in English here (the default language is zh-Hans)."""
    with translation.override("en"):
        yield


T0 = "2026-11-23T02:00:00Z"  # a Monday, 10:00 in Shanghai


@pytest.fixture
def crew(world):
    """eng_x near site-a (Shanghai), eng_x2 far (Hangzhou), eng_y with no location; all on shift."""
    with time_machine.travel(T0, tick=False):
        vent = SkillTag.objects.create(name="呼吸机")
        world.asset_a.category = "呼吸机"
        world.asset_a.save()
        SkillRequirement.objects.create(asset_category="呼吸机", tag=vent, min_level=2)
        for u, lat, lng, level in ((world.eng_x, 31.21, 121.41, 3), (world.eng_x2, 30.27, 120.15, 4),
                                   (world.eng_y, None, None, 2)):
            u.home_latitude, u.home_longitude = lat, lng
            u.save()
            EngineerSkill.objects.create(user=u, tag=vent, level=level)
            Shift.objects.create(user=u, starts_at=now() - timedelta(hours=2), ends_at=now() + timedelta(hours=6))
        yield world
