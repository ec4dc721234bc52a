"""Every telemetry write: gateways (token shown once), meters, conditions, and the
ingestion of readings and alarm events (`ingest`), with the listeners told after commit.

Ingestion is built for throughput: a batch of up to MAX_BATCH items costs two reads (the
assets named, their meters) and one multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING`
per table, whatever the mix. Items are checked one by one; a bad item is reported with its
index and field and the good ones are kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role, User
from closeloop.audit.services import record_change, snapshot
from closeloop.core import conditions as cel
from closeloop.core.clock import now
from closeloop.core.errors import FieldProblem, NotFound, ValidationFailed
from closeloop.customers.models import Asset, Customer

from . import variables
from .models import AlarmEvent, Condition, Gateway, GatewayScope, Meter, MeterMode, Reading, Severity

log = logging.getLogger(__name__)

GATEWAY_TOKEN_PREFIX = "clg_"
MAX_BATCH = 500
MAX_PAYLOAD_BYTES = 4000
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


def may_manage(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.role in (Role.ADMIN, Role.MANAGER)))


def future_tolerance() -> timedelta:
    return timedelta(seconds=getattr(settings, "TELEMETRY_FUTURE_TOLERANCE_SECONDS", 300))


# ---- listeners ------------------------------------------------------------------------------------

_listeners: list[Callable[[set[int], set[str]], None]] = []


def register_ingest_listener(fn: Callable[[set[int], set[str]], None]) -> None:
    """After each committed ingestion batch that stored something new, `fn(asset_ids, kinds)`
    is called (in the request's thread, after the commit; an exception is logged, not raised)."""
    if fn not in _listeners:
        _listeners.append(fn)


def _tell_listeners(asset_ids: set[int], kinds: set[str]) -> None:
    for fn in list(_listeners):
        try:
            fn(set(asset_ids), set(kinds))
        except Exception:  # a listener must not turn a stored batch into an error
            log.exception("telemetry ingest listener %r failed", fn)


# ---- gateways -------------------------------------------------------------------------------------

def hash_token(clear: str) -> str:
    return hashlib.sha256(clear.encode()).hexdigest()


def _gateway_snapshot(g: Gateway) -> dict:
    return snapshot(g, exclude=("token_hash", "created_at", "last_seen_at"))


def _customer(code) -> Customer | None:
    if code in (None, ""):
        return None
    c = Customer.objects.filter(code=code).first()
    if c is None:
        raise ValidationFailed(FieldProblem("customer", _("No customer %(c)s.") % {"c": str(code)[:40]}, "unknown"))
    return c


def do_create_gateway(*, actor: User | None, name: str, customer: str | None = None,
                      scope: str = GatewayScope.INGEST) -> tuple[Gateway, str]:
    """The row and the clear-text token (never stored, never shown again)."""
    problems = []
    name = (name or "").strip()
    if not name:
        problems.append(FieldProblem("name", _("This field is required."), "required"))
    elif len(name) > 100:
        problems.append(FieldProblem("name", _("At most 100 characters."), "too_long"))
    if scope not in GatewayScope.values:
        problems.append(FieldProblem("scope", _("One of: %(v)s.") % {"v": ", ".join(GatewayScope.values)}, "choice"))
    try:
        cust = _customer(customer)
    except ValidationFailed as e:
        problems.extend(e.problems)
        cust = None
    if problems:
        raise ValidationFailed(problems)
    clear = GATEWAY_TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        g = Gateway.objects.create(name=name, customer=cust, scope=scope, prefix=clear[:10],
                                   token_hash=hash_token(clear), created_at=now(), created_by=actor)
        record_change(actor=actor, kind="telemetry_gateway", obj=g, before=None, after=_gateway_snapshot(g))
    return g, clear


def do_revoke_gateway(*, actor: User | None, gateway: Gateway) -> Gateway:
    if gateway.active:
        with transaction.atomic():
            before = _gateway_snapshot(gateway)
            gateway.active = False
            gateway.revoked_at = now()
            gateway.save(update_fields=["active", "revoked_at"])
            record_change(actor=actor, kind="telemetry_gateway", obj=gateway, before=before,
                          after=_gateway_snapshot(gateway), action="revoked")
    return gateway


def authenticate_gateway(clear: str) -> Gateway | None:
    """The active gateway holding this token, or None. Touches last_seen_at at most once a minute."""
    if not clear.startswith(GATEWAY_TOKEN_PREFIX) or len(clear) > 200:
        return None
    g = Gateway.objects.filter(token_hash=hash_token(clear)).order_by().first()
    if g is None or not g.active:
        return None
    t = now()
    if g.last_seen_at is None or (t - g.last_seen_at).total_seconds() > 60:
        Gateway.objects.filter(pk=g.pk).update(last_seen_at=t)
        g.last_seen_at = t
    return g


# ---- meters ---------------------------------------------------------------------------------------

def _clean_meter(kind, unit, mode) -> list[FieldProblem]:
    problems = []
    if not isinstance(kind, str) or not variables.KIND_RE.match(kind):
        problems.append(FieldProblem("kind", _("Lower-case letters, digits and _, starting with a letter "
                                               "(at most 40), e.g. running_hours."), "invalid"))
    if not isinstance(unit, str) or not unit.strip() or len(unit.strip()) > 20:
        problems.append(FieldProblem("unit", _("1 to 20 characters, e.g. h or °C."), "invalid"))
    if mode not in MeterMode.values:
        problems.append(FieldProblem("mode", _("One of: %(v)s.") % {"v": ", ".join(MeterMode.values)}, "choice"))
    return problems


def do_add_meters(*, actor: User | None, assets: list[Asset], kind: str, unit: str,
                  mode: str = MeterMode.GAUGE) -> int:
    """Give each asset a meter of `kind` (those that have one keep theirs). Returns how many
    were added. A unit differing from an existing meter's is refused (readings would not match)."""
    problems = _clean_meter(kind, unit, mode)
    if not assets:
        problems.append(FieldProblem("assets", _("Choose at least one asset."), "required"))
    if problems:
        raise ValidationFailed(problems)
    unit = unit.strip()
    ids = [a.pk for a in assets]
    existing = dict(Meter.objects.filter(asset_id__in=ids, kind=kind).values_list("asset_id", "unit"))
    clash = sorted({u for u in existing.values() if u != unit})
    if clash:
        raise ValidationFailed(FieldProblem("unit", _("Meters of %(k)s already count in %(u)s.")
                                            % {"k": kind, "u": ", ".join(clash)}, "unit_mismatch"))
    t = now()
    new = [Meter(asset_id=i, kind=kind, unit=unit, mode=mode, created_at=t) for i in ids if i not in existing]
    with transaction.atomic():
        Meter.objects.bulk_create(new, ignore_conflicts=True)
        if new:
            record_change(actor=actor, kind="telemetry_meter", obj_id=kind, label=f"{kind} ({unit})", before=None,
                          after={"kind": kind, "unit": unit, "mode": mode, "assets": len(new)})
    return len(new)


def do_delete_meter(*, actor: User | None, meter: Meter) -> None:
    """The meter goes; its readings stay (a new meter of the kind finds them again)."""
    with transaction.atomic():
        record_change(actor=actor, kind="telemetry_meter", obj_id=meter.pk, label=f"{meter.asset.serial_number} "
                      f"{meter}", before=snapshot(meter), after=None)
        meter.delete()


# ---- conditions -----------------------------------------------------------------------------------

CONDITION_FIELDS = {"name", "expression", "description", "active", "builder"}


def check_expression(expression: str, field: str = "expression") -> list[variables.Ref]:
    """Refuse an expression that does not compile, names a statistic we cannot compute, or is
    not true/false; returns its telemetry references."""
    if not isinstance(expression, str) or not expression.strip():
        raise ValidationFailed(FieldProblem(field, _("This field is required."), "required"))
    if len(expression) > 2000:
        raise ValidationFailed(FieldProblem(field, _("At most 2000 characters."), "too_long"))
    ref_list = variables.refs(expression, field=field)
    ctx = variables.sample_context()
    for r in ref_list:
        if r.source == "alarms":
            ctx["alarms"].setdefault(r.kind, {})[r.stat] = 0
        else:
            ctx["reading"].setdefault(r.kind, {})[r.stat] = 0.0
    cel.check_condition(expression, ctx, field=field)
    return ref_list


def _clean_condition(data: dict, problems: list, *, creating: bool, instance: Condition | None = None) -> dict:
    problems.extend(FieldProblem(k, _("Unknown field."), "unknown") for k in sorted(set(data) - CONDITION_FIELDS))
    clean = {}
    if "name" in data or creating:
        name = (data.get("name") or "").strip() if isinstance(data.get("name"), str | type(None)) else None
        if not name:
            problems.append(FieldProblem("name", _("This field is required."), "required"))
        elif len(name) > 100:
            problems.append(FieldProblem("name", _("At most 100 characters."), "too_long"))
        elif Condition.objects.filter(name=name).exclude(pk=instance.pk if instance else None).exists():
            problems.append(FieldProblem("name", _("Already in use."), "unique"))
        else:
            clean["name"] = name
    if "expression" in data or creating:
        try:
            check_expression(data.get("expression"))
            clean["expression"] = data["expression"].strip()
        except ValidationFailed as e:
            problems.extend(e.problems)
    if "description" in data:
        d = data["description"] or ""
        if not isinstance(d, str) or len(d) > 300:
            problems.append(FieldProblem("description", _("At most 300 characters."), "too_long"))
        else:
            clean["description"] = d
    if "active" in data:
        if not isinstance(data["active"], bool):
            problems.append(FieldProblem("active", _("true or false."), "invalid"))
        else:
            clean["active"] = data["active"]
    if "builder" in data:
        b = data["builder"] or {}
        if not isinstance(b, dict) or len(json.dumps(b)) > 2000:
            problems.append(FieldProblem("builder", _("An object (at most 2000 characters)."), "invalid"))
        else:
            clean["builder"] = b
    return clean


def do_create_condition(*, actor: User | None, data: dict) -> Condition:
    problems: list[FieldProblem] = []
    clean = _clean_condition(data, problems, creating=True)
    if problems:
        raise ValidationFailed(problems)
    with transaction.atomic():
        t = now()
        c = Condition.objects.create(**clean, created_at=t, updated_at=t)
        record_change(actor=actor, kind="telemetry_condition", obj=c, before=None,
                      after=snapshot(c, exclude=("created_at", "updated_at")))
    return c


def do_update_condition(*, actor: User | None, condition: Condition, data: dict) -> Condition:
    problems: list[FieldProblem] = []
    clean = _clean_condition(data, problems, creating=False, instance=condition)
    if problems:
        raise ValidationFailed(problems)
    with transaction.atomic():
        before = snapshot(condition, exclude=("created_at", "updated_at"))
        for k, v in clean.items():
            setattr(condition, k, v)
        condition.updated_at = now()
        condition.save()
        record_change(actor=actor, kind="telemetry_condition", obj=condition, before=before,
                      after=snapshot(condition, exclude=("created_at", "updated_at")))
    return condition


def do_delete_condition(*, actor: User | None, condition: Condition) -> None:
    with transaction.atomic():
        record_change(actor=actor, kind="telemetry_condition", obj_id=condition.pk, label=condition.name,
                      before=snapshot(condition, exclude=("created_at", "updated_at")), after=None)
        condition.delete()


# ---- ingestion ------------------------------------------------------------------------------------

READING_KEYS = {"type", "asset", "asset_id", "kind", "at", "value", "unit"}
ALARM_KEYS = {"type", "asset", "asset_id", "kind", "at", "severity", "payload"}


class _Item:
    __slots__ = ("index", "type", "serial", "asset_pk", "kind", "at", "value", "unit", "severity", "payload",
                 "asset_id", "errors", "status")

    def __init__(self, index):
        self.index = index
        self.errors: list[dict] = []
        self.status = None
        self.asset_id = None
        self.serial = self.asset_pk = self.unit = self.type = self.kind = self.at = None
        self.value = None
        self.severity = Severity.WARNING
        self.payload = {}

    def problem(self, field: str, message: str, code: str) -> None:
        self.errors.append({"field": f"items[{self.index}].{field}" if field else f"items[{self.index}]",
                            "message": str(message), "code": code})


def _parse_at(raw, item: _Item, latest: datetime):
    if isinstance(raw, bool) or raw is None:
        item.problem("at", _("A time is required: ISO 8601 with a time zone, e.g. 2026-12-07T08:30:00Z."),
                     "required" if raw is None else "invalid")
        return None
    if isinstance(raw, int | float):
        if not math.isfinite(raw) or not (0 <= raw < 1e11):
            item.problem("at", _("Not a time: seconds since 1970 or ISO 8601 with a time zone."), "invalid")
            return None
        at = datetime.fromtimestamp(raw, tz=UTC)
    elif isinstance(raw, str) and len(raw) <= 40:
        try:
            at = parse_datetime(raw.strip())
        except ValueError:
            at = None
        if at is None:
            item.problem("at", _("Not a time: use ISO 8601 with a time zone, e.g. 2026-12-07T08:30:00Z."), "invalid")
            return None
        if at.tzinfo is None:
            item.problem("at", _("The time needs a time zone (Z or +08:00)."), "no_time_zone")
            return None
        at = at.astimezone(UTC)
    else:
        item.problem("at", _("Not a time: use ISO 8601 with a time zone, e.g. 2026-12-07T08:30:00Z."), "invalid")
        return None
    if at > latest:
        item.problem("at", _("In the future beyond the tolerance (%(s)d seconds): check the device's clock.")
                     % {"s": int(future_tolerance().total_seconds())}, "future")
        return None
    if at < EARLIEST:
        item.problem("at", _("Before the year 2000: check the device's clock."), "too_old")
        return None
    return at


def _parse_item(index: int, raw, gateway: Gateway, latest: datetime) -> _Item:
    item = _Item(index)
    if not isinstance(raw, dict):
        item.problem("", _("Each item is an object."), "invalid")
        return item
    t = raw.get("type")
    if t not in ("reading", "alarm"):
        item.problem("type", _("reading or alarm."), "invalid" if t is not None else "required")
        return item
    item.type = t
    for k in sorted(set(raw) - (READING_KEYS if t == "reading" else ALARM_KEYS)):
        item.problem(str(k)[:40], _("Unknown field."), "unknown")
    if not gateway.allows(t):
        item.problem("type", _("This gateway's scope (%(s)s) does not cover %(t)s items.")
                     % {"s": gateway.get_scope_display(), "t": t}, "insufficient_scope")
    serial, pk = raw.get("asset"), raw.get("asset_id")
    if (serial is None) == (pk is None):
        item.problem("asset", _("Name the asset by its serial number (asset) or its id (asset_id), one of them."),
                     "required" if serial is None else "invalid")
    elif serial is not None:
        if not isinstance(serial, str) or not serial.strip() or len(serial) > 100:
            item.problem("asset", _("A serial number (text, at most 100 characters)."), "invalid")
        else:
            item.serial = serial.strip()
    elif isinstance(pk, bool) or not isinstance(pk, int) or pk <= 0:
        item.problem("asset_id", _("A positive whole number."), "invalid")
    else:
        item.asset_pk = pk
    kind = raw.get("kind")
    if not isinstance(kind, str) or not variables.KIND_RE.match(kind):
        item.problem("kind", _("Lower-case letters, digits and _, starting with a letter (at most 40)."),
                     "required" if kind is None else "invalid")
    else:
        item.kind = kind
    item.at = _parse_at(raw.get("at"), item, latest)
    if t == "reading":
        v = raw.get("value")
        if isinstance(v, bool) or not isinstance(v, int | float):
            item.problem("value", _("A number (JSON number, not text)."), "required" if v is None else "invalid")
        elif not math.isfinite(v) or abs(v) > 1e15:
            item.problem("value", _("Not a usable number."), "invalid")
        else:
            item.value = float(v)
        u = raw.get("unit")
        if u is not None:
            if not isinstance(u, str) or len(u) > 20:
                item.problem("unit", _("Text, at most 20 characters."), "invalid")
            else:
                item.unit = u.strip()
    else:
        sev = raw.get("severity", Severity.WARNING)
        if sev not in Severity.values:
            item.problem("severity", _("One of: %(v)s.") % {"v": ", ".join(Severity.values)}, "choice")
        else:
            item.severity = sev
        p = raw.get("payload", {})
        if p is None:
            p = {}
        if not isinstance(p, dict):
            item.problem("payload", _("An object."), "invalid")
        elif len(json.dumps(p, ensure_ascii=False)) > MAX_PAYLOAD_BYTES:
            item.problem("payload", _("At most %(n)d characters.") % {"n": MAX_PAYLOAD_BYTES}, "too_long")
        else:
            item.payload = p
    return item


def _insert(model, columns: list[str], rows: list[tuple]) -> set[tuple]:
    """INSERT … ON CONFLICT DO NOTHING RETURNING asset_id, kind, at: the keys actually stored."""
    if not rows:
        return set()
    table = connection.ops.quote_name(model._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(c) for c in columns)
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    stored = set()
    chunk = 500
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        sql = (f"INSERT INTO {table} ({cols}) VALUES {', '.join([one] * len(part))} "
               f"ON CONFLICT DO NOTHING RETURNING asset_id, kind, at")
        with connection.cursor() as cur:
            cur.execute(sql, [v for row in part for v in row])
            stored.update((a, k, _key_time(t)) for a, k, t in cur.fetchall())
    return stored


def _key_time(t):
    """A stored time as a comparable key on both databases (SQLite gives its text back)."""
    if isinstance(t, str):
        t = datetime.fromisoformat(t)
    # SQLite gives naive UTC (text, or a datetime through its column-type converter).
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def ingest(*, gateway: Gateway, items: list) -> dict:
    """Store a batch: per item accepted / duplicate / rejected (with errors naming
    items[i].field). One transaction; listeners are told after it commits."""
    if not isinstance(items, list):
        raise ValidationFailed(FieldProblem("items", _("A list of items."), "invalid"))
    if len(items) > MAX_BATCH:
        raise ValidationFailed(FieldProblem("items", _("At most %(n)d items per batch.") % {"n": MAX_BATCH},
                                            "too_many"))
    received = now()
    latest = received + future_tolerance()
    parsed = [_parse_item(i, raw, gateway, latest) for i, raw in enumerate(items)]

    serials = {it.serial for it in parsed if it.serial}
    pks = {it.asset_pk for it in parsed if it.asset_pk}
    by_serial, known_pks = {}, set()
    if serials or pks:
        from django.db.models import Q

        qs = Asset.objects.filter(Q(serial_number__in=serials) | Q(pk__in=pks)).order_by()
        if gateway.customer_id:
            qs = qs.filter(customer_id=gateway.customer_id)
        for pk, serial in qs.values_list("pk", "serial_number"):
            by_serial[serial] = pk
            known_pks.add(pk)
    for it in parsed:
        if it.serial is not None:
            it.asset_id = by_serial.get(it.serial)
            if it.asset_id is None:
                it.problem("asset", _("No asset with serial number %(s)s%(scope)s.")
                           % {"s": it.serial[:100], "scope": _(" for this gateway's customer")
                              if gateway.customer_id else ""}, "unknown_asset")
        elif it.asset_pk is not None:
            if it.asset_pk in known_pks:
                it.asset_id = it.asset_pk
            else:
                it.problem("asset_id", _("No asset with id %(i)d%(scope)s.")
                           % {"i": it.asset_pk, "scope": _(" for this gateway's customer")
                              if gateway.customer_id else ""}, "unknown_asset")

    reading_items = [it for it in parsed if it.type == "reading" and it.asset_id and it.kind]
    meters = {}
    if reading_items:
        meters = {(a, k): u for a, k, u in Meter.objects.filter(
            asset_id__in={it.asset_id for it in reading_items},
            kind__in={it.kind for it in reading_items}).order_by().values_list("asset_id", "kind", "unit")}
    for it in reading_items:
        unit = meters.get((it.asset_id, it.kind))
        if unit is None:
            it.problem("kind", _("This asset has no %(k)s meter (add it in Settings → Meters and alarms).")
                       % {"k": it.kind}, "no_meter")
        elif it.unit is not None and it.unit != unit:
            it.problem("unit", _("The %(k)s meter counts in %(u)s, not %(got)s.")
                       % {"k": it.kind, "u": unit, "got": it.unit[:20]}, "unit_mismatch")

    at_field = Reading._meta.get_field("at")
    payload_field = AlarmEvent._meta.get_field("payload")
    rec = at_field.get_db_prep_value(received, connection)
    gid = gateway.pk
    seen: dict[tuple, int] = {}
    readings, alarms = [], []
    keyed: list[tuple[_Item, tuple]] = []
    for it in parsed:
        if it.errors:
            it.status = "rejected"
            continue
        key = (it.type, it.asset_id, it.kind, it.at)
        if key in seen:
            it.status = "duplicate"
            continue
        seen[key] = it.index
        keyed.append((it, key))
        at = at_field.get_db_prep_value(it.at, connection)
        if it.type == "reading":
            readings.append((it.asset_id, it.kind, at, it.value, gid, rec))
        else:
            alarms.append((it.asset_id, it.kind, at, it.severity,
                           payload_field.get_db_prep_value(it.payload, connection), gid, rec))
    with transaction.atomic():
        stored_r = _insert(Reading, ["asset_id", "kind", "at", "value", "gateway_id", "received_at"], readings)
        stored_a = _insert(AlarmEvent, ["asset_id", "kind", "at", "severity", "payload", "gateway_id",
                                        "received_at"], alarms)
        touched_assets, touched_kinds = set(), set()
        for it, (t, aid, kind, at) in keyed:
            if (aid, kind, at) in (stored_r if t == "reading" else stored_a):
                it.status = "accepted"
                touched_assets.add(aid)
                touched_kinds.add(kind)
            else:
                it.status = "duplicate"
        if touched_assets and _listeners:
            transaction.on_commit(lambda: _tell_listeners(touched_assets, touched_kinds))
    results = []
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    for it in parsed:
        counts[it.status] += 1
        row = {"index": it.index, "status": it.status}
        if it.errors:
            row["errors"] = it.errors
        results.append(row)
    return {**counts, "items": results}


def get_condition(pk: int) -> Condition:
    c = Condition.objects.filter(pk=pk).first()
    if c is None:
        raise NotFound(_("No such condition."))
    return c
