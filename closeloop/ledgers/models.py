"""Import batches of Excel/CSV ledgers (台账), their staged rows, saved column mappings and
the external ids that rows were matched on.

A batch goes uploaded → mapping → validating → preview → committing → committed
(→ rolling_back → rolled_back). Staged rows live in the database, not in memory: the
worker validates and commits them in chunks (ledgers.services.handle_one_ledger_step).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Kind(models.TextChoices):
    CUSTOMER = "customer", _("Customers")
    SITE = "site", pgettext_lazy("ledger", "Sites")
    CONTACT = "contact", _("Contacts")
    ASSET = "asset", _("Assets")
    PERSON = "person", _("People")
    WORK_ORDER = "work_order", _("Historical work orders")


class Status(models.TextChoices):
    MAPPING = "mapping", _("Map columns")
    VALIDATING = "validating", _("Validating")
    PREVIEW = "preview", _("Ready to confirm")
    COMMITTING = "committing", _("Importing")
    COMMITTED = "committed", _("Imported")
    ROLLING_BACK = "rolling_back", _("Rolling back")
    ROLLED_BACK = "rolled_back", _("Rolled back")
    FAILED = "failed", _("Failed")
    DISCARDED = "discarded", _("Discarded")


#: Statuses the worker works on (ledgers.services.handle_one_ledger_step).
WORKING = (Status.VALIDATING, Status.COMMITTING, Status.ROLLING_BACK)


class ImportBatch(models.Model):
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.MAPPING)
    filename = models.CharField(_("file name"), max_length=255)
    #: The uploaded file, kept until the batch is committed or discarded (bounded by
    #: LEDGERS_MAX_UPLOAD_BYTES); the worker re-reads it as a stream when validating.
    content = models.BinaryField(default=b"")
    sheet = models.CharField(_("sheet"), max_length=100, blank=True)
    header_row = models.PositiveIntegerField(default=1)
    headers = models.JSONField(default=list)
    #: field -> column index (0-based) into headers.
    mapping = models.JSONField(default=dict)
    notes = models.JSONField(default=list)  # warnings about the file (merged header cells...)
    total_rows = models.PositiveIntegerField(default=0)
    done_rows = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict)  # create / update / unchanged / error
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField()
    committed_at = models.DateTimeField(null=True, blank=True)
    rolled_back_at = models.DateTimeField(null=True, blank=True)
    #: Lease of the worker step working on it (compare-and-set, several workers safe).
    claimed_until = models.DateTimeField(null=True, blank=True)
    #: Where the worker's current phase has got to (last staged row id done).
    cursor = models.BigIntegerField(default=0)
    phase = models.CharField(max_length=20, blank=True)  # staging | checking, within validating

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "claimed_until"], name="ledgers_batch_work")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.filename}"

    @property
    def working(self) -> bool:
        return self.status in WORKING

    @property
    def percent(self) -> int:
        return int(100 * self.done_rows / self.total_rows) if self.total_rows else 0


class Action(models.TextChoices):
    CREATE = "create", _("Create")
    UPDATE = "update", _("Update")
    UNCHANGED = "unchanged", _("Unchanged")
    ERROR = "error", _("Error")


class StagedRow(models.Model):
    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="rows")
    row_number = models.PositiveIntegerField()  # as the spreadsheet numbers it
    values = models.JSONField(default=list)  # the cells, cleaned to text
    key = models.CharField(max_length=200, blank=True)  # the code the row is matched on
    action = models.CharField(max_length=10, choices=Action.choices, blank=True)
    errors = models.JSONField(default=list)  # [{"column": "...", "message": "..."}]
    object_id = models.BigIntegerField(null=True, blank=True)
    before = models.JSONField(null=True, blank=True)  # values an update replaced
    after = models.JSONField(null=True, blank=True)  # values the import wrote
    applied = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["batch", "key"], name="ledgers_row_key"),
                   models.Index(fields=["batch", "action"], name="ledgers_row_action")]


class MappingPreset(models.Model):
    """The column mapping last used for a kind: field -> header text."""

    kind = models.CharField(max_length=20, choices=Kind.choices, unique=True)
    mapping = models.JSONField(default=dict)
    updated_at = models.DateTimeField()


class ExternalRef(models.Model):
    """An id from the customer's own system (ERP, old ledger) that an imported row carried;
    a later import matches on it when the code changed."""

    kind = models.CharField(max_length=20, choices=Kind.choices)
    external_id = models.CharField(max_length=100)
    object_id = models.BigIntegerField()
    batch = models.ForeignKey(ImportBatch, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "external_id"], name="uniq_ledgers_external_id")]
