"""Work orders, their types and custom fields, timeline, attachments and links."""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from closeloop.core import requestid

from .lifecycle import ENGINEER_STATES, STATE_LABELS, S
from .mainline import default_stages


class Kind(models.TextChoices):
    REPAIR = "repair", _("Repair / maintenance")
    SERVICE = "service", _("Service")
    AFTER_SALES = "after_sales", _("After-sales")
    PRODUCTION = "production", _("Production")
    PREVENTIVE = "preventive", _("Preventive maintenance")


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}


class WorkOrderType(models.Model):
    key = models.SlugField(_("key"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.REPAIR)
    #: Code prefix, e.g. WD -> WD2026112200001. Upper-case letters, 1-4 characters.
    prefix = models.CharField(_("code prefix"), max_length=4, unique=True)
    description = models.TextField(_("description"), blank=True)
    #: Production types: ordered process steps, e.g. ["开模", "注塑", "保压", "质检"].
    process_steps = models.JSONField(_("process steps"), default=list, blank=True)
    #: The main line: the lifecycle stages the type uses, in order (workorders.mainline).
    stages = models.JSONField(_("main line"), default=default_stages, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class FieldKind(models.TextChoices):
    TEXT = "text", _("Text")
    NUMBER = "number", _("Number")
    CHOICE = "choice", _("Choice")
    DATE = "date", _("Date")
    BOOLEAN = "boolean", _("Yes / no")
    USER = "user", _("User")
    ASSET = "asset", _("Asset")
    #: Evidence taken on the engineer's phone (never typed into the create form or the API's `custom`).
    PHOTO = "photo", _("Photo")
    SIGNATURE = "signature", _("Signature")


#: Kinds whose value is evidence captured on the phone, not a value typed in a form.
EVIDENCE_KINDS = {FieldKind.PHOTO, FieldKind.SIGNATURE}


class CustomField(models.Model):
    """One custom field of a work order type. Forms, API validation and filters all
    follow from these rows (see workorders.fields)."""

    wo_type = models.ForeignKey(WorkOrderType, on_delete=models.CASCADE, related_name="fields")
    key = models.SlugField(_("key"), max_length=40)
    label = models.CharField(_("label"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=FieldKind.choices, default=FieldKind.TEXT)
    required = models.BooleanField(_("required"), default=False)
    choices = models.JSONField(_("choices"), default=list, blank=True)
    min_value = models.DecimalField(_("minimum"), max_digits=18, decimal_places=4, null=True, blank=True)
    max_value = models.DecimalField(_("maximum"), max_digits=18, decimal_places=4, null=True, blank=True)
    max_length = models.PositiveIntegerField(_("maximum length"), null=True, blank=True)
    pattern = models.CharField(_("pattern (regular expression)"), max_length=200, blank=True)
    help_text = models.CharField(_("help text"), max_length=200, blank=True)
    #: Number fields: the unit shown beside the value (°C, MPa, kWh).
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    #: A field removed from a type that work orders already hold values for: no form offers it any more,
    #: its stored values stay readable (its label still names them).
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["wo_type", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["wo_type", "key"], name="uniq_custom_field_key")]

    def __str__(self) -> str:
        return f"{self.wo_type.key}.{self.key}"


class CodeCounter(models.Model):
    """Daily sequence per prefix. Incremented atomically (UPSERT ... RETURNING) in the
    same transaction as the work order insert; see services.next_code."""

    prefix = models.CharField(max_length=4)
    day = models.DateField()
    value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["prefix", "day"], name="uniq_code_counter")]


class WorkOrder(models.Model):
    code = models.CharField(_("code"), max_length=24, unique=True)
    wo_type = models.ForeignKey(WorkOrderType, verbose_name=_("type"), on_delete=models.PROTECT,
                                related_name="work_orders")
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(_("status"), max_length=20, choices=list(STATE_LABELS.items()), default=S.NEW)
    #: Where `resume` returns to from a waiting state.
    resume_to = models.CharField(max_length=20, blank=True)

    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="work_orders")
    site = models.ForeignKey("customers.Site", verbose_name=_("site"), null=True, blank=True,
                             on_delete=models.PROTECT, related_name="work_orders")
    asset = models.ForeignKey("customers.Asset", verbose_name=_("asset"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="work_orders")
    contact = models.ForeignKey("customers.Contact", verbose_name=_("contact"), null=True, blank=True,
                                on_delete=models.PROTECT, related_name="work_orders")
    fault_code = models.CharField(_("fault code"), max_length=40, blank=True)
    team = models.ForeignKey("accounts.Team", verbose_name=_("team"), null=True, blank=True,
                             on_delete=models.PROTECT, related_name="work_orders")
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("assignee"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="assigned_work_orders")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="created_work_orders")
    custom = models.JSONField(_("custom fields"), default=dict, blank=True)
    #: Short normalized labels (services.normalize_tag), at most MAX_TAGS; set with services.do_set_tags.
    #: Filtered by `?tag=` (PostgreSQL: jsonb containment with a GIN index; SQLite: json_each).
    tags = models.JSONField(_("tags"), default=list, blank=True)
    resolution = models.TextField(_("resolution"), blank=True)
    invoice_number = models.CharField(_("invoice number"), max_length=64, blank=True)
    rating = models.PositiveSmallIntegerField(_("rating"), null=True, blank=True)
    #: Tokens for keyword search (core.text.document_tokens); indexed per database.
    search_document = models.TextField(blank=True, default="")
    #: Optimistic concurrency: every write bumps it; ETag is "v<version>".
    version = models.PositiveIntegerField(default=1)

    created_at = models.DateTimeField(_("created"))
    updated_at = models.DateTimeField(_("updated"))
    assigned_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    departed_at = models.DateTimeField(null=True, blank=True)
    arrived_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    invoiced_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        # Lists are keyset-paginated on -id; each filter gets (filter, id).
        indexes = [
            models.Index(fields=["status", "id"], name="wo_status_id"),
            models.Index(fields=["priority", "id"], name="wo_priority_id"),
            models.Index(fields=["wo_type", "id"], name="wo_type_id"),
            models.Index(fields=["team", "status", "id"], name="wo_team_status_id"),
            models.Index(fields=["assignee", "status", "id"], name="wo_assignee_status_id"),
            models.Index(fields=["customer", "id"], name="wo_customer_id"),
            models.Index(fields=["site", "id"], name="wo_site_id"),
            models.Index(fields=["asset", "id"], name="wo_asset_id"),
            models.Index(fields=["created_at"], name="wo_created_at"),
            # repeat detection (fieldwork.repeats): the newest work order of an asset, of a fault code, in
            # the order it asks for (created_at, id), so neither database sorts
            models.Index(fields=["asset", "created_at", "id"], name="wo_asset_created"),
            models.Index(fields=["fault_code", "created_at", "id"], name="wo_fault_created"),
            # each engineer's open work by type (dispatch.facts.open_work) from the index alone: at 1M
            # work orders 97 -> 9 ms on SQLite (it read the table for every open work order). Partial,
            # so that no other query's plan can take it for a status index (SQLite has no statistics
            # for a new index: a plain one was chosen for the done states, 26 ms -> 1.9 s).
            models.Index(fields=["assignee", "wo_type"], name="wo_open_work",
                         condition=models.Q(status__in=ENGINEER_STATES)),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"

    @property
    def etag(self) -> str:
        return f'"v{self.version}"'

    @property
    def status_label(self):
        return STATE_LABELS.get(self.status, self.status)


class TimelineQuerySet(models.QuerySet):
    def update(self, **kwargs):  # pragma: no cover - guard
        raise TypeError("Timeline events are append-only")

    def delete(self):  # pragma: no cover - guard
        raise TypeError("Timeline events are append-only")


class TimelineEvent(models.Model):
    """Append-only. The application never updates or deletes one (save() refuses)."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        TRANSITION = "transition", _("Status change")
        UPDATED = "updated", _("Fields changed")
        COMMENT = "comment", _("Comment")
        ATTACHMENT = "attachment", _("Attachment")
        LINK = "link", _("Link")
        EXTERNAL_REF = "external_ref", _("External reference")
        # Written by other apps (each names its kind in a constant where it writes it).
        SLA = "sla", _("SLA")
        ESCALATION = "escalation", _("Escalation")
        RULE = "rule", _("Rule")
        DISPATCH = "dispatch", _("Dispatch")
        NOTIFICATION = "notification", _("Notification")
        APPROVAL = "approval", _("Approval")
        GATE = "gate", _("Closure gate")
        CHECKIN = "checkin", _("Check-in")
        EVIDENCE = "evidence", _("Evidence")
        SIGNATURE = "signature", _("Signature")
        HANDOFF = "handoff", _("Handoff")
        PORTAL = "portal", _("Customer portal")
        INTEGRATION = "integration", _("Connected system")
        EMAIL = "email", _("Email")

    work_order = models.ForeignKey(WorkOrder, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    action = models.CharField(max_length=20, blank=True)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    data = models.JSONField(default=dict, blank=True)
    #: Visible to the customer's contacts (public comments, status changes).
    public = models.BooleanField(default=False)
    #: The request that caused it (core.requestid; "" for the worker's own timers).
    request_id = models.CharField(max_length=64, blank=True, default=requestid.current)

    objects = TimelineQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["work_order", "id"], name="tl_wo_id")]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("Timeline events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Timeline events are append-only")


def _upload_to(instance, filename):
    # Generated name only: nothing the uploader chose reaches the file system.
    ext = instance.extension or ""
    return f"attachments/{instance.created_at:%Y/%m}/{uuid.uuid4().hex}{ext}"


class Attachment(models.Model):
    work_order = models.ForeignKey(WorkOrder, on_delete=models.PROTECT, related_name="attachments")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT,
                                    related_name="+")
    file = models.FileField(upload_to=_upload_to, max_length=200)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    extension = models.CharField(max_length=10, blank=True)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    public = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]


class ExternalRef(models.Model):
    """An id in another system (CRM opportunity, ERP purchase order...). Unique per system."""

    work_order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="external_refs")
    system = models.SlugField(max_length=40)
    external_id = models.CharField(max_length=100)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["system", "external_id"]
        constraints = [models.UniqueConstraint(fields=["system", "external_id"], name="uniq_external_ref")]


class WorkOrderWatcher(models.Model):
    """Someone who follows a work order: rules can notify "watchers" (notify's `{"watchers": true}`)."""

    work_order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="watchers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watching")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    added_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["work_order", "user"], name="uniq_wo_watcher")]

    def __str__(self) -> str:
        return f"{self.work_order_id}:{self.user_id}"


class LinkKind(models.TextChoices):
    PARENT = "parent", _("Child of")  # source is a child of target
    DUPLICATE = "duplicate", _("Duplicate of")
    RELATED = "related", _("Related to")
    REPEAT = "repeat", _("Repeat of")


class WorkOrderLink(models.Model):
    source = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="links_out")
    target = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="links_in")
    kind = models.CharField(max_length=20, choices=LinkKind.choices)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "target", "kind"], name="uniq_wo_link"),
            models.CheckConstraint(condition=~models.Q(source=models.F("target")), name="wo_link_not_self"),
        ]
