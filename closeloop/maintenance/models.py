"""Maintenance plans and the occurrences they generated (docs/maintenance.md)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Scope(models.TextChoices):
    ASSET = "asset", _("One asset")
    MODEL = "model", _("Every asset of a model")
    BATCH = "batch", _("Every asset of a batch")


class Trigger(models.TextChoices):
    CALENDAR = "calendar", _("Calendar")
    METER = "meter", _("Meter (running hours, cycles)")
    CONDITION = "condition", _("Condition (alarms, readings)")
    AGE = "age", _("Age")


class Unit(models.TextChoices):
    DAY = "day", _("days")
    WEEK = "week", _("weeks")
    MONTH = "month", _("months")


class Anchor(models.TextChoices):
    FIXED = "fixed", _("Fixed calendar")
    COMPLETION = "completion", _("From the last completion")


class OnOpen(models.TextChoices):
    SKIP = "skip", _("Skip the occurrence")
    MERGE = "merge", _("Add a note to the open work order")


class AgeBasis(models.TextChoices):
    INSTALL = "install", _("The asset's install date")
    BATCH = "batch", _("The batch's oldest install date")


class Plan(models.Model):
    name = models.CharField(_("name"), max_length=100)
    enabled = models.BooleanField(_("enabled"), default=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Generated work orders are created in this user's name."),
    )
    # what it covers
    scope = models.CharField(_("applies to"), max_length=10, choices=Scope.choices, default=Scope.ASSET)
    asset = models.ForeignKey(
        "customers.Asset",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("asset"),
    )
    asset_model = models.CharField(_("model"), max_length=100, blank=True)
    batch = models.CharField(_("batch"), max_length=100, blank=True)
    # when
    trigger = models.CharField(_("trigger"), max_length=10, choices=Trigger.choices, default=Trigger.CALENDAR)
    every = models.PositiveIntegerField(_("every"), null=True, blank=True)
    unit = models.CharField(_("unit"), max_length=10, choices=Unit.choices, blank=True)
    rrule = models.CharField(
        _("recurrence rule"),
        max_length=300,
        blank=True,
        help_text=_("RFC 5545, e.g. FREQ=MONTHLY;BYMONTHDAY=1 (instead of every/unit)."),
    )
    anchor = models.CharField(_("count from"), max_length=12, choices=Anchor.choices, default=Anchor.FIXED)
    start_date = models.DateField(_("starts on"), null=True, blank=True)
    calendar_key = models.CharField(
        _("business calendar"),
        max_length=40,
        blank=True,
        help_text=_("A due date on a non-working day moves to the next working day."),
    )
    lead_days = models.PositiveIntegerField(_("lead time (days)"), default=0)
    meter_kind = models.CharField(_("meter"), max_length=60, blank=True)
    meter_every = models.FloatField(_("every (meter units)"), null=True, blank=True)
    condition_id = models.PositiveIntegerField(_("telemetry condition"), null=True, blank=True)
    alarm_kind = models.CharField(_("alarm"), max_length=60, blank=True)
    alarm_count = models.PositiveIntegerField(_("alarms"), null=True, blank=True)
    window_days = models.PositiveIntegerField(_("within (days)"), default=30)
    age_years = models.PositiveIntegerField(_("age (years)"), null=True, blank=True)
    age_basis = models.CharField(
        _("age of"), max_length=10, choices=AgeBasis.choices, default=AgeBasis.INSTALL
    )
    # what it generates
    wo_type = models.ForeignKey(
        "workorders.WorkOrderType",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("work order type"),
    )
    title_template = models.CharField(
        _("title"),
        max_length=200,
        help_text=_("{plan}, {asset}, {serial}, {model}, {batch}, {due} are filled in."),
    )
    checklist = models.JSONField(_("checklist"), default=list, blank=True)
    custom = models.JSONField(_("custom fields"), default=dict, blank=True)  # the type's field values
    parts = models.JSONField(_("parts"), default=list, blank=True)  # [{"part_id": 1, "quantity": 2}]
    priority = models.CharField(_("priority"), max_length=10, default="normal")
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("team"),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("assignee"),
    )
    on_open = models.CharField(
        _("when one is still open"), max_length=10, choices=OnOpen.choices, default=OnOpen.SKIP
    )
    # worker state
    next_check_at = models.DateTimeField(null=True, blank=True, db_index=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def priority_label(self) -> str:
        from closeloop.workorders.models import Priority

        return Priority(self.priority).label if self.priority in Priority.values else self.priority


class Occurrence(models.Model):
    """One occurrence of a plan on one asset, recorded in the transaction that acted on it."""

    class Outcome(models.TextChoices):
        CREATED = "created", _("Work order created")
        SKIPPED = "skipped", _("Skipped (one still open)")
        MERGED = "merged", _("Noted on the open work order")

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="occurrences")
    asset = models.ForeignKey("customers.Asset", on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=40)
    due = models.DateField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    work_order = models.ForeignKey(
        "workorders.WorkOrder", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reserved = models.BooleanField(default=False)  # the parts were reserved through the parts app
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "asset", "key"], name="maintenance_occurrence_once")
        ]
        indexes = [models.Index(fields=["asset", "plan"])]
