"""Events in: what a connected system posts to POST /api/v1/inbound/{system key}.

    Authorization: Bearer cls_...                 (the system's own token)
    webhook-id / webhook-timestamp / webhook-signature   (Standard Webhooks; required when the
                                                   system is set to sign, optional otherwise)
    {"id": "msg-1", "type": "invoice.posted", "data": {...}}

The message id (webhook-id, else the body's `id`) is recorded once per system: the same id
again is not processed again (200 with `"duplicate": true`). A signed request older or newer
than the replay window is refused (401). Each message becomes a timeline event
("integration") on the work order it names by our code (`work_order`) or the system's own id
(`external_id`, an external reference of system = the system's key); the finance, CRM and ERP
messages use the same services as people do (the invoice transition, create/update)."""

import base64
import hashlib
import hmac
import json
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from closeloop.core.clock import now
from closeloop.core.errors import Conflict, DomainError, FieldProblem, ValidationFailed
from closeloop.workorders import selectors as wo_selectors
from closeloop.workorders import services as wo_services
from closeloop.workorders import timeline
from closeloop.workorders.models import TimelineEvent, WorkOrder

from . import crypto
from .models import ConnectedSystem, InboundMessage
from .services import hash_token

#: type -> the scope it needs
TYPES = {"invoice.posted": "finance", "payment.received": "finance", "request.upsert": "crm",
         "purchase.updated": "erp"}


class Unauthorized(DomainError):
    def __init__(self, message: str):
        super().__init__(message, 401, "unauthorized")


def tolerance() -> int:
    return int(getattr(settings, "CLOSELOOP_EVENTS_INBOUND_TOLERANCE", 300))


def authenticate(key: str, authorization: str) -> ConnectedSystem:
    scheme, _sp, token = (authorization or "").partition(" ")
    system = ConnectedSystem.objects.select_related("acts_as").filter(key=key, active=True).first()
    if scheme.lower() != "bearer" or not token or system is None \
            or not hmac.compare_digest(system.token_hash, hash_token(token.strip())):
        raise Unauthorized(_("Unknown system or wrong token."))
    return system


def verify_signature(system: ConnectedSystem, raw: bytes, headers) -> str | None:
    """Check a Standard Webhooks signature (any of the space-separated v1 signatures) and the
    timestamp window; returns the webhook-id (None when the system does not sign and sent none)."""
    msg_id, ts, sigs = headers.get("webhook-id"), headers.get("webhook-timestamp"), headers.get("webhook-signature")
    if not system.signing_secret_enc:
        return msg_id or None
    if not (msg_id and ts and sigs):
        raise Unauthorized(_("This system signs its requests: webhook-id, webhook-timestamp and webhook-signature "
                             "are required."))
    try:
        stamp = int(ts)
    except ValueError:
        raise Unauthorized(_("webhook-timestamp is not a number of seconds.")) from None
    if abs(now().timestamp() - stamp) > tolerance():
        raise Unauthorized(_("The request is too old or too new (replay window %(n)d seconds).") % {"n": tolerance()})
    key = crypto.key_bytes(crypto.decrypt(system.signing_secret_enc))
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{stamp}.".encode() + raw, hashlib.sha256).digest()).decode()
    for sig in sigs.split():
        version, _c, value = sig.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return msg_id
    raise Unauthorized(_("The signature does not match."))


def receive(key: str, raw: bytes, headers) -> dict:
    system = authenticate(key, headers.get("Authorization", ""))
    header_id = verify_signature(system, raw, headers)
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise ValidationFailed(FieldProblem("body", _("Not JSON."), "invalid")) from None
    if not isinstance(body, dict):
        raise ValidationFailed(FieldProblem("body", _("A JSON object with id, type and data."), "invalid"))
    problems = [FieldProblem(k, _("Unknown field."), "unknown") for k in sorted(set(body) - {"id", "type", "data"})]
    msg_id = header_id or body.get("id")
    if not isinstance(msg_id, str) or not msg_id.strip() or len(msg_id) > 120:
        problems.append(FieldProblem("id", _("A message id (up to 120 characters) is required, in the body or as "
                                             "webhook-id."), "required"))
    kind = body.get("type")
    if kind not in TYPES:
        problems.append(FieldProblem("type", _("One of: %(c)s.") % {"c": ", ".join(TYPES)}, "invalid"))
    elif TYPES[kind] not in (system.scopes or []):
        raise DomainError(_("This system may not send %(t)s (scope %(s)s).") % {"t": kind, "s": TYPES[kind]}, 403,
                          "insufficient_scope")
    data = body.get("data")
    if not isinstance(data, dict):
        problems.append(FieldProblem("data", _("An object."), "required"))
    if problems:
        raise ValidationFailed(problems)
    t = now()
    with transaction.atomic():
        ConnectedSystem.objects.filter(pk=system.pk).update(last_seen_at=t)
        try:
            with transaction.atomic():
                record = InboundMessage.objects.create(system=system, message_id=msg_id.strip(), kind=kind,
                                                       received_at=t)
        except IntegrityError:
            prev = InboundMessage.objects.get(system=system, message_id=msg_id.strip())
            return {"id": prev.message_id, "duplicate": True, "work_order": prev.work_order_code or None,
                    "outcome": prev.outcome}
        wo, outcome = HANDLERS[kind](system, data, t)
        record.work_order_code, record.outcome = wo.code, outcome
        record.save(update_fields=["work_order_code", "outcome"])
    return {"id": record.message_id, "duplicate": False, "work_order": wo.code, "outcome": outcome}


# ---- finding the work order ---------------------------------------------------------------------

def _find(system: ConnectedSystem, data: dict) -> WorkOrder:
    code, ext = data.get("work_order"), data.get("external_id")
    if not code and not ext:
        raise ValidationFailed(FieldProblem("data.work_order", _("Name the work order by our code (work_order) or "
                                                                 "your id (external_id)."), "required"))
    wo = None
    if code:
        if not isinstance(code, str) or len(code) > 40:
            raise ValidationFailed(FieldProblem("data.work_order", _("A work order code."), "invalid"))
        wo = wo_selectors.visible_work_orders(system.acts_as).filter(code=code).first()
        field = "data.work_order"
    else:
        if not isinstance(ext, str) or len(ext) > 100:
            raise ValidationFailed(FieldProblem("data.external_id", _("Up to 100 characters."), "invalid"))
        wo = wo_selectors.find_by_external_ref(system.acts_as, system.key, ext).first()
        field = "data.external_id"
    if wo is None:
        raise ValidationFailed(FieldProblem(field, _("No such work order."), "not_found"))
    return wo


def _to_timeline(wo: WorkOrder, system: ConnectedSystem, kind: str, t, payload: dict) -> None:
    timeline.append_event(wo, TimelineEvent.Kind.INTEGRATION, actor=system.acts_as, at=t, action=kind[:20],
                          data={"system": system.key, "system_name": system.name, "type": kind, **payload})


def _str(problems, data, name, *, required=False, max_len=200) -> str:
    v = data.get(name)
    if v is None or v == "":
        if required:
            problems.append(FieldProblem(f"data.{name}", _("This field is required."), "required"))
        return ""
    if not isinstance(v, str) or len(v) > max_len:
        problems.append(FieldProblem(f"data.{name}", _("Text of up to %(n)d characters.") % {"n": max_len}, "invalid"))
        return ""
    return v.strip()


def _invoice(system, data, t):
    problems: list = []
    number = _str(problems, data, "invoice_number", required=True, max_len=64)
    _str(problems, data, "note", max_len=500)
    if problems:
        raise ValidationFailed(problems)
    wo = _find(system, data)
    if wo.invoice_number == number:
        _to_timeline(wo, system, "invoice.posted", t, {"invoice_number": number, "already": True})
        return wo, "already_posted"
    if wo.status != "confirmed":
        raise Conflict(_("%(code)s is %(s)s: an invoice is posted once the customer confirmed.")
                       % {"code": wo.code, "s": wo.get_status_display()}, current_state=wo.status)
    wo_services.apply_transition(actor=system.acts_as, wo=wo, action="invoice",
                                 data={"invoice_number": number, **({"note": data["note"]} if data.get("note") else {})},
                                 at=t)
    _to_timeline(wo, system, "invoice.posted", t, {"invoice_number": number})
    return wo, "invoiced"


def _payment(system, data, t):
    problems: list = []
    try:
        amount = Decimal(str(data.get("amount")))
        if not amount.is_finite() or amount <= 0 or amount > Decimal("1e12") or isinstance(data.get("amount"), bool):
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        problems.append(FieldProblem("data.amount", _("A positive amount."), "invalid"))
        amount = None
    currency = _str(problems, data, "currency", max_len=3) or "CNY"
    reference = _str(problems, data, "reference", max_len=100)
    invoice = _str(problems, data, "invoice_number", max_len=64)
    paid_at = data.get("paid_at")
    if paid_at is not None and (not isinstance(paid_at, str) or parse_datetime(paid_at) is None):
        problems.append(FieldProblem("data.paid_at", _("An ISO 8601 date and time."), "invalid"))
    if problems:
        raise ValidationFailed(problems)
    wo = _find(system, data)
    _to_timeline(wo, system, "payment.received", t, {"amount": str(amount), "currency": currency.upper(),
                                                "reference": reference, "invoice_number": invoice,
                                                "paid_at": paid_at})
    return wo, "payment_recorded"


UPSERT_FIELDS = ("title", "description", "priority", "customer", "site", "asset", "contact", "type", "fault_code",
                 "custom")


def _upsert(system, data, t):
    problems: list = []
    ext = _str(problems, data, "external_id", required=True, max_len=100)
    unknown = sorted(set(data) - {"external_id", *UPSERT_FIELDS})
    problems += [FieldProblem(f"data.{k}", _("Unknown field."), "unknown") for k in unknown]
    if problems:
        raise ValidationFailed(problems)
    fields = {k: data[k] for k in UPSERT_FIELDS if k in data}
    wo = wo_selectors.find_by_external_ref(system.acts_as, system.key, ext).first()
    try:
        if wo is None:
            create = {**fields, "external_refs": [{"system": system.key, "id": ext}]}
            create.setdefault("type", system.default_type or None)
            wo = wo_services.do_create_work_order(actor=system.acts_as, data=create)
            outcome = "created"
        else:
            change = {k: v for k, v in fields.items() if k in ("title", "description", "priority", "fault_code",
                                                               "custom")}
            if change:
                wo = wo_services.do_update_work_order(actor=system.acts_as, wo=wo, data=change)
            outcome = "updated"
    except ValidationFailed as e:
        raise ValidationFailed([FieldProblem(f"data.{p.field}", p.message, p.code) for p in e.problems]) from None
    _to_timeline(wo, system, "request.upsert", t, {"external_id": ext, "outcome": outcome,
                                              "fields": sorted(fields)})
    return wo, outcome


def _purchase(system, data, t):
    problems: list = []
    purchase = _str(problems, data, "purchase_id", required=True, max_len=100)
    status = _str(problems, data, "status", max_len=40)
    delivery = data.get("delivery_date")
    if delivery is not None and (not isinstance(delivery, str) or parse_date(delivery) is None):
        problems.append(FieldProblem("data.delivery_date", _("A date (YYYY-MM-DD)."), "invalid"))
    items = data.get("items") or []
    clean_items = []
    if not isinstance(items, list) or len(items) > 100:
        problems.append(FieldProblem("data.items", _("A list of at most 100 items."), "invalid"))
        items = []
    for i, it in enumerate(items):
        if not isinstance(it, dict) or not isinstance(it.get("part_number") or it.get("name"), str):
            problems.append(FieldProblem(f"data.items[{i}]", _("Each item needs a part_number or a name."), "invalid"))
            continue
        stock = it.get("in_stock")
        if stock is not None and (isinstance(stock, bool) or not isinstance(stock, (int, float))):
            problems.append(FieldProblem(f"data.items[{i}].in_stock", _("A number."), "invalid"))
            continue
        clean_items.append({"part_number": str(it.get("part_number") or "")[:60], "name": str(it.get("name") or "")[:200],
                            "quantity": it.get("quantity") if isinstance(it.get("quantity"), (int, float)) else None,
                            "in_stock": stock})
    if problems:
        raise ValidationFailed(problems)
    wo = _find(system, data)
    _to_timeline(wo, system, "purchase.updated", t, {"purchase_id": purchase, "status": status,
                                                "delivery_date": delivery, "items": clean_items})
    return wo, "recorded"


HANDLERS = {"invoice.posted": _invoice, "payment.received": _payment, "request.upsert": _upsert,
            "purchase.updated": _purchase}
