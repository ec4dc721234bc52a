"""Consolidated purchasing: purchase requests per vendor and period, each carried by a work
order of the `purchase` type (the work order is the ID hub: approvals, timeline, watchers),
its lines, the needs that made them (each need recorded once, ever), batch-age rules and the
settings (period, forecast horizon, the ERP webhook)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

QTY = {"max_digits": 12, "decimal_places": 2}


class Source(models.TextChoices):
    REORDER = "reorder", _("Reorder points")
    FORECAST = "forecast", _("Maintenance forecast")
    AGE = "age", _("Batch age")


class ErpStatus(models.TextChoices):
    NOT_SENT = "not_sent", _("Not sent")
    SENT = "sent", _("Sent to the ERP")
    ORDERED = "ordered", _("Ordered (PO number)")


class PurchaseRequest(models.Model):
    work_order = models.OneToOneField("workorders.WorkOrder", on_delete=models.PROTECT, related_name="purchase")
    vendor = models.CharField(_("vendor"), max_length=200)
    #: "2026-12" (month) or "2026-W50" (ISO week).
    period = models.CharField(_("period"), max_length=10)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    #: vendor × period × source: one request, however often consolidation runs.
    key = models.CharField(max_length=260, unique=True)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, default=0)
    erp_status = models.CharField(_("ERP"), max_length=10, choices=ErpStatus.choices, default=ErpStatus.NOT_SENT)
    po_number = models.CharField(_("purchase order number"), max_length=64, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    ordered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.work_order.code} {self.vendor} {self.period}"


class PurchaseLine(models.Model):
    request = models.ForeignKey(PurchaseRequest, on_delete=models.CASCADE, related_name="lines")
    part = models.ForeignKey("parts.Part", on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(_("quantity"), **QTY)
    unit_price = models.DecimalField(_("price"), max_digits=12, decimal_places=2)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    #: Why: e.g. ["asset ENC-0003 (6.2 years)", "plan 4 on 2027-01-10"].
    reasons = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["request", "part"], name="purchasing_line_uniq")]


class Need(models.Model):
    """One need turned into a request line, once ever: "age:<rule>:<asset>",
    "plan:<plan>:<asset>:<due>:<part>", "reorder:<part>:<location>:<period>"."""

    key = models.CharField(max_length=200, unique=True)
    request = models.ForeignKey(PurchaseRequest, on_delete=models.CASCADE, related_name="needs")
    part = models.ForeignKey("parts.Part", on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(**QTY)
    created_at = models.DateTimeField()


class BatchAgeRule(models.Model):
    """Assets of `batch` (or of `asset_model`, any batch) older than `years` need
    `quantity` of `part` each: e.g. encoders of batch B-2019 past 5 years → 1 encoder each."""

    name = models.CharField(_("name"), max_length=100)
    batch = models.CharField(_("batch"), max_length=100, blank=True)
    asset_model = models.CharField(_("model"), max_length=100, blank=True)
    years = models.PositiveSmallIntegerField(_("older than (years)"))
    part = models.ForeignKey("parts.Part", on_delete=models.PROTECT, related_name="+", verbose_name=_("part"))
    quantity = models.DecimalField(_("quantity per asset"), default=1, **QTY)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Settings(models.Model):
    """One row (pk 1)."""

    period = models.CharField(_("period"), max_length=6, choices=[("month", _("Month")), ("week", _("Week"))],
                              default="month")
    forecast_weeks = models.PositiveSmallIntegerField(_("forecast horizon (weeks)"), default=8)
    #: Who requests (the worker's consolidation); else the first active manager, then administrator.
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+", verbose_name=_("requester"))
    erp_url = models.URLField(_("ERP webhook URL"), max_length=300, blank=True)
    erp_secret = models.CharField(_("ERP webhook secret"), max_length=200, blank=True)
    auto_consolidate = models.BooleanField(_("consolidate automatically (worker)"), default=False)
    #: The worker's last consolidation (claimed by compare-and-set: one worker an hour).
    last_run_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)
