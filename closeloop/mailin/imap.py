"""Polling an IMAP mailbox: log in, take the unseen mail of the folder, hand each message to
`services.do_receive_message`, then mark it seen. A message is marked seen only after it was
recorded, so a worker killed in between polls it again and the Message-ID makes it one event.
Nothing here runs inside a transaction (each message is its own)."""

import imaplib
import logging
import ssl

from django.utils.translation import gettext as _

from . import secrets, services
from .models import Mailbox, Security

log = logging.getLogger("closeloop.mailin")
BATCH = 50
TIMEOUT = 20


def _connect(mb: Mailbox) -> imaplib.IMAP4:
    port = mb.port or (993 if mb.security == Security.SSL else 143)
    if mb.security == Security.SSL:
        return imaplib.IMAP4_SSL(mb.host, port, ssl_context=ssl.create_default_context(), timeout=TIMEOUT)
    conn = imaplib.IMAP4(mb.host, port, timeout=TIMEOUT)
    if mb.security == Security.STARTTLS:
        conn.starttls(ssl_context=ssl.create_default_context())
    return conn


def _text(e: Exception) -> str:
    if isinstance(e, OSError) and not isinstance(e, imaplib.IMAP4.error):
        return e.strerror or str(e) or type(e).__name__
    arg = e.args[0] if e.args else ""
    if isinstance(arg, bytes):
        arg = arg.decode("utf-8", "replace")
    return str(arg or type(e).__name__)


def poll(mb: Mailbox) -> tuple[int, str | None]:
    """(messages taken, error or None); the outcome is also recorded on the mailbox."""
    password = secrets.decrypt(mb.password_encrypted)
    if password is None:
        err = _("The stored password cannot be read (the key changed): enter it again.")
        services.record_poll(mb, err)
        return 0, err
    taken = 0
    try:
        conn = _connect(mb)
    except (OSError, ssl.SSLError, imaplib.IMAP4.error) as e:
        err = _("Cannot connect to %(h)s:%(p)s: %(e)s") % {"h": mb.host, "p": mb.port, "e": _text(e)}
        services.record_poll(mb, err)
        log.warning("mailin: %s: %s", mb.name, err)
        return 0, err
    try:
        try:
            conn.login(mb.username, password)
        except imaplib.IMAP4.error as e:
            err = _("Login refused: %(e)s") % {"e": _text(e)}
            services.record_poll(mb, err)
            log.warning("mailin: %s: %s", mb.name, err)
            return 0, err
        typ, data = conn.select(_quote(mb.folder))
        if typ != "OK":
            err = _("No folder %(f)s: %(e)s") % {"f": mb.folder, "e": (data[0] or b"").decode("utf-8", "replace")}
            services.record_poll(mb, err)
            return 0, err
        typ, data = conn.uid("SEARCH", None, "UNSEEN")
        uids = (data[0] or b"").split() if typ == "OK" else []
        for uid in uids[:BATCH]:
            typ, parts = conn.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((p[1] for p in parts or [] if isinstance(p, tuple) and len(p) > 1), None)
            if typ != "OK" or raw is None:
                continue
            try:
                services.do_receive_message(raw, mb)
            except Exception:
                log.exception("mailin: %s: message uid %s could not be taken; it stays unseen", mb.name, uid)
                continue
            conn.uid("STORE", uid, "+FLAGS", "(\\Seen)")
            taken += 1
        services.record_poll(mb, None)
        return taken, None
    except (TimeoutError, OSError, imaplib.IMAP4.error) as e:
        err = _("Mailbox error: %(e)s") % {"e": _text(e)}
        services.record_poll(mb, err)
        log.warning("mailin: %s: %s", mb.name, err)
        return taken, err
    finally:
        try:
            conn.logout()
        except Exception:  # the connection may already be gone
            pass


def _quote(folder: str) -> str:
    folder = folder or "INBOX"
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def step(worker_id: str) -> bool:
    for mb in services.claim_due_mailboxes():
        poll(mb)
    return False


def next_at():
    from django.db.models import Min

    from closeloop.core.clock import now

    from .models import Kind

    qs = Mailbox.objects.filter(kind=Kind.IMAP, active=True)
    if qs.filter(next_poll_at__isnull=True).exists():
        return now()
    return qs.aggregate(m=Min("next_poll_at"))["m"]
