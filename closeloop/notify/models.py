"""Notifications: channels (endpoints admins configure), user preferences, the delivery
log, the in-app inbox, and acknowledge-or-escalate policies and chains."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from closeloop.core import requestid


class Medium(models.TextChoices):
    """How a message reaches a person. Preferences and the notify contract name these."""

    INBOX = "inbox", _("In-app inbox")
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    VOICE = "voice", _("Voice call")
    DINGTALK = "dingtalk", _("DingTalk")
    WECOM = "wecom", _("WeCom")
    FEISHU = "feishu", _("Feishu / Lark")
    WEBHOOK = "webhook", _("Webhook")


class Channel(models.Model):
    """One configured endpoint: an SMTP server, a group robot, an SMS account, a webhook.
    `config` is validated per kind on save (see channels/<kind>/)."""

    kind = models.CharField(_("kind"), max_length=30)
    name = models.CharField(_("name"), max_length=100, unique=True)
    config = models.JSONField(_("configuration"), default=dict, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    #: Group robots and webhooks: event kinds this endpoint receives on its own ("*" = all).
    events = models.JSONField(_("subscribed events"), default=list, blank=True)
    #: Only work orders of this team (blank = every team).
    team = models.ForeignKey("accounts.Team", verbose_name=_("team"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    #: Set after too many consecutive failures; deliveries wait until an admin resumes it.
    paused_at = models.DateTimeField(_("paused at"), null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        from .channels import clean_channel

        clean_channel(self)
        super().save(*args, **kwargs)

    @property
    def medium(self) -> str:
        from .channels import kind_module

        return kind_module(self.kind).MEDIUM

    @property
    def kind_label(self):
        from .channels import kind_module

        return kind_module(self.kind).LABEL


class UserPreference(models.Model):
    """Whether `user` wants event kind `event` ("*" = any) on `medium`."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notify_prefs")
    event = models.CharField(_("event"), max_length=60, default="*")
    medium = models.CharField(_("channel"), max_length=20, choices=Medium.choices)
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "event", "medium"], name="uniq_notify_pref")]


class UserSettings(models.Model):
    """Quiet hours (in the user's time zone): non-urgent messages on external channels
    wait until the end of the quiet period; the inbox is always immediate."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notify_settings")
    quiet_start = models.TimeField(_("quiet hours from"), null=True, blank=True)
    quiet_end = models.TimeField(_("quiet hours until"), null=True, blank=True)
    #: The weekly analytics digest (sent by analytics.digest): None = the role's default (on for
    #: managers, off for administrators), True / False = the person's own choice. Read through
    #: notify.selectors.wants_digest / digest_recipients, the one definition.
    digest = models.BooleanField(_("weekly digest"), null=True, blank=True)


class Status(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    PERMANENT = "permanent", _("Failed permanently")
    SKIPPED = "skipped", _("Skipped")


class Delivery(models.Model):
    """One message to one recipient on one channel (or one direct webhook of another app,
    notify.webhooks). `key` is the outbox key of its delivery row: the stable id every
    attempt carries (X-Closeloop-Delivery)."""

    key = models.CharField(max_length=200, unique=True)
    cause = models.CharField(max_length=200, blank=True)
    event = models.CharField(max_length=60)
    work_order = models.ForeignKey("workorders.WorkOrder", null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="notify_deliveries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+")
    contact = models.ForeignKey("customers.Contact", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="+")
    recipient = models.CharField(max_length=200, blank=True)
    medium = models.CharField(max_length=20, choices=Medium.choices)
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries")
    address = models.CharField(max_length=300, blank=True)
    language = models.CharField(max_length=10, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    markdown = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    provider_id = models.CharField(max_length=200, blank=True)
    #: A direct webhook (notify.webhooks, no channel): {"url", "secret", "body"}; the body is
    #: POSTed as is. Never shown (the secret): the log shows `address`.
    webhook = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()
    scheduled_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()
    #: The request that caused it (core.requestid): the worker fans out under the cause's id.
    request_id = models.CharField(max_length=64, blank=True, default=requestid.current)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["work_order", "id"], name="notify_delivery_wo"),
                   models.Index(fields=["status", "id"], name="notify_delivery_status"),
                   models.Index(fields=["medium", "id"], name="notify_delivery_medium")]

    def __str__(self) -> str:
        return f"{self.medium} → {self.recipient} ({self.status})"

    @property
    def work_order_code(self) -> str:
        return self.work_order.code if self.work_order_id else ""


class InboxItem(models.Model):
    """A message in a user's in-app inbox."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="inbox_items")
    delivery = models.OneToOneField(Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    event = models.CharField(max_length=60)
    subject = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    #: What the message says as a key and parameters (notify.messages): rendered for the reader in
    #: their language. None on rows older than this field: `subject` and `body` are shown as stored.
    context = models.JSONField(null=True, blank=True)
    work_order = models.ForeignKey("workorders.WorkOrder", null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="+")
    #: An acknowledge-or-escalate chain this message asks the user to acknowledge.
    chain = models.ForeignKey("notify.AckChain", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "read_at", "id"], name="notify_inbox_unread")]


class AckPolicy(models.Model):
    """Acknowledge-or-escalate for urgent work outside working hours.

    `steps`: ordered [{"after": minutes since start, "do": "im"|"sms"|"voice"|"backup"|"supervisor"}].
    Matches work orders whose priority is in `priorities` (and team, when set)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    priorities = models.JSONField(_("priorities"), default=list)
    team = models.ForeignKey("accounts.Team", verbose_name=_("team"), null=True, blank=True,
                             on_delete=models.CASCADE, related_name="+")
    #: Working hours (local time, settings.TIME_ZONE) on working days; outside them the policy applies.
    #: A business calendar (sla) when set decides working time instead.
    calendar = models.CharField(_("business calendar"), max_length=60, blank=True)
    work_start = models.TimeField(_("working day starts"), default="08:30")
    work_end = models.TimeField(_("working day ends"), default="18:00")
    weekdays = models.JSONField(_("working weekdays"), default=list)  # 0=Mon..6=Sun; empty = Mon-Fri
    always = models.BooleanField(_("also during working hours"), default=False)
    steps = models.JSONField(_("steps"), default=list)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("acknowledge-or-escalate policy")

    def __str__(self) -> str:
        return self.name


class AckChain(models.Model):
    """One run of a policy for one work order and one person. Each step is a delayed
    outbox row that does nothing once the chain is acknowledged."""

    work_order = models.ForeignKey("workorders.WorkOrder", on_delete=models.CASCADE, related_name="ack_chains")
    policy = models.ForeignKey(AckPolicy, null=True, on_delete=models.SET_NULL, related_name="chains")
    target = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    steps = models.JSONField(default=list)
    #: SHA-256 of the acknowledge-link token (the token itself only travels in messages).
    token_hash = models.CharField(max_length=64, unique=True)
    started_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    acked_at = models.DateTimeField(null=True, blank=True)
    acked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    acked_via = models.CharField(max_length=20, blank=True)
    last_step = models.IntegerField(default=-1)

    class Meta:
        ordering = ["-id"]


class FlaggedAddress(models.Model):
    """An address a provider called invalid: nothing more is sent there until an admin clears it."""

    medium = models.CharField(max_length=20, choices=Medium.choices)
    address = models.CharField(max_length=300)
    reason = models.TextField(blank=True)
    flagged_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["medium", "address"], name="uniq_flagged_address")]
