"""Every write of parts and stock. Each public do_* is one transaction.

Stock levels change only here, and every decrease is one conditional UPDATE
(`_take`): two engineers issuing the last bottle at the same instant get one success and
one 409 naming the part and the location, never a negative level. A movement with a key
(the phone's operation id) is written once: a replay returns the first movement and
draws nothing again.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role
from closeloop.audit.services import record_change, snapshot
from closeloop.core.clock import now
from closeloop.core.errors import DomainError, FieldProblem, Forbidden, ValidationFailed
from closeloop.core.validation import Cleaner

from .models import (
    Location,
    LocationKind,
    Movement,
    MovementKind,
    Part,
    ReorderPoint,
    Reservation,
    ReservationStatus,
    Stock,
)

MAX_QTY = Decimal("1000000")
STEP = Decimal("0.01")
READ_ROLES = {Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.FINANCE, Role.ENGINEER}
MOVE_ROLES = {Role.ADMIN, Role.MANAGER, Role.DISPATCHER}
MANAGE_ROLES = {Role.ADMIN, Role.MANAGER}


def may_read(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.role in READ_ROLES))


def may_move(user) -> bool:
    """Receipts, transfers, returns, adjustments and reservations."""
    return bool(user and user.is_authenticated and (user.is_superuser or user.role in MOVE_ROLES))


def may_manage(user) -> bool:
    """The catalogue, the locations and the reorder points."""
    return bool(user and user.is_authenticated and (user.is_superuser or user.role in MANAGE_ROLES))


class InsufficientStock(DomainError):
    """409: the location holds less of the part than asked for (nothing was changed)."""

    def __init__(self, part: Part, location: Location, available: Decimal, wanted: Decimal, field: str = "quantity"):
        msg = _("Not enough %(part)s at %(location)s: %(available)s available, %(wanted)s needed.") % {
            "part": f"{part.number} {part.name}", "location": location.name,
            "available": _fmt(available), "wanted": _fmt(wanted)}
        super().__init__(msg, 409, "insufficient_stock", [FieldProblem(field, msg, "insufficient_stock")],
                         {"part": part.number, "location": location.code, "available": _fmt(available),
                          "wanted": _fmt(wanted)})


def _fmt(q) -> str:
    q = Decimal(q or 0)
    return f"{q.normalize():f}" if q == q.to_integral() else f"{q:f}"


def quantity(value, field: str, problems: list[FieldProblem], *, allow_negative: bool = False) -> Decimal | None:
    if isinstance(value, bool) or value is None or value == "":
        problems.append(FieldProblem(field, _("A positive number."), "required" if value in (None, "") else "invalid"))
        return None
    try:
        q = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        q = None
    if q is None or not q.is_finite() or abs(q) > MAX_QTY or (q <= 0 and not allow_negative) or q == 0 \
            or q != q.quantize(STEP):
        problems.append(FieldProblem(field, _("A positive number.") if not allow_negative
                                     else _("A number other than zero."), "invalid"))
        return None
    return q.quantize(STEP)


def _ref(model, value, field: str, problems: list, *, by: str, label: str, required: bool = True):
    if isinstance(value, model):
        return value
    if value in (None, ""):
        if required:
            problems.append(FieldProblem(field, _("This field is required."), "required"))
        return None
    if by == "pk" and (isinstance(value, bool) or not isinstance(value, int)):
        problems.append(FieldProblem(field, _("Must be a number."), "invalid"))
        return None
    if not isinstance(value, (str, int)):
        problems.append(FieldProblem(field, _("Must be text."), "invalid"))
        return None
    obj = model.objects.filter(**{by: value}).first()
    if obj is None:
        problems.append(FieldProblem(field, _("No %(what)s %(v)s.") % {"what": label, "v": value}, "not_found"))
    return obj


def _key(value, problems) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 200:
        problems.append(FieldProblem("key", _("At most %(n)d characters.") % {"n": 200}, "invalid"))
        return None
    return value


def _note(value, problems, *, required=False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str) or len(value) > 500:
        problems.append(FieldProblem("note", _("At most %(n)d characters.") % {"n": 500}, "invalid"))
        return ""
    if required and not value.strip():
        problems.append(FieldProblem("note", _("Say why (this field is required)."), "required"))
    return value.strip()


# ---- stock primitives (inside a transaction) ------------------------------------------------------

def _give(part: Part, location: Location, qty: Decimal, t) -> None:
    row = Stock.objects.filter(part=part, location=location)
    if not row.update(quantity=F("quantity") + qty, updated_at=t):
        try:
            with transaction.atomic():
                Stock.objects.create(part=part, location=location, quantity=qty, updated_at=t)
        except IntegrityError:  # created meanwhile by another transaction
            row.update(quantity=F("quantity") + qty, updated_at=t)


def _take(part: Part, location: Location, qty: Decimal, t, field: str = "quantity") -> None:
    """The one way stock goes down: refused (409) rather than below zero."""
    if not Stock.objects.filter(part=part, location=location, quantity__gte=qty).update(
            quantity=F("quantity") - qty, updated_at=t):
        have = Stock.objects.filter(part=part, location=location).values_list("quantity", flat=True).first()
        raise InsufficientStock(part, location, have or Decimal(0), qty, field)


def _existing(key: str | None) -> Movement | None:
    return Movement.objects.filter(key=key).first() if key else None


def _append_movement(kind, part, qty, *, source=None, target=None, work_order=None, key=None, note="", actor=None, t=None
            ) -> tuple[Movement, bool]:
    """Append the movement (its key first, so a concurrent replay waits and then finds it);
    returns (movement, created)."""
    m = Movement(kind=kind, part=part, quantity=qty, source=source, target=target, work_order=work_order, key=key,
                 note=note, actor=actor, at=t or now())
    if key:
        try:
            with transaction.atomic():
                m.save()
        except IntegrityError:
            return Movement.objects.get(key=key), False
    else:
        m.save()
    return m, True


def _move(kind, *, actor, part, qty, source=None, target=None, work_order=None, key=None, note="") -> Movement:
    with transaction.atomic():
        t = now()
        m, created = _append_movement(kind, part, qty, source=source, target=target, work_order=work_order, key=key,
                             note=note, actor=actor, t=t)
        if not created:
            return m
        if source is not None:
            _take(part, source, qty, t)
        if target is not None:
            _give(part, target, qty, t)
        if kind == MovementKind.ISSUE and work_order is not None:
            _use_reservation(work_order, part, qty, t)
    return m


def _use_reservation(wo, part, qty, t) -> None:
    r = Reservation.objects.select_for_update().filter(work_order=wo, part=part,
                                                       status=ReservationStatus.OPEN).first()
    if r is not None and qty >= r.quantity:
        Reservation.objects.filter(pk=r.pk).update(status=ReservationStatus.USED, updated_at=t)


# ---- movements ------------------------------------------------------------------------------------

def _movement_input(actor, data: dict, *, source: bool, target: bool, allow_negative=False, note_required=False):
    if not may_move(actor):
        raise Forbidden(_("Only dispatchers, managers and administrators move stock."))
    problems: list[FieldProblem] = []
    part = _ref(Part, data.get("part"), "part", problems, by="number", label=_("part"))
    qty = quantity(data.get("quantity"), "quantity", problems, allow_negative=allow_negative)
    src = _ref(Location, data.get("source"), "source", problems, by="code", label=_("location")) if source else None
    dst = _ref(Location, data.get("target"), "target", problems, by="code", label=_("location")) if target else None
    if src is not None and dst is not None and src.pk == dst.pk:
        problems.append(FieldProblem("target", _("Choose a location other than the source."), "invalid"))
    note = _note(data.get("note"), problems, required=note_required)
    key = _key(data.get("key"), problems)
    if problems:
        raise ValidationFailed(problems)
    return part, qty, src, dst, note, key


def do_receive(*, actor, data: dict) -> Movement:
    """Goods in: `part` (number), `target` (location code), `quantity`, `note`, `key`."""
    part, qty, _s, dst, note, key = _movement_input(actor, data, source=False, target=True)
    return _move(MovementKind.RECEIPT, actor=actor, part=part, qty=qty, target=dst, key=key, note=note)


def do_transfer(*, actor, data: dict) -> Movement:
    """From `source` to `target` (e.g. the regional warehouse to a van)."""
    part, qty, src, dst, note, key = _movement_input(actor, data, source=True, target=True)
    return _move(MovementKind.TRANSFER, actor=actor, part=part, qty=qty, source=src, target=dst, key=key, note=note)


def do_return(*, actor, data: dict) -> Movement:
    """A part back into stock at `target` (unused, from a work order `work_order` if given)."""
    from closeloop.workorders.models import WorkOrder

    part, qty, _s, dst, note, key = _movement_input(actor, data, source=False, target=True)
    problems: list[FieldProblem] = []
    wo = _ref(WorkOrder, data.get("work_order"), "work_order", problems, by="code", label=_("work order"),
              required=False)
    if problems:
        raise ValidationFailed(problems)
    return _move(MovementKind.RETURN, actor=actor, part=part, qty=qty, target=dst, work_order=wo, key=key, note=note)


def do_adjust(*, actor, data: dict) -> Movement:
    """A count correction at `location`: `quantity` signed (−2 takes two away), `note` required."""
    if not may_move(actor):
        raise Forbidden(_("Only dispatchers, managers and administrators move stock."))
    problems: list[FieldProblem] = []
    part = _ref(Part, data.get("part"), "part", problems, by="number", label=_("part"))
    loc = _ref(Location, data.get("location"), "location", problems, by="code", label=_("location"))
    qty = quantity(data.get("quantity"), "quantity", problems, allow_negative=True)
    note = _note(data.get("note"), problems, required=True)
    key = _key(data.get("key"), problems)
    if problems:
        raise ValidationFailed(problems)
    if qty < 0:
        return _move(MovementKind.ADJUSTMENT, actor=actor, part=part, qty=-qty, source=loc, key=key, note=note)
    return _move(MovementKind.ADJUSTMENT, actor=actor, part=part, qty=qty, target=loc, key=key, note=note)


def issue_to_work_order(*, actor, part: Part, location: Location, qty: Decimal, work_order, key: str | None = None,
                        note: str = "") -> Movement:
    """Parts used on a work order, drawn from `location` (the engineer's van) exactly once per
    `key`. The caller checked who may record it (fieldwork: the assignee or a dispatcher).
    Raises InsufficientStock (409) when the location holds less."""
    return _move(MovementKind.ISSUE, actor=actor, part=part, qty=qty, source=location, work_order=work_order,
                 key=key, note=note)


def do_issue(*, actor, data: dict, work_order) -> Movement:
    """Stock staff issue a part to a work order from any location (`source`)."""
    part, qty, src, _d, note, key = _movement_input(actor, data, source=True, target=False)
    return issue_to_work_order(actor=actor, part=part, location=src, qty=qty, work_order=work_order, key=key,
                               note=note)


# ---- reservations ---------------------------------------------------------------------------------

def do_reserve_parts(*, actor, work_order, items: list[dict], location=None) -> list[Reservation]:
    """Reserve parts for a planned or dispatched work order: items [{"part_id": 3, "quantity": 2}]
    (or {"part": "<number>"}). Reserving a part again sets its quantity. `location` (a
    Location or its code) says where they are held. `actor` None: the system (plans)."""
    if actor is not None and not may_move(actor):
        raise Forbidden(_("Only dispatchers, managers and administrators reserve parts."))
    problems: list[FieldProblem] = []
    if not isinstance(items, list) or not items:
        raise ValidationFailed(FieldProblem("items", _("List at least one part."), "required"))
    if len(items) > 200:
        raise ValidationFailed(FieldProblem("items", _("At most %(n)d items.") % {"n": 200}))
    loc = _ref(Location, location, "location", problems, by="code", label=_("location"), required=False)
    wanted: dict[int, tuple[Part, Decimal]] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(FieldProblem(f"items[{i}]", _("Must be an object."), "invalid"))
            continue
        if "part_id" in item:
            part = _ref(Part, item.get("part_id"), f"items[{i}].part_id", problems, by="pk", label=_("part"))
        else:
            part = _ref(Part, item.get("part"), f"items[{i}].part", problems, by="number", label=_("part"))
        qty = quantity(item.get("quantity"), f"items[{i}].quantity", problems)
        if part is not None and qty is not None:
            prev = wanted.get(part.pk)
            wanted[part.pk] = (part, qty + (prev[1] if prev else 0))
    if problems:
        raise ValidationFailed(problems)
    out = []
    with transaction.atomic():
        t = now()
        for part, qty in wanted.values():
            r, created = Reservation.objects.get_or_create(
                work_order=work_order, part=part,
                defaults={"quantity": qty, "location": loc, "actor": actor, "created_at": t, "updated_at": t})
            if not created:
                r.quantity, r.location, r.status, r.actor, r.updated_at = qty, loc, ReservationStatus.OPEN, actor, t
                r.save(update_fields=["quantity", "location", "status", "actor", "updated_at"])
            out.append(r)
    return out


def do_release_reservation(*, actor, reservation: Reservation) -> Reservation:
    if not may_move(actor):
        raise Forbidden(_("Only dispatchers, managers and administrators reserve parts."))
    with transaction.atomic():
        Reservation.objects.filter(pk=reservation.pk, status=ReservationStatus.OPEN).update(
            status=ReservationStatus.RELEASED, updated_at=now())
    reservation.refresh_from_db()
    return reservation


def release_with_work_order(ctx) -> None:
    """Lifecycle effect (cancel): the work order's open reservations are released."""
    Reservation.objects.filter(work_order=ctx.wo, status=ReservationStatus.OPEN).update(
        status=ReservationStatus.RELEASED, updated_at=now())


# ---- configuration: catalogue, locations, reorder points ------------------------------------------

PART_FIELDS = {"number", "name", "unit", "vendor", "price", "asset_models", "is_active"}


def _models_list(c: Cleaner) -> None:
    if c._skip("asset_models"):
        return
    value = c.data.get("asset_models")
    if value is None:
        value = []
    if isinstance(value, str):
        value = [v.strip() for v in value.replace("，", ",").split(",") if v.strip()]
    if not isinstance(value, list) or len(value) > 100 or not all(isinstance(v, str) and 0 < len(v) <= 100
                                                                   for v in value):
        return c.problem("asset_models", _("A list of up to 100 model names."))
    c.out["asset_models"] = sorted(set(v.strip() for v in value))


def do_save_part(*, actor, data: dict, part: Part | None = None) -> Part:
    """Create (part None) or update a catalogue entry; the part number is unique."""
    if not may_manage(actor):
        raise Forbidden(_("Only managers and administrators edit the parts catalogue."))
    c = Cleaner(data, partial=part is not None, allowed=PART_FIELDS)
    c.text("number", max_len=60, required=True)
    c.unique("number", Part, exclude=part, message=_("Part number %(v)s already exists.") % {"v": data.get("number")})
    c.text("name", max_len=200, required=True)
    c.text("unit", max_len=20)
    c.text("vendor", max_len=200)
    c.decimal("price", lo=0, hi=Decimal("9999999999"), step=STEP)
    if "price" in c.out and c.out["price"] is None:
        c.out.pop("price")
    _models_list(c)
    c.boolean("is_active", default=True)
    c.check()
    with transaction.atomic():
        before = snapshot(part)
        obj = part or Part(created_at=now())
        for k, v in c.out.items():
            setattr(obj, k, v)
        try:
            with transaction.atomic():
                obj.save()
        except IntegrityError:
            raise ValidationFailed(FieldProblem("number", _("Part number %(v)s already exists.") % {
                "v": obj.number}, "unique")) from None
        record_change(actor=actor, kind="part", obj=obj, before=before, after=snapshot(obj))
    return obj


LOCATION_FIELDS = {"code", "name", "kind", "user", "region", "is_active"}


def do_save_location(*, actor, data: dict, location: Location | None = None) -> Location:
    """A warehouse or an engineer's van (`user`: the engineer's username; `region`: the
    regional warehouse's code)."""
    from closeloop.accounts.models import User

    if not may_manage(actor):
        raise Forbidden(_("Only managers and administrators edit stock locations."))
    c = Cleaner(data, partial=location is not None, allowed=LOCATION_FIELDS)
    if location is None:
        c.slug("code")
        c.unique("code", Location)
    elif "code" in data and data["code"] != location.code:
        c.problem("code", _("The code cannot be changed."))
    c.text("name", max_len=200, required=True)
    c.choice("kind", LocationKind.values)
    c.ref("user", User.objects.filter(is_active=True, role=Role.ENGINEER), by="username", label=_("engineer"))
    c.ref("region", Location.objects.filter(kind=LocationKind.REGIONAL), by="code", label=_("regional warehouse"))
    c.boolean("is_active", default=True)
    kind = c.value("kind", location.kind if location else None)
    user = c.value("user", location.user if location else None)
    if kind == LocationKind.VAN and user is None and not c.failed("user"):
        c.problem("user", _("A van belongs to an engineer."), "required")
    if kind != LocationKind.VAN and user is not None:
        c.problem("user", _("Only a van belongs to an engineer."))
    if user is not None and Location.objects.filter(user=user).exclude(pk=location.pk if location else None).exists():
        c.problem("user", _("%(u)s already has a van.") % {"u": user.username}, "unique")
    c.check()
    with transaction.atomic():
        before = snapshot(location)
        obj = location or Location()
        for k, v in c.out.items():
            setattr(obj, k, v)
        try:
            with transaction.atomic():
                obj.save()
        except IntegrityError:
            raise ValidationFailed(FieldProblem("code", _("%(v)s is already taken.") % {"v": obj.code},
                                                "unique")) from None
        record_change(actor=actor, kind="stock_location", obj=obj, before=before, after=snapshot(obj))
    return obj


def do_set_reorder_point(*, actor, data: dict) -> ReorderPoint | None:
    """`part`, `location`, `minimum`, `target` (order up to, ≥ minimum); minimum empty removes it."""
    if not may_manage(actor):
        raise Forbidden(_("Only managers and administrators set reorder points."))
    problems: list[FieldProblem] = []
    unknown = sorted(set(data) - {"part", "location", "minimum", "target"})
    problems += [FieldProblem(k, _("Unknown field."), "unknown") for k in unknown]
    part = _ref(Part, data.get("part"), "part", problems, by="number", label=_("part"))
    loc = _ref(Location, data.get("location"), "location", problems, by="code", label=_("location"))
    remove = data.get("minimum") in (None, "")
    minimum = target = None
    if not remove:
        minimum = quantity(data.get("minimum"), "minimum", problems)
        target = quantity(data.get("target"), "target", problems)
        if minimum is not None and target is not None and target < minimum:
            problems.append(FieldProblem("target", _("Order up to at least the minimum."), "range"))
    if problems:
        raise ValidationFailed(problems)
    with transaction.atomic():
        rp = ReorderPoint.objects.filter(part=part, location=loc).first()
        before = snapshot(rp)
        if remove:
            if rp is not None:
                record_change(actor=actor, kind="reorder_point", obj=rp, before=before, after=None,
                              action="delete", obj_id=rp.pk, label=str(part.number))
                rp.delete()
            return None
        rp, _c = ReorderPoint.objects.update_or_create(part=part, location=loc, defaults={
            "minimum": minimum, "target": target, "updated_at": now()})
        record_change(actor=actor, kind="reorder_point", obj=rp, before=before, after=snapshot(rp),
                      label=f"{part.number} @ {loc.code}")
    return rp
