"""Event subscriptions (events out), their delivery log, and connected systems (events in).

Secrets (a subscription's signing secret, a connected system's signing secret) are stored
encrypted (`crypto`); a connected system's bearer token is stored hashed. Nothing in these
rows, the outbox or the audit log holds one in clear text.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Subscription(models.Model):
    name = models.CharField(_("name"), max_length=100)
    url = models.CharField(_("endpoint URL"), max_length=500)
    #: Event types (catalogue.TYPES); ["*"] is every type.
    events = models.JSONField(_("events"), default=list)
    #: CEL condition over the event payload (core.conditions); "" = every event.
    condition = models.TextField(_("filter"), blank=True)
    secret_enc = models.TextField()
    #: The previous secret, still signing (beside the new one) until `previous_until`.
    previous_secret_enc = models.TextField(blank=True)
    previous_until = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)
    #: Set when paused automatically after PAUSE_AFTER failures in a row (active is then False).
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.TextField(blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Delivery(models.Model):
    """One event for one subscription: the body is fixed when it is made, the id (`webhook_id`)
    stays the same across retries and redeliveries."""

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("event delivery", "Pending")
        DELIVERED = "delivered", _("Delivered")
        RETRYING = "retrying", _("Retrying")
        FAILED = "failed", _("Failed")
        HELD = "held", _("Held (subscription paused)")

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="deliveries")
    webhook_id = models.CharField(max_length=80, unique=True)
    sequence = models.BigIntegerField()
    event_type = models.CharField(max_length=60)
    work_order_code = models.CharField(max_length=40, blank=True)
    body = models.JSONField(default=dict)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    #: How many times an administrator asked for it again (names the next outbox row).
    redeliveries = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    #: [{"at", "status_code", "error", "ms"}], the last few attempts.
    log = models.JSONField(default=list)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["subscription", "sequence"], name="events_one_per_event")]
        indexes = [models.Index(fields=["subscription", "status"], name="events_delivery_status")]


class ConnectedSystem(models.Model):
    """Another system that posts events to us (finance, CRM, ERP), with its own credentials."""

    class Scope(models.TextChoices):
        FINANCE = "finance", _("Finance: invoice numbers and payments")
        CRM = "crm", _("CRM: create or update requests")
        ERP = "erp", _("ERP: stock and delivery dates")

    key = models.SlugField(_("key"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    scopes = models.JSONField(_("scopes"), default=list)
    token_hash = models.CharField(max_length=64, unique=True)
    token_prefix = models.CharField(max_length=12)
    #: When set, every request must carry a Standard Webhooks signature made with it.
    signing_secret_enc = models.TextField(blank=True)
    #: Who inbound creates and changes are made as (the administrator who connected it).
    acts_as = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    #: Requests the CRM creates get this type (key) unless they name one.
    default_type = models.CharField(max_length=40, blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("Connected system")

    def __str__(self) -> str:
        return self.name


class InboundMessage(models.Model):
    """One message a connected system sent: its id is unique per system (a reused id is a replay)."""

    system = models.ForeignKey(ConnectedSystem, on_delete=models.CASCADE, related_name="messages")
    message_id = models.CharField(max_length=120)
    kind = models.CharField(max_length=30)
    work_order_code = models.CharField(max_length=40, blank=True)
    outcome = models.CharField(max_length=200, blank=True)
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["system", "message_id"], name="events_inbound_once")]
