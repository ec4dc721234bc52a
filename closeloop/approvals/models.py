"""Approval flows (versioned trees), the requests that run them, bypass justifications,
and handoffs between departments.

A flow is per work order type (or every type) and per action key: a lifecycle action
("close", "invoice", ...) that the flow then guards, or a free key such as
"purchase_part" that people request explicitly. Its published versions are immutable
JSON trees (see approvals.tree); the designer edits `draft` and publishes a new
version. A request is pinned to the version it started with and keeps the path it
resolved at start (`plan`): publishing never changes a running request.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ApprovalFlow(models.Model):
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    #: None: the flow applies to every type (a type-specific flow wins).
    wo_type = models.ForeignKey("workorders.WorkOrderType", verbose_name=_("type"), null=True, blank=True,
                                on_delete=models.CASCADE, related_name="approval_flows")
    action = models.SlugField(_("action"), max_length=40)
    active = models.BooleanField(_("active"), default=True)
    #: The designer's working copy; publishing copies it into a new FlowVersion.
    draft = models.JSONField(default=dict, blank=True)
    current_version = models.ForeignKey("FlowVersion", null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["action", "name"]
        constraints = [
            models.UniqueConstraint(fields=["wo_type", "action"], condition=Q(wo_type__isnull=False),
                                    name="uniq_flow_type_action"),
            models.UniqueConstraint(fields=["action"], condition=Q(wo_type__isnull=True), name="uniq_flow_any_action"),
        ]

    def __str__(self) -> str:
        return self.name


class FlowVersion(models.Model):
    """A published, immutable tree."""

    flow = models.ForeignKey(ApprovalFlow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    tree = models.JSONField()
    note = models.CharField(max_length=200, blank=True)
    published_at = models.DateTimeField()
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")

    class Meta:
        ordering = ["flow", "number"]
        constraints = [models.UniqueConstraint(fields=["flow", "number"], name="uniq_flow_version")]

    def __str__(self) -> str:
        return f"{self.flow.name} v{self.number}"


class RequestStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", pgettext_lazy("approval withdrawn", "Cancelled")


class ApprovalRequest(models.Model):
    work_order = models.ForeignKey("workorders.WorkOrder", on_delete=models.CASCADE, related_name="approvals")
    flow = models.ForeignKey(ApprovalFlow, on_delete=models.PROTECT, related_name="requests")
    version = models.ForeignKey(FlowVersion, on_delete=models.PROTECT, related_name="requests")
    action = models.SlugField(max_length=40)
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=12, choices=RequestStatus.choices, default=RequestStatus.PENDING)
    #: What is being approved: amount, impact, safety, part, ... (the branch conditions see it).
    data = models.JSONField(default=dict, blank=True)
    note = models.CharField(max_length=2000, blank=True)
    #: The path resolved at start (condition branches chosen, approvers named).
    plan = models.JSONField(default=list)
    auto_rule = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    #: A guarded lifecycle action used this approval (one approval, one action).
    consumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["work_order", "action", "status"], name="apr_wo_action_status"),
                   models.Index(fields=["version", "status"], name="apr_version_status")]

    @property
    def duration_seconds(self) -> float | None:
        if self.decided_at is None:
            return None
        return (self.decided_at - self.created_at).total_seconds()


class StepStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    BYPASSED = "bypassed", _("Bypassed (emergency)")
    AUTO = "auto", _("Approved automatically")
    CANCELLED = "cancelled", pgettext_lazy("approval withdrawn", "Cancelled")
    DONE = "done", pgettext_lazy("carbon copy sent", "Copied")


class ApprovalStep(models.Model):
    """One approver (or CC) node of a request's plan, once the request reaches it."""

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="steps")
    key = models.CharField(max_length=60)  # node id, plus "#level" for supervisor chains
    node_id = models.CharField(max_length=40)
    name = models.CharField(max_length=100, blank=True)
    kind = models.CharField(max_length=10, default="approver")  # approver | cc
    mode = models.CharField(max_length=10, default="any")  # any | all | percent
    percent = models.PositiveSmallIntegerField(default=100)
    status = models.CharField(max_length=12, choices=StepStatus.choices, default=StepStatus.PENDING)
    activated_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    timer_action = models.CharField(max_length=10, blank=True)
    bypassed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    bypass_reason = models.CharField(max_length=2000, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["request", "key"], name="uniq_step_key")]


class StepApprover(models.Model):
    """A person asked to decide a step, and their decision."""

    step = models.ForeignKey(ApprovalStep, on_delete=models.CASCADE, related_name="approvers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="approval_tasks")
    reason = models.CharField(max_length=12, default="assigned")  # assigned | escalated | fallback
    decision = models.CharField(max_length=10, blank=True)  # "" | approve | reject
    comment = models.CharField(max_length=2000, blank=True)
    added_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    #: Open in the inbox: the step waits and this person has not decided.
    open = models.BooleanField(default=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["step", "user"], name="uniq_step_approver")]
        indexes = [models.Index(fields=["user", "open", "added_at"], name="apr_inbox_at")]


class Justification(models.Model):
    """After an emergency bypass: the bypasser explains, before `due_at`, or their
    supervisor hears about it."""

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("handoff not filed yet", "Open")
        FILED = "filed", _("Filed")
        ESCALATED = "escalated", _("Overdue (escalated)")

    step = models.OneToOneField(ApprovalStep, on_delete=models.CASCADE, related_name="justification")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="justifications")
    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=2000)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    text = models.TextField(blank=True)
    filed_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "status"], name="apr_just_user_status")]


class HandoffRequirement(models.Model):
    """Fields a transition must carry when it passes work to another department."""

    action = models.SlugField(_("action"), max_length=40)
    wo_type = models.ForeignKey("workorders.WorkOrderType", verbose_name=_("type"), null=True, blank=True,
                                on_delete=models.CASCADE, related_name="+")
    to_team = models.ForeignKey("accounts.Team", verbose_name=_("receiving department"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    #: Field keys: customer, site, asset, contact, fault_code, description, resolution, invoice_number,
    #: asset.serial_number, custom.<key>.
    fields = models.JSONField(_("fields"), default=list)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["action", "id"]


class Handoff(models.Model):
    """One handoff that happened (a guarded transition passed), and its rating."""

    work_order = models.ForeignKey("workorders.WorkOrder", on_delete=models.CASCADE, related_name="handoffs")
    requirement = models.ForeignKey(HandoffRequirement, null=True, on_delete=models.SET_NULL, related_name="handoffs")
    action = models.SlugField(max_length=40)
    from_team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    to_team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    values = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    comment = models.CharField(max_length=2000, blank=True)
    rated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    rated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["from_team", "rated_at"], name="handoff_from_rated")]
