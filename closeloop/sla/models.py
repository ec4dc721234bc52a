"""SLA policies, business calendars, the per-work-order ledger and escalation firings.

Timers are deadline columns with indexes (DESIGN.md §4): `SLATarget.next_check_at`
is the only thing the worker polls (sla.worker.handle_one_sla_check), through a
partial index, so its work per tick is proportional to what is due.
"""

from datetime import date

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .calendars import CalendarSpec


class Milestone(models.TextChoices):
    RESPONSE = "response", _("First response")
    ARRIVAL = "arrival", _("Arrival on site")
    RESOLUTION = "resolution", _("Technical resolution")
    CLOSURE = "closure", _("Closure")


MILESTONES = list(Milestone.values)


class BusinessCalendar(models.Model):
    class Kind(models.TextChoices):
        HOURS = "hours", _("Working hours")
        CHINA = "china", _("Mainland China (statutory holidays, adjusted working days)")
        ALWAYS = "always", _("24x7")

    key = models.SlugField(_("key"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.HOURS)
    tz = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    #: {"0": [["09:00", "18:00"]], ...} weekday 0 = Monday.
    week = models.JSONField(_("working hours"), default=dict, blank=True)
    holidays = models.JSONField(_("holidays"), default=list, blank=True)
    workdays = models.JSONField(_("extra working days"), default=list, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def spec(self) -> CalendarSpec:
        return CalendarSpec(
            tz=self.tz,
            week={int(k): tuple(tuple(span) for span in v) for k, v in (self.week or {}).items()},
            holidays=frozenset(date.fromisoformat(d) for d in self.holidays or []),
            workdays=frozenset(date.fromisoformat(d) for d in self.workdays or []),
            china=self.kind == self.Kind.CHINA,
            always=self.kind == self.Kind.ALWAYS,
        )


class SLAPolicy(models.Model):
    """Selected by `condition` (CEL over `wo`, see sla.policies.cel_context); the first
    active match by `order` applies. Every edit bumps `version`."""

    key = models.SlugField(_("key"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    order = models.IntegerField(_("order"), default=100)
    active = models.BooleanField(_("active"), default=True)
    condition = models.TextField(_("condition (CEL)"), blank=True)
    calendar = models.ForeignKey(BusinessCalendar, verbose_name=_("calendar"), on_delete=models.PROTECT,
                                 related_name="policies")
    #: Actions that count as the first response. Never "accept" (services refuse it).
    response_actions = models.JSONField(_("actions that count as first response"),
                                        default=list, blank=True)
    #: milestone -> seconds of business time, e.g. {"response": 900, "resolution": 14400}.
    targets = models.JSONField(_("targets"), default=dict)
    #: [{"level": 1, "pct": 75} | {"level": 2, "after": 0}, "actions": [...], "milestones": [...]}]
    ladder = models.JSONField(_("escalation ladder"), default=list, blank=True)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name


class TargetState(models.TextChoices):
    ON_TRACK = "on_track", _("On track")
    WARNING = "warning", _("Warning")
    BREACHED = "breached", _("Breached")
    MET = "met", _("Met")
    PAUSED = "paused", _("Paused")
    STOPPED = "stopped", _("Stopped")


class SLATarget(models.Model):
    """One target of one work order: the ledger row. Recomputed from the timeline
    (sla.ledger) on every create / transition / update and on policy change."""

    work_order = models.ForeignKey("workorders.WorkOrder", on_delete=models.CASCADE, related_name="sla_targets")
    milestone = models.CharField(max_length=20, choices=Milestone.choices)
    policy = models.ForeignKey(SLAPolicy, on_delete=models.PROTECT, related_name="+")
    policy_version = models.PositiveIntegerField()
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.PROTECT, related_name="+")
    target_seconds = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    #: Null while the clock is paused (no deadline until it runs again) or after it is met.
    due_at = models.DateTimeField(null=True, blank=True)
    met_at = models.DateTimeField(null=True, blank=True)
    elapsed_seconds = models.FloatField(default=0)
    paused_seconds = models.FloatField(default=0)
    paused_intervals = models.JSONField(default=list, blank=True)
    state = models.CharField(max_length=10, choices=TargetState.choices, default=TargetState.ON_TRACK)
    breached = models.BooleanField(default=False)
    computed_at = models.DateTimeField()
    #: The worker's timer: the next moment something may happen (warning, breach, a
    #: ladder level). Null when nothing will. Also the claim lease (sla.worker).
    next_check_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["work_order", "id"]
        constraints = [models.UniqueConstraint(fields=["work_order", "milestone"], name="uniq_sla_target")]
        indexes = [
            models.Index(fields=["next_check_at"], name="sla_next_check",
                         condition=Q(next_check_at__isnull=False)),
            models.Index(fields=["due_at"], name="sla_due", condition=Q(met_at__isnull=True)),
            models.Index(fields=["breached", "work_order"], name="sla_breached_wo"),
        ]


class Escalation(models.Model):
    """One ladder level fired for one work order. The unique constraint is what makes
    a level fire at most once per work order + policy version, whatever the workers do."""

    work_order = models.ForeignKey("workorders.WorkOrder", on_delete=models.CASCADE, related_name="escalations")
    policy = models.ForeignKey(SLAPolicy, on_delete=models.PROTECT, related_name="+")
    policy_version = models.PositiveIntegerField()
    milestone = models.CharField(max_length=20, choices=Milestone.choices)
    level = models.PositiveSmallIntegerField()
    #: When the level was due, and when the worker fired it (bench/sla.py measures the gap).
    due_at = models.DateTimeField()
    fired_at = models.DateTimeField()
    actions = models.JSONField(default=list)
    worker = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["work_order", "policy", "policy_version", "milestone", "level"],
                                               name="uniq_escalation_level")]
