"""Email through an SMTP server (Django's SMTP backend, our connection per channel).

The Message-ID is derived from the delivery id, so a resent message is the same message; for a
work order it carries the code (core.mailids), the subject names the code, and Reply-To is the
channel's reply address (an inbound mailbox, docs/email.md), so a customer's reply threads back."""

import smtplib
import socket
import warnings

from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.smtp import EmailBackend
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from closeloop.core import mailids
from closeloop.core.errors import FieldProblem

from ..base import Permanent, Retryable, done, require, resolve_checked

KIND = "email"
MEDIUM = "email"
LABEL = gettext_lazy("Email (SMTP)")
FIELDS = [("host", gettext_lazy("SMTP host"), True, False), ("port", gettext_lazy("port"), False, False),
          ("username", gettext_lazy("user name"), False, False), ("password", gettext_lazy("password"), False, True),
          ("security", gettext_lazy("security (none, starttls, ssl)"), False, False),
          ("from_email", gettext_lazy("from address"), True, False),
          ("reply_to", gettext_lazy("reply-to address (an inbound mailbox)"), False, False)]


def validate(config: dict) -> dict:
    problems: list = []
    clean = require(config, FIELDS, problems)
    try:
        clean["port"] = int(clean.get("port") or 25)
        if not 0 < clean["port"] < 65536:
            raise ValueError
    except (TypeError, ValueError):
        problems.append(FieldProblem("config.port", _("A port number from 1 to 65535."), "invalid"))
    clean["security"] = clean.get("security") or "none"
    if clean["security"] not in ("none", "starttls", "ssl"):
        problems.append(FieldProblem("config.security", _("One of none, starttls, ssl."), "invalid"))
    if clean.get("from_email") and "@" not in clean["from_email"]:
        problems.append(FieldProblem("config.from_email", _("An email address."), "invalid"))
    if clean.get("reply_to") and "@" not in clean["reply_to"]:
        problems.append(FieldProblem("config.reply_to", _("An email address."), "invalid"))
    return done(problems, clean)


class _GuardedSMTP(smtplib.SMTP):
    """Connects to the address it checked, at connect time (no DNS rebinding in between);
    STARTTLS still verifies the certificate against the host name."""

    def _get_socket(self, host, port, timeout):
        return super()._get_socket(resolve_checked(host, port), port, timeout)


class _GuardedSMTPSSL(smtplib.SMTP_SSL):
    def _get_socket(self, host, port, timeout):
        sock = socket.create_connection((resolve_checked(host, port), port), timeout, self.source_address)
        return self.context.wrap_socket(sock, server_hostname=self._host)


class _GuardedBackend(EmailBackend):
    @property
    def connection_class(self):
        return _GuardedSMTPSSL if self.use_ssl else _GuardedSMTP


def _backend(c: dict) -> EmailBackend:
    return _GuardedBackend(host=c["host"], port=c["port"], username=c.get("username") or "",
                        password=c.get("password") or "", use_tls=c.get("security") == "starttls",
                        use_ssl=c.get("security") == "ssl", timeout=10, fail_silently=False)


def send(channel, msg) -> str:
    c = channel.config
    if not msg.address or "@" not in msg.address:
        raise Permanent(_("No email address."), address=True)
    with warnings.catch_warnings():
        # Django 6.1 prefers settings-configured mailers; a channel is configured at run time.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        conn = _backend(c)
    code = msg.work_order.code if getattr(msg, "work_order_id", None) else None
    mid = mailids.make(msg.key, code)
    subject = msg.subject
    if code and code not in subject:
        subject = f"[{code}] {subject}"
    # Auto-Submitted keeps well-behaved auto-responders from answering; X-Loop lets our own
    # inbound mailbox recognise its own mail coming back.
    headers = {"Message-ID": mid, "X-Closeloop-Delivery": msg.key, "Auto-Submitted": "auto-generated",
               "X-Loop": mailids.LOOP_HEADER_VALUE}
    email = EmailMultiAlternatives(subject=subject, body=msg.body + ("\n\n" + msg.url if msg.url else ""),
                                   from_email=c["from_email"], to=[msg.address], headers=headers,
                                   reply_to=[c["reply_to"]] if c.get("reply_to") else None,
                                   connection=conn)
    try:
        email.send()
    except smtplib.SMTPRecipientsRefused as e:
        codes = [v[0] for v in e.recipients.values()]
        if codes and all(400 <= code < 500 for code in codes):
            raise Retryable(_("Recipient deferred: %(e)s") % {"e": e.recipients}) from e
        raise Permanent(_("Address refused: %(e)s") % {"e": e.recipients}, address=True) from e
    except smtplib.SMTPAuthenticationError as e:
        raise Permanent(_("SMTP login refused: %(e)s") % {"e": e.smtp_error[:200]}) from e
    except smtplib.SMTPResponseException as e:
        if 400 <= e.smtp_code < 500:
            raise Retryable(f"SMTP {e.smtp_code}: {e.smtp_error[:200]!r}") from e
        raise Permanent(f"SMTP {e.smtp_code}: {e.smtp_error[:200]!r}") from e
    except (TimeoutError, smtplib.SMTPException, OSError) as e:
        raise Retryable(_("SMTP error: %(e)s") % {"e": str(e) or type(e).__name__}) from e
    return mid
