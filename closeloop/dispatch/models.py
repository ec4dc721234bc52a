"""Rosters, skill requirements and dispatch settings: what dispatch scores over.

Skills themselves (SkillTag, EngineerSkill with levels) live in accounts.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Shift(models.Model):
    """A period an engineer works (`shift`) or can be called (`on_call`)."""

    class Kind(models.TextChoices):
        SHIFT = "shift", _("On shift")
        ON_CALL = "on_call", _("On call")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shifts")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.SHIFT)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["starts_at", "ends_at"], name="shift_window"),
                   models.Index(fields=["user", "starts_at"], name="shift_user_start")]


class Leave(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="leaves")
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    reason = models.CharField(_("reason"), max_length=100, blank=True)

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["starts_at", "ends_at"], name="leave_window")]


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
