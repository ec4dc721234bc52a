"""Writes to the configuration audit log. The one entry point is `record_change`.

Every configuration service (rules and keyword libraries, SLA policies, calendars,
notification channels, users, teams, skill tags, API tokens, work order types and
custom fields, closure gates, dispatch settings, approval flows and handoff
requirements) calls it once per write, inside the transaction of the write, so the
change and its record commit or roll back together:

    from closeloop.audit.services import record_change, snapshot

    with transaction.atomic():
        before = snapshot(rule)
        ...change and save rule...
        record_change(actor=actor, kind="rule", obj=rule, before=before, after=snapshot(rule))

Secrets never reach the table: keys that name a secret (password, secret, token,
credential, hash, api key...), the paths a caller lists in `secrets`, and credential
query parameters inside URLs are replaced by REDACTED; when the hidden value changed,
the `after` side says REDACTED_CHANGED instead, so the log shows *that* a password
changed but never what it was.

This module imports nothing from closeloop except the clock and the request id:
every app may call it (the lowest layer).
"""

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.db import models, transaction

from closeloop.core.clock import now
from closeloop.core.requestid import current as current_request_id

from .models import Action, AuditRecord

REDACTED = "[redacted]"
REDACTED_CHANGED = "[redacted: changed]"

#: A key is secret when one of its words (split on _ - . and case changes) is one of these.
SECRET_WORDS = {"password", "passwd", "secret", "token", "credential", "credentials", "hash", "apikey",
                "privatekey"}
#: ... or when the whole key is one of these. ("key" alone is not: types, policies and
#: fields use it for their public slug; a channel names its secret fields in `secrets`.)
SECRET_KEYS = {"api_key", "private_key", "secret_key", "access_key_secret", "sign", "sig"}
#: URL query parameters that carry a credential (robot webhooks put their token there).
SECRET_QUERY = {"access_token", "token", "key", "secret", "sign", "signature", "sig", "api_key", "apikey",
                "password", "auth"}
#: Bookkeeping that every write touches and the record itself already says (who, when).
SKIP_FIELDS = ("updated_at", "updated_by", "last_used_at", "last_login")


def is_secret_key(key) -> bool:
    k = str(key).lower()
    if k in SECRET_KEYS:
        return True
    words = re.split(r"[_\-.\s]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", str(key)).lower())
    return any(w in SECRET_WORDS for w in words) or "".join(words) in SECRET_WORDS


def _scrub_url(value: str) -> str:
    if "://" not in value or len(value) > 2000:
        return value
    try:
        parts = urlsplit(value)
    except ValueError:
        return value
    netloc = parts.netloc
    if "@" in netloc:  # user:password@host
        userinfo, host = netloc.rsplit("@", 1)
        netloc = (userinfo.split(":", 1)[0] + ":" + REDACTED if ":" in userinfo else REDACTED) + "@" + host
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in SECRET_QUERY for k, _v in pairs):
            query = urlencode([(k, REDACTED if k.lower() in SECRET_QUERY else v) for k, v in pairs], safe="[]: ")
    if netloc == parts.netloc and query == parts.query:
        return value
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact(value, *, secrets=(), _path: str = ""):
    """A copy of `value` with secrets replaced by REDACTED. `secrets` are dotted paths
    ("config.password") that are secret whatever their name."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            path = f"{_path}.{k}" if _path else str(k)
            if path in secrets or is_secret_key(k):
                out[k] = REDACTED if v not in (None, "", [], {}) else v
            else:
                out[k] = redact(v, secrets=secrets, _path=path)
        return out
    if isinstance(value, list):
        return [redact(v, secrets=secrets, _path=_path) for v in value]
    if isinstance(value, str):
        return _scrub_url(value)
    return value


def _mark_changed(raw_before, raw_after, red_before, red_after):
    """Where a hidden value changed but its redacted form did not, say so on the after side."""
    if isinstance(red_after, dict) and isinstance(raw_after, dict):
        rb = raw_before if isinstance(raw_before, dict) else {}
        db = red_before if isinstance(red_before, dict) else {}
        return {k: _mark_changed(rb.get(k), raw_after.get(k), db.get(k), v) for k, v in red_after.items()}
    if isinstance(red_after, list) and isinstance(raw_after, list):
        rb = raw_before if isinstance(raw_before, list) else []
        db = red_before if isinstance(red_before, list) else []
        return [_mark_changed(rb[i] if i < len(rb) else None, raw_after[i], db[i] if i < len(db) else None, v)
                for i, v in enumerate(red_after)]
    if raw_before != raw_after and red_before == red_after and raw_before is not None:
        if red_after == REDACTED:
            return REDACTED_CHANGED
        if isinstance(red_after, str) and REDACTED in red_after:
            return red_after.replace(REDACTED, REDACTED_CHANGED, 1)
    return red_after


def _json(value):
    """Model field values as JSON: times ISO, decimals as strings, sets sorted."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value.normalize()) if value == value.to_integral_value() else str(value)
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(_json(v) for v in value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def snapshot(obj: models.Model | None, *, fields=None, exclude=(), extra: dict | None = None) -> dict | None:
    """The audit view of a model instance: its own columns (a foreign key as the related
    object's name, or its id when it has no name), minus `exclude` and the bookkeeping
    columns (SKIP_FIELDS); `extra` adds what lives in other tables (a user's skills)."""
    if obj is None:
        return None
    out = {}
    for f in obj._meta.concrete_fields:
        if f.primary_key or f.name in exclude or f.name in SKIP_FIELDS:
            continue
        if fields is not None and f.name not in fields:
            continue
        if f.is_relation:
            fk = getattr(obj, f.attname)
            out[f.name] = None if fk is None else str(getattr(obj, f.name))
        else:
            out[f.name] = _json(getattr(obj, f.attname))
    if extra:
        out.update(_json(extra))
    return out


def _infer_action(before, after) -> str:
    if before is None:
        return Action.CREATED
    if after is None:
        return Action.DELETED
    if before.get("active", before.get("enabled", before.get("is_active"))) is False and \
            after.get("active", after.get("enabled", after.get("is_active"))) is True:
        return Action.ACTIVATED
    if before.get("active", before.get("enabled", before.get("is_active"))) is True and \
            after.get("active", after.get("enabled", after.get("is_active"))) is False:
        return Action.DEACTIVATED
    return Action.UPDATED


def record_change(*, actor, kind: str, obj: models.Model | None = None, before: dict | None, after: dict | None,
                  action: str | None = None, obj_id=None, label: str | None = None, secrets=()) -> AuditRecord | None:
    """Append the audit record of one configuration write. Call it inside the write's
    transaction (it refuses otherwise), once per write.

    `actor` is the user who made the change (None: the command line or the system);
    `kind` a short stable name ("rule", "sla_policy", "user", ...); `obj` the object
    (its pk and str() are the id and label unless `obj_id`/`label` say otherwise; give
    them for a deletion, after which the pk is gone); `before`/`after` its snapshots
    (None on the side where it does not exist); `action` defaults to created / deleted /
    activated / deactivated / updated from the snapshots; `secrets` are dotted paths to
    hide besides the keys that name a secret. A write that changed nothing (equal
    snapshots) leaves no record and returns None.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_change must run inside the transaction of the change it records")
    if before is not None and after is not None and before == after:
        return None
    red_before = redact(before, secrets=secrets) if before is not None else None
    red_after = redact(after, secrets=secrets) if after is not None else None
    if before is not None and after is not None:
        red_after = _mark_changed(before, after, red_before, red_after)
    if obj_id is None:
        obj_id = obj.pk if obj is not None else ""
    if label is None:
        label = str(obj) if obj is not None else ""
    user = actor if actor is not None and getattr(actor, "pk", None) is not None else None
    return AuditRecord.objects.create(
        at=now(), actor=user, kind=kind, object_id=str(obj_id)[:64], label=str(label)[:200],
        action=action or _infer_action(before, after), before=red_before, after=red_after,
        request_id=current_request_id()[:64])


def changes(before: dict | None, after: dict | None) -> list[dict]:
    """The fields that differ, in a stable order: [{"field", "before", "after"}].
    Nested objects (a channel's config) are compared key by key ("config.host"); on a
    creation or deletion, the fields that are set."""
    out: list[dict] = []

    def walk(b, a, prefix):
        if isinstance(b, dict) and isinstance(a, dict):
            for k in list(dict.fromkeys([*b, *a])):
                walk(b.get(k), a.get(k), f"{prefix}.{k}" if prefix else str(k))
            return
        if b != a:
            out.append({"field": prefix, "before": b, "after": a})

    if before is None and after is None:
        return out
    if before is None or after is None:
        side = after if before is None else before

        def flat(value, prefix):
            if isinstance(value, dict) and value:
                for k, v in value.items():
                    flat(v, f"{prefix}.{k}" if prefix else str(k))
            elif value not in (None, "", [], {}):
                out.append({"field": prefix, "before": None if before is None else value,
                            "after": value if before is None else None})

        flat(side, "")
        return out
    walk(before, after, "")
    return out
