"""Dispatch part of the demo (a scenario, demo/scenarios.py): skill requirements per
equipment type and a dispatch setting per work order type, for the "呼吸机离线" story
(rules/demo.py prints its line)."""

from django.db import transaction

from closeloop.accounts.models import SkillTag
from closeloop.workorders.models import WorkOrderType

from .models import DispatchSetting, SkillRequirement

ORDER = 20
#: equipment type -> (skill tag, minimum level)
REQUIREMENTS = [("呼吸机", "呼吸机校准", 2), ("麻醉机", "麻醉机泄漏测试", 2), ("监护仪", "监护仪参数模块校准", 1),
                ("输液泵", "输液泵流量校准", 1), ("超声", "超声探头维修", 1)]


def seed() -> None:
    with transaction.atomic():
        tags = {tg.name: tg for tg in SkillTag.objects.all()}
        for category, tag, level in REQUIREMENTS:
            if tag in tags and not SkillRequirement.objects.filter(asset_category=category, tag=tags[tag]).exists():
                SkillRequirement.objects.create(asset_category=category, tag=tags[tag], min_level=level)
        for wtype in WorkOrderType.objects.all():
            DispatchSetting.objects.get_or_create(wo_type=wtype, defaults={
                "estimated_hours": 4 if wtype.kind == "production" else 2})
