"""The worker's side of events out: fan-out (one delivery per matching subscription) and
delivery (one signed POST in the Standard Webhooks format through notify's guarded
transport, retried with the outbox's backoff; the same `webhook-id` on every attempt and
every redelivery)."""

import base64
import hashlib
import hmac
import json
import logging
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext_noop

from closeloop.core import conditions
from closeloop.core.clock import now
from closeloop.notify import messages as notify_messages
from closeloop.notify.channels import base
from closeloop.notify.services import notify
from closeloop.outbox import services as outbox
from closeloop.workorders.models import WorkOrder

from . import catalogue, crypto, producer
from .models import Delivery, Subscription

log = logging.getLogger(__name__)

FAN_OUT_KIND = producer.FAN_OUT_KIND
DELIVER_KIND = "events.deliver"
LOG_KEEP = 20


def max_attempts() -> int:
    return int(getattr(settings, "CLOSELOOP_EVENTS_MAX_ATTEMPTS", 10))


def pause_after() -> int:
    return int(getattr(settings, "CLOSELOOP_EVENTS_PAUSE_AFTER", 20))


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def snapshot(wo: WorkOrder) -> dict:
    """The work order's state as a subscriber keeps it (keep the highest `version`)."""
    return {"code": wo.code, "version": wo.version, "title": wo.title, "status": wo.status,
            "priority": wo.priority, "type": wo.wo_type.key, "type_kind": wo.wo_type.kind,
            "customer": wo.customer.code if wo.customer_id else None,
            "site": wo.site.code if wo.site_id else None,
            "asset": wo.asset.serial_number if wo.asset_id else None,
            "team": wo.team.code if wo.team_id else None,
            "assignee": wo.assignee.username if wo.assignee_id else None,
            "invoice_number": wo.invoice_number or None,
            "external_refs": [{"system": r.system, "id": r.external_id} for r in wo.external_refs.all()],
            "created_at": _iso(wo.created_at), "updated_at": _iso(wo.updated_at), "closed_at": _iso(wo.closed_at)}


def maintenance_origin(wo: WorkOrder) -> dict | None:
    """The maintenance plan occurrence that generated `wo` (maintenance app), else None; a
    preventive type's work order created by hand counts as generated too (no plan)."""
    from closeloop.maintenance.models import Occurrence

    occ = Occurrence.objects.select_related("plan").filter(work_order=wo).first()
    if occ is not None:
        return {"plan": occ.plan.name, "plan_id": occ.plan_id, "occurrence": occ.key, "due": occ.due.isoformat()}
    return {"plan": None} if wo.wo_type.kind == "preventive" else None


def _matched_type(sub: Subscription, event_type: str, origin) -> str | None:
    """The type `sub` receives this event as (None: not at all). `origin` is a callable giving
    the maintenance origin of a created work order (asked only when a subscription wants it)."""
    wanted = set(sub.events or [])
    if catalogue.ALL in wanted or event_type in wanted:
        return event_type
    if "maintenance.generated" in wanted and event_type == "work_order.created" and origin() is not None:
        return "maintenance.generated"
    return None


def body_for(event_type: str, sequence: int, p: dict, wo: WorkOrder, snap: dict) -> dict:
    return {"type": event_type, "timestamp": p["at"], "data": {
        "sequence": sequence, "work_order": snap,
        "event": {"kind": p["kind"], "action": p.get("action") or "", "from_state": p.get("from_state") or "",
                  "to_state": p.get("to_state") or "", "actor": p.get("actor"), "at": p["at"],
                  "version": p.get("version"), "timeline_id": p.get("timeline_id"), "data": p.get("data") or {}}}}


def fan_out(msg) -> None:
    """outbox handler of events.fan_out: one Delivery (and its delivery row) per active
    subscription whose types and filter match. Idempotent (one delivery per subscription
    and sequence), so a second run after a lost lease adds nothing."""
    p = msg.payload
    subs = list(Subscription.objects.filter(active=True))
    if not subs:
        return
    wo = (WorkOrder.objects.select_related("wo_type", "customer", "site", "asset", "team", "assignee")
          .prefetch_related("external_refs").filter(pk=p["work_order"]).first())
    if wo is None:
        return
    if not p.get("actor") and p.get("actor_id"):
        from closeloop.accounts.models import User

        p["actor"] = User.objects.filter(pk=p["actor_id"]).values_list("username", flat=True).first()
    snap = snapshot(wo)
    t = now()
    memo: dict = {}

    def origin():
        if "m" not in memo:
            memo["m"] = maintenance_origin(wo) if p["type"] == "work_order.created" else None
        return memo["m"]

    with transaction.atomic():
        for sub in subs:
            event_type = _matched_type(sub, p["type"], origin)
            if event_type is None:
                continue
            body = body_for(event_type, msg.pk, p, wo, snap)
            if event_type == "maintenance.generated":
                body["data"]["maintenance"] = origin()
            if sub.condition and not conditions.matches(sub.condition, body):
                continue
            try:
                with transaction.atomic():
                    d = Delivery.objects.create(
                        subscription=sub, webhook_id=f"msg_{msg.pk}_{sub.pk}", sequence=msg.pk, event_type=event_type,
                        work_order_code=wo.code, body=body, created_at=t, updated_at=t)
            except IntegrityError:
                continue
            outbox.enqueue(DELIVER_KIND, f"events:deliver:{d.pk}:0", {"delivery": d.pk}, at=t)


# ---- signing ---------------------------------------------------------------------------------------

def sign(secret: str, msg_id: str, timestamp: int, raw: bytes) -> str:
    mac = hmac.new(crypto.key_bytes(secret), f"{msg_id}.{timestamp}.".encode() + raw, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signing_secrets(sub: Subscription, at) -> list[str]:
    """The current secret, and the previous one while its overlap window lasts."""
    out = [crypto.decrypt(sub.secret_enc)]
    if sub.previous_secret_enc and sub.previous_until and sub.previous_until > at:
        out.append(crypto.decrypt(sub.previous_secret_enc))
    return out


def headers(sub: Subscription, msg_id: str, raw: bytes, at) -> dict:
    ts = int(at.timestamp())
    return {"Content-Type": "application/json", "User-Agent": "closeloop-events/1", "webhook-id": msg_id,
            "webhook-timestamp": str(ts),
            "webhook-signature": " ".join(sign(s, msg_id, ts, raw) for s in signing_secrets(sub, at))}


# ---- delivery --------------------------------------------------------------------------------------

def _log_entry(d: Delivery, at, started: float, status_code: int | None, error: str) -> list:
    entry = {"at": at.isoformat(), "status_code": status_code, "error": error[:300],
             "ms": round((time.monotonic() - started) * 1000)}
    return ([entry] + list(d.log or []))[:LOG_KEEP]


def deliver(msg) -> None:
    """outbox handler of events.deliver."""
    d = Delivery.objects.select_related("subscription").filter(pk=msg.payload.get("delivery")).first()
    if d is None or d.status == Delivery.Status.DELIVERED and msg.payload.get("redelivery") is None:
        return
    sub = d.subscription
    t = now()
    if not sub.active:
        Delivery.objects.filter(pk=d.pk).update(status=Delivery.Status.HELD, updated_at=t)
        return
    raw = json.dumps(d.body, ensure_ascii=False, separators=(",", ":")).encode()
    started = time.monotonic()
    try:
        resp = base.request("POST", sub.url, content=raw, headers=headers(sub, d.webhook_id, raw, t))
    except (base.Permanent, base.Retryable) as exc:
        _failed(d, sub, t, started, exc)
        return
    with transaction.atomic():
        Delivery.objects.filter(pk=d.pk).update(
            status=Delivery.Status.DELIVERED, attempts=F("attempts") + 1, last_status_code=resp.status_code,
            last_error="", delivered_at=t, updated_at=t, log=_log_entry(d, t, started, resp.status_code, ""))
        Subscription.objects.filter(pk=sub.pk).update(consecutive_failures=0)


def _failed(d: Delivery, sub: Subscription, t, started: float, exc: Exception) -> None:
    error = str(exc)[:2000]
    code = None
    if error.startswith("HTTP "):
        try:
            code = int(error[5:8])
        except ValueError:
            code = None
    attempts = d.attempts + 1
    refused = isinstance(exc, base.Refused)
    with transaction.atomic():
        Subscription.objects.filter(pk=sub.pk).update(consecutive_failures=F("consecutive_failures") + 1)
        sub.refresh_from_db(fields=["consecutive_failures", "active"])
        paused = False
        if sub.active and sub.consecutive_failures >= pause_after():
            paused = _pause(sub, t, error)
        if paused or not sub.active:
            status = Delivery.Status.HELD
        elif refused or attempts >= max_attempts():
            status = Delivery.Status.FAILED
        else:
            status = Delivery.Status.RETRYING
        Delivery.objects.filter(pk=d.pk).update(status=status, attempts=attempts, last_status_code=code,
                                                last_error=error, updated_at=t,
                                                log=_log_entry(d, t, started, code, error))
    if status == Delivery.Status.RETRYING:
        raise outbox.RetryableError(error, retry_after=getattr(exc, "retry_after", None))
    raise outbox.PermanentError(error)


def _pause(sub: Subscription, t, error: str) -> bool:
    won = Subscription.objects.filter(pk=sub.pk, active=True).update(
        active=False, paused_at=t, pause_reason=error[:1000], updated_at=t)
    if not won:
        return False
    producer.forget()
    owner = sub.owner
    if owner is None or not owner.is_active:
        from closeloop.accounts.models import Role, User

        owner = User.objects.filter(role=Role.ADMIN, is_active=True).order_by("id").first()
    if owner is not None:
        notify(key=f"events-paused:{sub.pk}:{t.timestamp():.0f}", event="events.subscription_paused",
               work_order=None, recipients=[{"user": owner.username}], channels=["inbox"], no_robots=True,
               context={"url": f"{notify_messages.base_url()}/settings/events/{sub.pk}/"},
               message=notify_messages.text(
                   gettext_noop("Event subscription %(name)s failed %(n)s times in a row and is paused. "
                                "Last error: %(error)s"),
                   name=sub.name, n=sub.consecutive_failures, error=error[:200]), at=t)
    log.warning("events: subscription %s paused after %d failures in a row", sub.pk, sub.consecutive_failures)
    return True
