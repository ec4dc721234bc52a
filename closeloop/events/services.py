"""Writes of the events app: subscriptions (events out) and connected systems (events in).
Administrators only; each write is one transaction with its audit record (no secret in it)."""

import hashlib
import secrets as _secrets
from datetime import timedelta
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from closeloop.audit.services import record_change
from closeloop.core import conditions
from closeloop.core.clock import now
from closeloop.core.errors import Conflict, FieldProblem, Forbidden, ValidationFailed
from closeloop.notify import webhooks
from closeloop.outbox import services as outbox

from . import catalogue, crypto, delivery, producer
from .models import ConnectedSystem, Delivery, Subscription
from .selectors import may_manage

MAX_OVERLAP_HOURS = 24 * 7
DEFAULT_OVERLAP_HOURS = 24
SUB_FIELDS = {"name", "url", "events", "condition", "active"}


def _admin(actor) -> None:
    if not may_manage(actor):
        raise Forbidden(_("Only administrators manage events and connected systems."))


def _snap_sub(s: Subscription) -> dict:
    return {"name": s.name, "url": s.url, "events": list(s.events or []), "condition": s.condition,
            "active": s.active, "previous_until": s.previous_until.isoformat() if s.previous_until else None}


def sample_payload() -> dict:
    """What a filter is checked against when it is saved."""
    return {"type": "work_order.created", "timestamp": "2026-01-01T00:00:00+00:00", "data": {
        "sequence": 1, "work_order": {"code": "WD2026010100001", "version": 1, "title": "", "status": "new",
                                      "priority": "normal", "type": "repair", "type_kind": "repair",
                                      "customer": None, "site": None, "asset": None, "team": None,
                                      "assignee": None, "invoice_number": None, "external_refs": [],
                                      "created_at": "", "updated_at": "", "closed_at": None},
        "event": {"kind": "created", "action": "", "from_state": "", "to_state": "new", "actor": None,
                  "at": "", "version": 1, "timeline_id": 1, "data": {}}}}


def _clean_sub(data: dict, *, partial: bool) -> dict:
    problems: list[FieldProblem] = [FieldProblem(k, _("Unknown field."), "unknown") for k in sorted(set(data) - SUB_FIELDS)]
    out: dict = {}
    if "name" in data or not partial:
        name = data.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            problems.append(FieldProblem("name", _("A name of up to 100 characters is required."), "required"))
        else:
            out["name"] = name.strip()
    if "url" in data or not partial:
        url = data.get("url")
        if not isinstance(url, str) or not url.strip() or len(url) > 500:
            problems.append(FieldProblem("url", _("An http(s) URL of up to 500 characters is required."), "required"))
        else:
            url = url.strip()
            found = webhooks.url_problems(url, field="url")
            if not found and urlsplit(url).scheme not in ("http", "https"):
                found = [FieldProblem("url", _("An http(s) URL."), "invalid")]
            problems.extend(found)
            out["url"] = url
    if "events" in data or not partial:
        events = data.get("events")
        known = catalogue.known() | {catalogue.ALL}
        if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
            problems.append(FieldProblem("events", _("Choose at least one event type."), "required"))
        else:
            bad = [e for e in events if e not in known]
            if bad:
                problems.append(FieldProblem("events", _("Unknown event types: %(t)s.") % {"t": ", ".join(bad[:5])},
                                             "invalid"))
            out["events"] = sorted(set(events))
    if "condition" in data:
        cond = data.get("condition")
        if cond is None:
            cond = ""
        if not isinstance(cond, str) or len(cond) > 2000:
            problems.append(FieldProblem("condition", _("At most %(n)d characters.") % {"n": 2000}))
        else:
            try:
                conditions.check_condition(cond.strip(), sample_payload(), field="condition")
                out["condition"] = cond.strip()
            except ValidationFailed as e:
                problems.extend(e.problems)
    if "active" in data:
        if not isinstance(data["active"], bool):
            problems.append(FieldProblem("active", _("true or false.")))
        else:
            out["active"] = data["active"]
    if problems:
        raise ValidationFailed(problems)
    return out


def do_create_subscription(*, actor, data: dict) -> tuple[Subscription, str]:
    """Returns the subscription and its signing secret (shown once, stored encrypted)."""
    _admin(actor)
    clean = _clean_sub(data, partial=False)
    secret = crypto.new_secret()
    with transaction.atomic():
        t = now()
        sub = Subscription.objects.create(**clean, secret_enc=crypto.encrypt(secret), owner=actor, created_at=t,
                                          updated_at=t)
        record_change(actor=actor, kind="event_subscription", obj=sub, before=None, after=_snap_sub(sub))
        producer.forget()
    return sub, secret


def do_update_subscription(*, actor, sub: Subscription, data: dict) -> Subscription:
    _admin(actor)
    clean = _clean_sub(data, partial=True)
    with transaction.atomic():
        sub = Subscription.objects.select_for_update().get(pk=sub.pk)
        before = _snap_sub(sub)
        for k, v in clean.items():
            setattr(sub, k, v)
        if clean.get("active") is True:
            sub.paused_at, sub.pause_reason, sub.consecutive_failures = None, "", 0
        sub.updated_at = now()
        sub.save()
        record_change(actor=actor, kind="event_subscription", obj=sub, before=before, after=_snap_sub(sub))
        producer.forget()
        if clean.get("active") is True:
            _release_held(sub)
    return sub


def do_resume_subscription(*, actor, sub: Subscription) -> Subscription:
    """Turn a (paused) subscription back on; what was held while it was paused is sent."""
    return do_update_subscription(actor=actor, sub=sub, data={"active": True})


def _release_held(sub: Subscription) -> int:
    held = list(Delivery.objects.filter(subscription=sub, status=Delivery.Status.HELD).values_list("pk", "redeliveries"))
    if not held:
        return 0
    Delivery.objects.filter(pk__in=[p for p, _r in held]).update(
        status=Delivery.Status.PENDING, redeliveries=F("redeliveries") + 1, updated_at=now())
    outbox.enqueue_many(delivery.DELIVER_KIND, [(f"events:deliver:{p}:{r + 1}", {"delivery": p, "redelivery": r + 1})
                                               for p, r in held])
    return len(held)


def do_delete_subscription(*, actor, sub: Subscription) -> None:
    _admin(actor)
    with transaction.atomic():
        before = _snap_sub(sub)
        pk, label = sub.pk, str(sub)
        sub.delete()
        record_change(actor=actor, kind="event_subscription", obj=None, obj_id=pk, label=label, before=before,
                      after=None)
        producer.forget()


def do_rotate_secret(*, actor, sub: Subscription, overlap_hours=DEFAULT_OVERLAP_HOURS) -> str:
    """A new signing secret; the old one keeps signing beside it for `overlap_hours`
    (0 ends it now). Returns the new secret (shown once)."""
    _admin(actor)
    if isinstance(overlap_hours, bool) or not isinstance(overlap_hours, (int, float)) \
            or not 0 <= overlap_hours <= MAX_OVERLAP_HOURS:
        raise ValidationFailed(FieldProblem("overlap_hours", _("Between 0 and %(n)d hours.") % {"n": MAX_OVERLAP_HOURS}))
    secret = crypto.new_secret()
    with transaction.atomic():
        sub = Subscription.objects.select_for_update().get(pk=sub.pk)
        before = _snap_sub(sub)
        t = now()
        sub.previous_secret_enc = sub.secret_enc if overlap_hours else ""
        sub.previous_until = t + timedelta(hours=overlap_hours) if overlap_hours else None
        sub.secret_enc = crypto.encrypt(secret)
        sub.updated_at = t
        sub.save()
        record_change(actor=actor, kind="event_subscription", obj=sub, before=before,
                      after={**_snap_sub(sub), "secret": "rotated"}, action="secret_rotated")
    return secret


def do_redeliver(*, actor, d: Delivery) -> Delivery:
    """Send a delivery again, with the same id and body (a new signature and timestamp)."""
    _admin(actor)
    with transaction.atomic():
        d = Delivery.objects.select_for_update().select_related("subscription").get(pk=d.pk)
        if not d.subscription.active:
            raise Conflict(_("The subscription is paused or off: resume it first."))
        d.redeliveries += 1
        d.status = Delivery.Status.PENDING
        d.updated_at = now()
        d.save(update_fields=["redeliveries", "status", "updated_at"])
        outbox.enqueue(delivery.DELIVER_KIND, f"events:deliver:{d.pk}:{d.redeliveries}",
                       {"delivery": d.pk, "redelivery": d.redeliveries})
    return d


# ---- connected systems -----------------------------------------------------------------------------

SYSTEM_FIELDS = {"key", "name", "scopes", "signed", "default_type", "active"}
TOKEN_PREFIX = "cls_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _snap_system(s: ConnectedSystem) -> dict:
    return {"key": s.key, "name": s.name, "scopes": list(s.scopes or []), "signed": bool(s.signing_secret_enc),
            "default_type": s.default_type, "active": s.active, "acts_as": s.acts_as.username}


def _clean_system(data: dict, *, partial: bool, pk: int | None = None) -> dict:
    import re

    from closeloop.workorders.models import WorkOrderType

    problems = [FieldProblem(k, _("Unknown field."), "unknown") for k in sorted(set(data) - SYSTEM_FIELDS)]
    out: dict = {}
    if "key" in data or not partial:
        key = data.get("key")
        if not isinstance(key, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,39}", key or ""):
            problems.append(FieldProblem("key", _("Lower-case letters, digits, - and _ (up to 40)."), "invalid"))
        elif ConnectedSystem.objects.filter(key=key).exclude(pk=pk).exists():
            problems.append(FieldProblem("key", _("Another connected system has this key."), "unique"))
        else:
            out["key"] = key
    if "name" in data or not partial:
        name = data.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            problems.append(FieldProblem("name", _("A name of up to 100 characters is required."), "required"))
        else:
            out["name"] = name.strip()
    if "scopes" in data or not partial:
        scopes = data.get("scopes")
        valid = set(ConnectedSystem.Scope.values)
        if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) and s in valid for s in scopes):
            problems.append(FieldProblem("scopes", _("One or more of: %(c)s.") % {"c": ", ".join(sorted(valid))},
                                         "invalid"))
        else:
            out["scopes"] = sorted(set(scopes))
    if "signed" in data and not isinstance(data["signed"], bool):
        problems.append(FieldProblem("signed", _("true or false.")))
    if "active" in data:
        if not isinstance(data["active"], bool):
            problems.append(FieldProblem("active", _("true or false.")))
        else:
            out["active"] = data["active"]
    if "default_type" in data:
        dt = data.get("default_type") or ""
        if not isinstance(dt, str) or (dt and not WorkOrderType.objects.filter(key=dt, active=True).exists()):
            problems.append(FieldProblem("default_type", _("No active work order type with this key."), "invalid"))
        else:
            out["default_type"] = dt
    if problems:
        raise ValidationFailed(problems)
    return out


def do_create_system(*, actor, data: dict) -> tuple[ConnectedSystem, str, str]:
    """Returns the system, its bearer token and its signing secret ("" when unsigned), both
    shown once."""
    _admin(actor)
    clean = _clean_system(data, partial=False)
    token = TOKEN_PREFIX + _secrets.token_urlsafe(32)
    secret = crypto.new_secret() if data.get("signed") else ""
    with transaction.atomic():
        t = now()
        s = ConnectedSystem.objects.create(**clean, token_hash=hash_token(token), token_prefix=token[:10],
                                           signing_secret_enc=crypto.encrypt(secret), acts_as=actor, created_at=t,
                                           updated_at=t)
        record_change(actor=actor, kind="connected_system", obj=s, before=None, after=_snap_system(s))
    return s, token, secret


def do_update_system(*, actor, system: ConnectedSystem, data: dict) -> tuple[ConnectedSystem, str]:
    """`signed`: true makes a new signing secret (returned, shown once), false drops it."""
    _admin(actor)
    clean = _clean_system(data, partial=True, pk=system.pk)
    secret = ""
    with transaction.atomic():
        system = ConnectedSystem.objects.select_for_update().get(pk=system.pk)
        before = _snap_system(system)
        for k, v in clean.items():
            setattr(system, k, v)
        if data.get("signed") is True:
            secret = crypto.new_secret()
            system.signing_secret_enc = crypto.encrypt(secret)
        elif data.get("signed") is False:
            system.signing_secret_enc = ""
        system.updated_at = now()
        system.save()
        record_change(actor=actor, kind="connected_system", obj=system, before=before, after=_snap_system(system))
    return system, secret


def do_rotate_system_token(*, actor, system: ConnectedSystem) -> str:
    _admin(actor)
    token = TOKEN_PREFIX + _secrets.token_urlsafe(32)
    with transaction.atomic():
        before = _snap_system(system)
        ConnectedSystem.objects.filter(pk=system.pk).update(token_hash=hash_token(token), token_prefix=token[:10],
                                                             updated_at=now())
        record_change(actor=actor, kind="connected_system", obj=system, before=before,
                      after={**before, "token": "rotated"}, action="token_rotated")
    return token


def do_delete_system(*, actor, system: ConnectedSystem) -> None:
    _admin(actor)
    with transaction.atomic():
        before = _snap_system(system)
        pk, label = system.pk, str(system)
        system.delete()
        record_change(actor=actor, kind="connected_system", obj=None, obj_id=pk, label=label, before=before,
                      after=None)
