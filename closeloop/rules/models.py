"""Rules (智能条件): a trigger, a CEL condition and ordered actions; keyword libraries
that conditions use (`wo.keywords.<library>`)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class KeywordLibrary(models.Model):
    """A named list of words, e.g. urgent = 监护仪黑屏, 呼吸机离线, 停机 …; a condition
    reads `wo.keywords.urgent` (true when any word occurs in the title, description or
    fault code; Chinese is matched as substrings of normalized text)."""

    name = models.CharField(_("name"), max_length=40, unique=True)
    label = models.CharField(_("label"), max_length=100, blank=True)
    words = models.JSONField(_("words"), default=list)
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Trigger(models.TextChoices):
    CREATED = "created", _("Work order created")
    UPDATED = "updated", _("Work order updated")
    FIELD_CHANGED = "field_changed", _("A field changed")
    STATUS_CHANGED = "status_changed", _("Status changed")
    COMMENT_ADDED = "comment_added", _("Comment added")
    SLA_WARNING = "sla_warning", _("SLA warning")
    SLA_BREACH = "sla_breach", _("SLA breached")
    SCHEDULE = "schedule", _("On a schedule")


class Rule(models.Model):
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    trigger = models.CharField(_("trigger"), max_length=20, choices=Trigger.choices, default=Trigger.CREATED)
    #: For field_changed: which field (priority, title, custom.shift, …).
    trigger_field = models.CharField(_("field"), max_length=60, blank=True)
    condition = models.TextField(_("condition (CEL)"), blank=True)
    #: Ordered: [{"type": "set_priority", "priority": "urgent"}, {"type": "notify", ...}, ...]
    actions = models.JSONField(_("actions"), default=list)
    order = models.IntegerField(_("order"), default=100)
    enabled = models.BooleanField(_("enabled"), default=True)
    stop_after = models.BooleanField(_("stop after this rule"), default=False)
    scope_type = models.ForeignKey("workorders.WorkOrderType", verbose_name=_("only for type"), null=True,
                                   blank=True, on_delete=models.CASCADE, related_name="+")
    scope_team = models.ForeignKey("accounts.Team", verbose_name=_("only for team"), null=True, blank=True,
                                   on_delete=models.CASCADE, related_name="+")
    #: The rule acts as its owner and sees only what its owner may see.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    #: For the schedule trigger: every this many minutes (5..10080) over the open work orders in scope.
    schedule_minutes = models.PositiveIntegerField(_("every (minutes)"), null=True, blank=True)
    #: The worker's timer (None: not scheduled); a claim moves it a lease ahead (compare-and-set).
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True)
    #: A run capped at SCHEDULE_BATCH work orders goes on from here (id) in the same period.
    schedule_cursor = models.BigIntegerField(default=0)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["order", "id"]
        indexes = [models.Index(fields=["trigger", "enabled", "order"], name="rule_trigger_order"),
                   models.Index(fields=["next_run_at"], name="rule_next_run")]

    def __str__(self) -> str:
        return self.name


class ScheduleFiring(models.Model):
    """A scheduled rule fired on a work order in one period (floor(time / period)): the unique
    row makes it at most once per work order, rule and period, whatever workers race."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="+")
    work_order = models.ForeignKey("workorders.WorkOrder", on_delete=models.CASCADE, related_name="+")
    period = models.BigIntegerField()
    fired_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "work_order", "period"], name="uniq_rule_firing")]
