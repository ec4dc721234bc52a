"""Mailboxes that receive requests by email, and every message they received (docs/email.md)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    IMAP = "imap", _("IMAP mailbox (polled)")
    SMTP = "smtp", _("Inbound SMTP address")


class Security(models.TextChoices):
    SSL = "ssl", _("TLS")
    STARTTLS = "starttls", _("STARTTLS")
    NONE = "none", _("None (plain text)")


class Mailbox(models.Model):
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.IMAP)
    #: The address customers write to: the inbound SMTP address, or the IMAP mailbox's own
    #: address (also the Reply-To our email channel may name).
    address = models.EmailField(_("address"), unique=True)
    wo_type = models.ForeignKey("workorders.WorkOrderType", verbose_name=_("work order type"),
                                on_delete=models.PROTECT, related_name="+")
    team = models.ForeignKey("accounts.Team", verbose_name=_("team"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    host = models.CharField(_("IMAP host"), max_length=200, blank=True)
    port = models.PositiveIntegerField(_("port"), null=True, blank=True)
    security = models.CharField(_("security"), max_length=10, choices=Security.choices, default=Security.SSL)
    username = models.CharField(_("user name"), max_length=200, blank=True)
    #: Fernet token (mailin.secrets), never the clear password.
    password_encrypted = models.TextField(blank=True)
    folder = models.CharField(_("folder"), max_length=200, default="INBOX")
    poll_seconds = models.PositiveIntegerField(_("poll every (seconds)"), default=60)
    active = models.BooleanField(_("active"), default=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_ok_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Outcome(models.TextChoices):
    CREATED = "created", _("Opened a work order")
    THREADED = "threaded", _("Added to a work order")
    HELD = "held", _("Held for a dispatcher")
    ACCEPTED = "accepted", _("Accepted by a dispatcher")
    DISCARDED = "discarded", _("Discarded")
    IGNORED = "ignored", _("Ignored")


class InboundMessage(models.Model):
    """One received mail, once (unique on its Message-ID, or on its bytes when it has none)."""

    mailbox = models.ForeignKey(Mailbox, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    message_key = models.CharField(max_length=64, unique=True)
    message_id = models.CharField(max_length=300, blank=True)
    sender = models.CharField(_("from"), max_length=254, blank=True, db_index=True)
    sender_name = models.CharField(max_length=200, blank=True)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices)
    #: Why: auto_reply, loop, rate_limited, unknown_sender, invalid, ...
    reason = models.CharField(max_length=30, blank=True)
    detail = models.TextField(blank=True)
    work_order = models.ForeignKey("workorders.WorkOrder", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    refused = models.JSONField(default=list, blank=True)
    #: Kept while held, so accepting it later has the body and attachments.
    raw = models.BinaryField(null=True, blank=True)
    received_at = models.DateTimeField()
    decided_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["outcome", "received_at"], name="mailin_outcome_at"),
                   models.Index(fields=["sender", "received_at"], name="mailin_sender_at")]

    def __str__(self) -> str:
        return self.subject or self.message_id

    @property
    def reason_label(self) -> str:
        return str(REASONS.get(self.reason, self.reason))


REASONS = {
    "unknown_sender": _("unknown sender"), "invalid": _("the type cannot be filed from mail"),
    "auto_reply": _("automatic reply"), "loop": _("mail loop"), "rate_limited": _("too many from this sender"),
    "subject": _("by the code in the subject"), "headers": _("by the reply headers"),
}
