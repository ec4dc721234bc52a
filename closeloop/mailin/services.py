"""Every write of the mail intake (docs/email.md).

`do_receive_message(raw, mailbox)` is the one way a mail comes in (the IMAP poller and the
inbound SMTP server both call it). In order: a Message-ID seen before is the same mail (nothing
new happens); automatic mail (auto-replies, bounces, bulk) and mail loops (our own Message-ID,
our X-Loop, one of our own mailbox addresses as sender, more than the per-sender rate) are
recorded as ignored with a log line; a reply threads onto its work order (an In-Reply-To or
References naming a Message-ID we sent, or the work order's code in the subject from someone
who belongs to it); a mail from a known contact opens a work order of the mailbox's type and
team; anything else is held for a dispatcher, who accepts it (a work order, and the sender
becomes a contact of the chosen customer) or discards it.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role, Team, User
from closeloop.audit.services import record_change
from closeloop.core import mailids
from closeloop.core.clock import now
from closeloop.core.errors import Conflict, FieldProblem, Forbidden, ValidationFailed
from closeloop.customers.models import Contact, Customer
from closeloop.workorders import services as wo_services
from closeloop.workorders import timeline
from closeloop.workorders.attachments import do_add_attachment
from closeloop.workorders.models import WorkOrder, WorkOrderType

from . import parsing, secrets
from .models import InboundMessage, Kind, Mailbox, Outcome, Security

log = logging.getLogger("closeloop.mailin")

EVENT_KIND = "email"  # the timeline event of a received mail
INTAKE_USERNAME = "mail-intake"
MAILBOX_FIELDS = {"name", "kind", "address", "type", "team", "host", "port", "security", "username", "password",
                  "folder", "poll_seconds", "active"}
DECIDERS = (Role.ADMIN, Role.MANAGER, Role.DISPATCHER)


def may_manage_mailboxes(user) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or user.role == Role.ADMIN))


def may_decide(user) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or user.role in DECIDERS))


def rate_per_hour() -> int:
    return int(getattr(settings, "CLOSELOOP_MAIL_RATE_PER_HOUR", 20))


# ---- mailboxes -------------------------------------------------------------------------------------

def _snapshot(mb: Mailbox) -> dict:
    return {"name": mb.name, "kind": mb.kind, "address": mb.address, "type": mb.wo_type.key if mb.wo_type_id else None,
            "team": mb.team.code if mb.team_id else None, "host": mb.host, "port": mb.port,
            "security": mb.security, "username": mb.username, "password": "(set)" if mb.password_encrypted else "",
            "folder": mb.folder, "poll_seconds": mb.poll_seconds, "active": mb.active}


def _clean_mailbox(data: dict, current: Mailbox | None) -> dict:
    problems: list[FieldProblem] = [FieldProblem(k, _("Unknown field."), "unknown")
                                    for k in sorted(set(data) - MAILBOX_FIELDS)]
    out: dict = {}

    def text(name, max_len, required=False):
        v = data.get(name, getattr(current, name, "") if current else "")
        if v is None:
            v = ""
        if not isinstance(v, str):
            problems.append(FieldProblem(name, _("Must be text.")))
            return ""
        v = v.strip()
        if required and not v:
            problems.append(FieldProblem(name, _("This field is required."), "required"))
        elif len(v) > max_len:
            problems.append(FieldProblem(name, _("At most %(n)d characters.") % {"n": max_len}))
        return v

    out["name"] = text("name", 100, required=True)
    kind = data.get("kind", current.kind if current else Kind.IMAP)
    if kind not in Kind.values:
        problems.append(FieldProblem("kind", _("One of: %(c)s.") % {"c": ", ".join(Kind.values)}))
        kind = Kind.IMAP
    out["kind"] = kind
    address = text("address", 254, required=True).lower()
    if address and ("@" not in address or " " in address or address.startswith("@") or address.endswith("@")):
        problems.append(FieldProblem("address", _("An email address.")))
    elif address and Mailbox.objects.filter(address=address).exclude(pk=getattr(current, "pk", None)).exists():
        problems.append(FieldProblem("address", _("Another mailbox has this address."), "unique"))
    out["address"] = address
    if "type" in data or current is None:
        key = data.get("type")
        wt = WorkOrderType.objects.filter(key=key, active=True).first() if isinstance(key, str) and key else None
        if not key:
            problems.append(FieldProblem("type", _("This field is required."), "required"))
        elif wt is None:
            problems.append(FieldProblem("type", _("No active work order type %(k)s.") % {"k": key}, "not_found"))
        out["wo_type"] = wt
    if "team" in data:
        code = data.get("team")
        team = Team.objects.filter(code=code).first() if isinstance(code, str) and code else None
        if code and team is None:
            problems.append(FieldProblem("team", _("No team %(c)s.") % {"c": code}, "not_found"))
        out["team"] = team
    security = data.get("security", current.security if current else Security.SSL) or Security.SSL
    if security not in Security.values:
        problems.append(FieldProblem("security", _("One of: %(c)s.") % {"c": ", ".join(Security.values)}))
        security = Security.SSL
    out["security"] = security
    imap = kind == Kind.IMAP
    out["host"] = text("host", 200, required=imap)
    out["username"] = text("username", 200, required=imap)
    out["folder"] = text("folder", 200) or "INBOX"
    port = data.get("port", current.port if current else None)
    if port in (None, ""):
        port = (993 if security == Security.SSL else 143) if imap else None
    elif isinstance(port, bool) or not str(port).strip().isdigit() or not 0 < int(port) < 65536:
        problems.append(FieldProblem("port", _("A port number from 1 to 65535.")))
        port = None
    out["port"] = int(port) if port is not None else None
    poll = data.get("poll_seconds", current.poll_seconds if current else 60)
    if isinstance(poll, bool) or not str(poll).strip().isdigit() or not 15 <= int(poll) <= 86400:
        problems.append(FieldProblem("poll_seconds", _("From 15 to 86400 seconds.")))
        poll = 60
    out["poll_seconds"] = int(poll)
    active = data.get("active", current.active if current else True)
    if not isinstance(active, bool):
        problems.append(FieldProblem("active", _("Must be true or false.")))
        active = True
    out["active"] = active
    password = data.get("password")
    if password is not None and not isinstance(password, str):
        problems.append(FieldProblem("password", _("Must be text.")))
        password = None
    if password:
        if len(password) > 500:
            problems.append(FieldProblem("password", _("At most %(n)d characters.") % {"n": 500}))
        out["password_encrypted"] = secrets.encrypt(password)
    elif imap and not (current and current.password_encrypted):
        problems.append(FieldProblem("password", _("This field is required."), "required"))
    if problems:
        raise ValidationFailed(problems)
    return out


def do_create_mailbox(*, actor: User, data: dict) -> Mailbox:
    if not may_manage_mailboxes(actor):
        raise Forbidden(_("Only administrators configure mailboxes."))
    clean = _clean_mailbox(data, None)
    with transaction.atomic():
        t = now()
        mb = Mailbox.objects.create(**clean, created_at=t, updated_at=t, next_poll_at=t)
        record_change(actor=actor, kind="mailbox", obj=mb, before=None, after=_snapshot(mb))
    return mb


def do_update_mailbox(*, actor: User, mailbox: Mailbox, data: dict) -> Mailbox:
    if not may_manage_mailboxes(actor):
        raise Forbidden(_("Only administrators configure mailboxes."))
    clean = _clean_mailbox(data, mailbox)
    with transaction.atomic():
        mb = Mailbox.objects.select_for_update().get(pk=mailbox.pk)
        before = _snapshot(mb)
        for k, v in clean.items():
            setattr(mb, k, v)
        mb.updated_at = now()
        mb.next_poll_at = mb.updated_at  # try the new settings at once
        mb.save()
        record_change(actor=actor, kind="mailbox", obj=mb, before=before, after=_snapshot(mb))
    return mb


def do_delete_mailbox(*, actor: User, mailbox: Mailbox) -> None:
    if not may_manage_mailboxes(actor):
        raise Forbidden(_("Only administrators configure mailboxes."))
    with transaction.atomic():
        before = _snapshot(mailbox)
        pk, label = mailbox.pk, str(mailbox)
        mailbox.delete()
        record_change(actor=actor, kind="mailbox", obj=None, obj_id=pk, label=label, before=before, after=None)


# ---- receiving ------------------------------------------------------------------------------------------

def intake_user() -> User:
    """Who opens work orders from mail: a dispatcher-role account nobody can log in as."""
    user = User.objects.filter(username=INTAKE_USERNAME).first()
    if user is None:
        user = User(username=INTAKE_USERNAME, role=Role.DISPATCHER, is_active=False,
                    display_name=_("Email intake")[:100])
        user.set_unusable_password()
        user.save()
    return user


def own_addresses() -> set[str]:
    return set(Mailbox.objects.values_list("address", flat=True))


def _staff_with(address: str) -> User | None:
    if not address:
        return None
    return (User.objects.filter(email__iexact=address, is_active=True).exclude(role=Role.CUSTOMER)
            .order_by("id").first())


def _may_reply(wo: WorkOrder, address: str) -> bool:
    """Whether a mail naming this work order's code in its subject may thread onto it."""
    if not address:
        return False
    if wo.customer_id and Contact.objects.filter(customer_id=wo.customer_id, email__iexact=address).exists():
        return True
    if wo.customer_id and User.objects.filter(customer_id=wo.customer_id, email__iexact=address,
                                              is_active=True).exists():
        return True
    return _staff_with(address) is not None


def _thread_target(p: parsing.Parsed) -> tuple[WorkOrder | None, str]:
    for ref in p.references:
        code = mailids.work_order_code(ref)
        if code:
            wo = WorkOrder.objects.filter(code=code).first()
            if wo is not None:
                return wo, "headers"
    code = parsing.code_in_subject(p.subject)
    if code:
        wo = WorkOrder.objects.filter(code=code).first()
        if wo is not None and _may_reply(wo, p.sender):
            return wo, "subject"
    return None, ""


def _attach(wo: WorkOrder, p: parsing.Parsed, actor: User, public: bool) -> tuple[list[str], list[dict]]:
    """Each attachment through the same checks as the phone's uploads (size, type from the bytes)."""
    kept, refused = [], []
    for i, (name, data) in enumerate(p.attachments):
        if i >= parsing.MAX_ATTACHMENTS:
            refused.append({"name": name, "reason": _("At most %(n)d attachments per mail.")
                            % {"n": parsing.MAX_ATTACHMENTS}})
            continue
        try:
            do_add_attachment(actor=actor, wo=wo, public=public, upload=SimpleUploadedFile(name, data))
            kept.append(name)
        except ValidationFailed as e:
            refused.append({"name": name, "reason": "; ".join(str(pr.message) for pr in e.problems)})
    return kept, refused


def _event_data(p: parsing.Parsed, mailbox: Mailbox | None, body: str, **extra) -> dict:
    return {"from": p.sender, "name": p.sender_name, "subject": p.subject, "body": body[:10000],
            "message_id": p.message_id, "mailbox": mailbox.name if mailbox else "", **extra}


def _open_work_order(*, actor: User, p: parsing.Parsed, mailbox: Mailbox, contact: Contact,
                     wo_type: WorkOrderType | None = None) -> tuple[WorkOrder, list[dict]]:
    wo_type = wo_type or mailbox.wo_type
    data = {"type": wo_type.key, "title": p.subject or _("Email from %(who)s") % {"who": p.sender},
            "description": p.text[:wo_services.DESCRIPTION_MAX], "customer": contact.customer.code,
            "contact": contact.pk}
    if contact.site_id and contact.site.is_active:
        data["site"] = contact.site.code
    if mailbox.team_id:
        data["team"] = mailbox.team.code
    if len(data["title"]) > wo_services.TITLE_MAX:
        data["title"] = data["title"][:wo_services.TITLE_MAX - 1] + "…"
    wo = wo_services.do_create_work_order(actor=actor, data=data)
    kept, refused = _attach(wo, p, intake_user(), public=True)
    timeline.append_event(wo, EVENT_KIND, actor=None, public=True,
                          data=_event_data(p, mailbox, p.text, via="new", attachments=kept, refused=refused))
    return wo, refused


def _route(p: parsing.Parsed, row: InboundMessage, mailbox: Mailbox | None, raw: bytes) -> None:
    wo, via = _thread_target(p)
    if wo is not None:
        staff = _staff_with(p.sender)
        public = staff is None
        kept, refused = _attach(wo, p, staff or intake_user(), public=public)
        timeline.append_event(wo, EVENT_KIND, actor=staff, public=public,
                              data=_event_data(p, mailbox, parsing.without_quote(p.text), via=via, attachments=kept,
                                               refused=refused))
        row.outcome, row.work_order, row.reason, row.refused = Outcome.THREADED, wo, via, refused
        log.info("mailin: %s from %s threaded onto %s by %s", p.message_id, p.sender, wo.code, via)
        return
    contact = (Contact.objects.filter(email__iexact=p.sender, is_active=True, customer__is_active=True)
               .select_related("customer", "site").order_by("id").first()) if p.sender else None
    if contact is None or mailbox is None:
        row.outcome, row.reason, row.raw = Outcome.HELD, "unknown_sender", raw
        log.info("mailin: %s from unknown sender %s held for a dispatcher", p.message_id, p.sender)
        return
    wo, refused = _open_work_order(actor=intake_user(), p=p, mailbox=mailbox, contact=contact)
    row.outcome, row.work_order, row.refused = Outcome.CREATED, wo, refused
    log.info("mailin: %s from %s opened %s", p.message_id, p.sender, wo.code)


def do_receive_message(raw_bytes: bytes, mailbox: Mailbox | None) -> InboundMessage:
    """Take one raw mail (RFC 5322 bytes) received by `mailbox`. Idempotent on the Message-ID."""
    p = parsing.parse(raw_bytes)
    existing = InboundMessage.objects.filter(message_key=p.key).first()
    if existing is not None:
        log.info("mailin: %s already received (%s), ignored", p.message_id or p.key, existing.outcome)
        existing.duplicate = True
        return existing
    t = now()
    row = InboundMessage(mailbox=mailbox, message_key=p.key, message_id=p.message_id, sender=p.sender,
                         sender_name=p.sender_name, subject=p.subject, received_at=t, outcome=Outcome.IGNORED)
    reason, detail = None, ""
    auto = parsing.auto_reply_reason(p)
    loop = parsing.loop_reason(p, own_addresses()) if auto is None else None
    if auto:
        reason, detail = "auto_reply", auto
    elif loop:
        reason, detail = "loop", loop
    elif p.sender and InboundMessage.objects.filter(sender=p.sender, received_at__gte=t - timedelta(hours=1)) \
            .count() >= rate_per_hour():
        reason, detail = "rate_limited", _("More than %(n)d mails an hour from this sender.") % {"n": rate_per_hour()}
    try:
        with transaction.atomic():
            if reason:
                row.reason, row.detail = reason, detail
                row.save()
                log.info("mailin: %s from %s ignored: %s (%s)", p.message_id, p.sender, reason, detail)
                return row
            row.save()  # claims the Message-ID first: a second worker's insert fails here
            _route(p, row, mailbox, raw_bytes)
            row.save()
            return row
    except IntegrityError:
        again = InboundMessage.objects.filter(message_key=p.key).first()
        if again is None:
            raise
        again.duplicate = True
        return again
    except ValidationFailed as e:
        # The mailbox's type cannot be filed as it is (a required field, an inactive type...): hold it.
        row.pk = None
        row.outcome, row.reason, row.detail, row.raw, row.work_order = Outcome.HELD, "invalid", str(e)[:2000], \
            raw_bytes, None
        row.save()
        log.warning("mailin: %s from %s held: %s", p.message_id, p.sender, e)
        return row


# ---- held mail -------------------------------------------------------------------------------------------

def _held(row: InboundMessage) -> InboundMessage:
    fresh = InboundMessage.objects.select_for_update().filter(pk=row.pk).first()
    if fresh is None or fresh.outcome != Outcome.HELD:
        raise Conflict(_("This mail was already dealt with."), outcome=getattr(fresh, "outcome", None))
    return fresh


def do_accept_message(*, actor: User, message: InboundMessage, data: dict) -> InboundMessage:
    """Open a work order from a held mail; with `customer` (a code) the sender becomes that
    customer's contact, so their next mail opens one directly."""
    if not may_decide(actor):
        raise Forbidden(_("Only dispatchers decide on held mail."))
    problems = [FieldProblem(k, _("Unknown field."), "unknown") for k in sorted(set(data) - {"customer", "type"})]
    code = data.get("customer") or None
    customer = Customer.objects.filter(code=code).first() if isinstance(code, str) and code else None
    if code and customer is None:
        problems.append(FieldProblem("customer", _("No customer %(c)s.") % {"c": code}, "not_found"))
    if customer is None and not code:
        problems.append(FieldProblem("customer", _("Choose the customer this sender belongs to."), "required"))
    tkey = data.get("type") or (message.mailbox.wo_type.key if message.mailbox else None)
    wo_type = WorkOrderType.objects.filter(key=tkey, active=True).first() if isinstance(tkey, str) else None
    if wo_type is None:
        problems.append(FieldProblem("type", _("Choose an active work order type."), "required"))
    if problems:
        raise ValidationFailed(problems)
    with transaction.atomic():
        row = _held(message)
        p = parsing.parse(bytes(row.raw or b""))
        contact = Contact.objects.filter(customer=customer, email__iexact=row.sender).order_by("id").first()
        if contact is None:
            contact = Contact.objects.create(customer=customer, email=row.sender[:254],
                                             name=(row.sender_name or row.sender)[:100])
        mailbox = row.mailbox or Mailbox(name="", wo_type=wo_type)
        wo, refused = _open_work_order(actor=actor, p=p, mailbox=mailbox, contact=contact, wo_type=wo_type)
        row.outcome, row.work_order, row.refused, row.raw = Outcome.ACCEPTED, wo, refused, None
        row.decided_by, row.decided_at = actor, now()
        row.save()
    return row


def do_discard_message(*, actor: User, message: InboundMessage) -> InboundMessage:
    if not may_decide(actor):
        raise Forbidden(_("Only dispatchers decide on held mail."))
    with transaction.atomic():
        row = _held(message)
        row.outcome, row.raw, row.decided_by, row.decided_at = Outcome.DISCARDED, None, actor, now()
        row.save()
    return row


# ---- polling bookkeeping -----------------------------------------------------------------------------------

def claim_due_mailboxes(limit: int = 5) -> list[Mailbox]:
    """IMAP mailboxes due a poll, each claimed by a compare-and-set on next_poll_at."""
    t = now()
    out = []
    due = (Mailbox.objects.filter(kind=Kind.IMAP, active=True)
           .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=t)).order_by("next_poll_at", "id")[:limit])
    for mb in due:
        cur = Q(next_poll_at__isnull=True) if mb.next_poll_at is None else Q(next_poll_at=mb.next_poll_at)
        nxt = t + timedelta(seconds=mb.poll_seconds)
        if Mailbox.objects.filter(cur, pk=mb.pk).update(next_poll_at=nxt):
            mb.next_poll_at = nxt
            out.append(mb)
    return out


def record_poll(mailbox: Mailbox, error: str | None) -> None:
    t = now()
    if error:
        Mailbox.objects.filter(pk=mailbox.pk).update(last_polled_at=t, last_error=error[:2000], last_error_at=t)
    else:
        Mailbox.objects.filter(pk=mailbox.pk).update(last_polled_at=t, last_ok_at=t, last_error="")
