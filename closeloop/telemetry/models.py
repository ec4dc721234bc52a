"""Meters and alarms from devices: gateways (who may post), meters per asset (what a
reading means), readings and alarm events (idempotent on asset + kind + time), and
conditions (CEL over per-asset aggregates, docs/telemetry.md)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from closeloop.customers.models import Asset, Customer


class GatewayScope(models.TextChoices):
    INGEST = "ingest", _("readings and alarms")
    READINGS = "readings", _("readings only")
    ALARMS = "alarms", _("alarms only")


class Gateway(models.Model):
    """A device or a gateway in front of devices, posting with its own bearer token (shown
    once, stored as its SHA-256). With a customer, it may post only for that customer's assets."""

    name = models.CharField(_("name"), max_length=100)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="gateways", verbose_name=_("customer"))
    scope = models.CharField(_("scope"), max_length=20, choices=GatewayScope.choices, default=GatewayScope.INGEST)
    prefix = models.CharField(max_length=12)
    token_hash = models.CharField(max_length=64, unique=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def allows(self, item_type: str) -> bool:
        return self.scope == GatewayScope.INGEST or self.scope == {"reading": "readings", "alarm": "alarms"}.get(
            item_type)


class MeterMode(models.TextChoices):
    CUMULATIVE = "cumulative", _("cumulative (counter)")
    GAUGE = "gauge", _("gauge (instant value)")


class Meter(models.Model):
    """What readings of one kind on one asset mean: the unit they must come in and whether
    they count up (running hours, cycles) or measure a state (temperature)."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="meters", db_index=False)
    kind = models.SlugField(_("kind"), max_length=40, help_text=_("e.g. running_hours, cycles, temperature"))
    unit = models.CharField(_("unit"), max_length=20)
    mode = models.CharField(_("mode"), max_length=12, choices=MeterMode.choices, default=MeterMode.GAUGE)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["asset_id", "kind"]
        constraints = [models.UniqueConstraint(fields=["asset", "kind"], name="telemetry_meter_asset_kind")]

    def __str__(self) -> str:
        return f"{self.kind} ({self.unit})"


class Reading(models.Model):
    """One meter value. Written only by services.ingest (INSERT … ON CONFLICT DO NOTHING)."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=40)
    at = models.DateTimeField()
    value = models.FloatField()
    gateway = models.ForeignKey(Gateway, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                db_index=False)
    received_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["asset", "kind", "at"], name="telemetry_reading_once")]
        indexes = [models.Index(fields=["kind", "at"], name="telemetry_reading_kind_at")]


class Severity(models.TextChoices):
    INFO = "info", _("info")
    WARNING = "warning", _("warning")
    CRITICAL = "critical", _("critical")


class AlarmEvent(models.Model):
    """One alarm a device raised (door_delay, overheat …). Written only by services.ingest."""

    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="+", db_index=False)
    kind = models.CharField(max_length=40)
    at = models.DateTimeField()
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    payload = models.JSONField(default=dict, blank=True)
    gateway = models.ForeignKey(Gateway, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                db_index=False)
    received_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["asset", "kind", "at"], name="telemetry_alarm_once")]
        indexes = [models.Index(fields=["kind", "at"], name="telemetry_alarm_kind_at")]


class Condition(models.Model):
    """A named CEL expression over one asset's telemetry aggregates and fields, e.g.
    `alarms.door_delay.count_30d > 5` (variables: docs/telemetry.md)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    expression = models.TextField(_("condition"), max_length=2000)
    description = models.CharField(_("description"), max_length=300, blank=True)
    builder = models.JSONField(default=dict, blank=True)  # what the builder last wrote, to reopen it
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
