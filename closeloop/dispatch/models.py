"""Engineer profiles, skill requirements and dispatch settings: what dispatch scores over.

Skills themselves (SkillTag, EngineerSkill with levels) live in accounts; shifts, on-call
duty and leave in roster.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class EngineerProfile(models.Model):
    """Dispatch facts about an engineer: their working day and where they were last seen."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dispatch_profile")
    day_hours = models.DecimalField(_("hours per day"), max_digits=4, decimal_places=1, default=8)
    latitude = models.DecimalField(_("current latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("current longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    located_at = models.DateTimeField(null=True, blank=True)


class SkillRequirement(models.Model):
    """Work matching all the non-blank selectors (type, asset category or model, fault
    code prefix) needs `tag` at `min_level` or above."""

    wo_type = models.ForeignKey("workorders.WorkOrderType", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="+")
    asset_category = models.CharField(_("equipment type"), max_length=100, blank=True)
    asset_model = models.CharField(_("model"), max_length=100, blank=True)
    fault_code_prefix = models.CharField(_("fault code prefix"), max_length=40, blank=True)
    tag = models.ForeignKey("accounts.SkillTag", on_delete=models.CASCADE, related_name="+")
    min_level = models.PositiveSmallIntegerField(_("minimum level"), default=1)

    class Meta:
        ordering = ["id"]


class Mode(models.TextChoices):
    SUGGEST = "suggest", _("Suggest the top N")
    AUTO = "auto", _("Assign the best automatically")
    ROUND_ROBIN = "round_robin", _("Round robin within the team")


class DispatchSetting(models.Model):
    """Mode and estimate per work order type or per team (a team's setting wins)."""

    wo_type = models.OneToOneField("workorders.WorkOrderType", null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="+")
    team = models.OneToOneField("accounts.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    mode = models.CharField(_("mode"), max_length=20, choices=Mode.choices, default=Mode.SUGGEST)
    estimated_hours = models.DecimalField(_("estimated hours"), max_digits=4, decimal_places=1, default=2)
    top_n = models.PositiveSmallIntegerField(_("suggestions shown"), default=5)
