"""Field work and closure gates: per-type gate policies, closure forms, photos,
signatures (bound to the signed content), check-ins, process steps and parts used."""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

#: What people see for the photo kinds the demo and most policies use; any other kind a policy
#: names (a slug) is shown with its underscores as spaces.
PHOTO_KIND_LABELS = {
    "nameplate": pgettext_lazy("photo kind", "Nameplate"),
    "before": pgettext_lazy("photo kind", "Before the work"),
    "after": pgettext_lazy("photo kind", "After the work"),
    "other": pgettext_lazy("photo kind", "Other"),
    "first_article": pgettext_lazy("photo kind", "First article"),
    "fault": pgettext_lazy("photo kind", "Fault"),
    "site": pgettext_lazy("photo kind", "Site"),
    "serial": pgettext_lazy("photo kind", "Serial number"),
}


def photo_kind_label(kind: str) -> str:
    label = PHOTO_KIND_LABELS.get(kind)
    return str(label) if label is not None else (kind or "").replace("_", " ")


class GateKind(models.TextChoices):
    TECHNICAL = "technical", _("Technical")
    DELIVERY = "delivery", _("Customer signature")
    FINANCIAL = "financial", _("Invoice number")


class ClosurePolicy(models.Model):
    """The closure gates of one work order type. A type without a policy has no
    gates beyond the lifecycle itself."""

    wo_type = models.OneToOneField("workorders.WorkOrderType", on_delete=models.CASCADE,
                                   related_name="closure_policy")
    #: Technical gate: photo kinds that must be present, e.g. ["nameplate", "after"].
    required_photos = models.JSONField(_("required photo kinds"), default=list, blank=True)
    #: Technical gate: closure form fields, each {"key", "label", "kind": number|text|boolean,
    #: "unit", "min", "max", "required"}.
    form_fields = models.JSONField(_("closure form fields"), default=list, blank=True)
    #: Checklist / process steps the engineer records (pass / fail / n.a.); all must be recorded.
    checklist = models.JSONField(_("checklist"), default=list, blank=True)
    require_signature = models.BooleanField(_("customer signature required"), default=True)
    require_invoice = models.BooleanField(_("invoice number required"), default=True)
    #: Close automatically once the invoice is posted and every gate passes.
    auto_close = models.BooleanField(_("close automatically when all gates pass"), default=True)
    #: Check-in farther than this from the site's location is flagged for review.
    checkin_radius_m = models.PositiveIntegerField(_("check-in radius (m)"), default=500)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"gates:{self.wo_type_id}"

    @property
    def technical_required(self) -> bool:
        return bool(self.required_photos or self.form_fields or self.checklist)


class ClosureForm(models.Model):
    work_order = models.OneToOneField("workorders.WorkOrder", on_delete=models.CASCADE, related_name="closure_form")
    data = models.JSONField(default=dict)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField()


def _photo_path(instance, filename):
    return f"photos/{instance.created_at:%Y/%m}/{uuid.uuid4().hex}.jpg"


class Photo(models.Model):
    """A photo re-encoded and watermarked on the server. `claimed` keeps what the
    uploader's EXIF said (time, GPS, device): a claim, never proof."""

    work_order = models.ForeignKey("workorders.WorkOrder", on_delete=models.PROTECT, related_name="photos")
    kind = models.SlugField(_("kind"), max_length=40, default="other")
    file = models.FileField(upload_to=_photo_path, max_length=200)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    original_sha256 = models.CharField(max_length=64)
    claimed = models.JSONField(default=dict, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    flags = models.JSONField(default=list, blank=True)
    #: A flagged item stays on the timeline; a reviewer marks it reviewed (who, when, note).
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["work_order", "kind"], name="fw_photo_wo_kind")]

    @property
    def kind_label(self) -> str:
        return photo_kind_label(self.kind)


class Signature(models.Model):
    """A customer's signature over one version of one work order's content."""

    work_order = models.ForeignKey("workorders.WorkOrder", on_delete=models.PROTECT, related_name="signatures")
    signer_name = models.CharField(_("signer"), max_length=100)
    image_png = models.BinaryField()
    image_sha256 = models.CharField(max_length=64, unique=True)
    #: The work order version that was shown to the signer.
    version = models.PositiveIntegerField()
    #: sha256 over the signed content (code, title, resolution, customer/site/asset, form, parts).
    content_hash = models.CharField(max_length=64)
    content = models.JSONField(default=dict)
    via = models.CharField(max_length=10, default="device")  # device | link | portal
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]


class SignatureLink(models.Model):
    """A one-time link sent to a contact to sign remotely. Only the token's hash is stored."""

    work_order = models.ForeignKey("workorders.WorkOrder", on_delete=models.CASCADE, related_name="signature_links")
    token_hash = models.CharField(max_length=64, unique=True)
    contact = models.ForeignKey("customers.Contact", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)


class CheckIn(models.Model):
    work_order = models.ForeignKey("workorders.WorkOrder", on_delete=models.PROTECT, related_name="checkins")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()  # server time
    device_time = models.DateTimeField(null=True, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    accuracy_m = models.FloatField(null=True, blank=True)
    scanned = models.CharField(max_length=150, blank=True)  # "site:<code>" / "asset:<serial>"
    distance_m = models.FloatField(null=True, blank=True)
    flags = models.JSONField(default=list, blank=True)
    #: A flagged item stays on the timeline; a reviewer marks it reviewed (who, when, note).
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]


class StepResult(models.Model):
    class Result(models.TextChoices):
        PASS = "pass", _("Pass")
        FAIL = "fail", _("Fail")
        NA = "na", _("Not applicable")

    work_order = models.ForeignKey("workorders.WorkOrder", on_delete=models.CASCADE, related_name="step_results")
    index = models.PositiveSmallIntegerField()
    label = models.CharField(max_length=200)
    result = models.CharField(max_length=10, choices=Result.choices)
    note = models.CharField(max_length=2000, blank=True)
    followup = models.ForeignKey("workorders.WorkOrder", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["index"]
        constraints = [models.UniqueConstraint(fields=["work_order", "index"], name="fw_uniq_step")]


class PartUsed(models.Model):
    work_order = models.ForeignKey("workorders.WorkOrder", on_delete=models.CASCADE, related_name="parts_used")
    part_number = models.CharField(_("part number"), max_length=60, blank=True)
    name = models.CharField(_("part"), max_length=200)
    quantity = models.DecimalField(_("quantity"), max_digits=10, decimal_places=2)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    #: The catalogue part, when part_number names one; then `movement` is the issue that drew it
    #: from the engineer's van (none: the engineer has no van on record).
    part = models.ForeignKey("parts.Part", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    movement = models.OneToOneField("parts.Movement", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="part_used")
    #: The phone's operation id (Idempotency-Key): a replay records and draws nothing again.
    op_key = models.CharField(max_length=200, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["id"]
