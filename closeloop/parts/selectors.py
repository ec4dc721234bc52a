"""Permission-checked reads of parts and stock, the missing-part warnings (work order page,
dispatch suggestions), reorder warnings and the fleet view."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils.translation import gettext as _

from closeloop.core.clock import now
from closeloop.core.errors import Forbidden, NotFound

from . import services
from .models import (
    Location,
    LocationKind,
    Movement,
    Part,
    ReorderPoint,
    Reservation,
    ReservationStatus,
    Stock,
)

#: Work order kinds that count as a failure of the asset (corrective work).
FAILURE_KINDS = ("repair", "after_sales")


def _require_read(user) -> None:
    if not services.may_read(user):
        raise Forbidden(_("Your role does not see stock."))


def parts(user, *, q: str = "", active_only: bool = False):
    _require_read(user)
    qs = Part.objects.all()
    if q:
        qs = qs.filter(Q(number__icontains=q) | Q(name__icontains=q) | Q(vendor__icontains=q))
    if active_only:
        qs = qs.filter(is_active=True)
    return qs


def part(user, number: str) -> Part:
    _require_read(user)
    obj = Part.objects.filter(number=number).first()
    if obj is None:
        raise NotFound(_("No part %(n)s.") % {"n": number})
    return obj


def locations(user):
    _require_read(user)
    return Location.objects.select_related("user", "region")


def location(user, code: str) -> Location:
    _require_read(user)
    obj = Location.objects.select_related("user", "region").filter(code=code).first()
    if obj is None:
        raise NotFound(_("No stock location %(c)s.") % {"c": code})
    return obj


def stock(user, *, part: Part | None = None, location: Location | None = None):
    _require_read(user)
    qs = Stock.objects.select_related("part", "location")
    if part is not None:
        qs = qs.filter(part=part)
    if location is not None:
        qs = qs.filter(location=location)
    return qs


def movements(user, *, part: Part | None = None, location: Location | None = None, work_order=None):
    _require_read(user)
    qs = Movement.objects.select_related("part", "source", "target", "work_order", "actor")
    if part is not None:
        qs = qs.filter(part=part)
    if location is not None:
        qs = qs.filter(Q(source=location) | Q(target=location))
    if work_order is not None:
        qs = qs.filter(work_order=work_order)
    return qs


def reservations_for(work_order):
    """The work order's reservations (the caller has checked it may see the work order)."""
    return Reservation.objects.filter(work_order=work_order).select_related("part", "location")


def van_of(user) -> Location | None:
    if user is None:
        return None
    return Location.objects.select_related("region").filter(user=user, kind=LocationKind.VAN, is_active=True).first()


def needed_parts(work_order) -> dict[int, tuple[Part, Decimal]]:
    """What the work order needs: its open reservations (plans reserve their parts list)."""
    out: dict[int, tuple[Part, Decimal]] = {}
    for r in Reservation.objects.filter(work_order=work_order, status=ReservationStatus.OPEN).select_related("part"):
        out[r.part_id] = (r.part, r.quantity)
    return out


def _levels(part_ids, location_ids) -> dict[tuple[int, int], Decimal]:
    if not part_ids or not location_ids:
        return {}
    return {(p, loc): q for p, loc, q in Stock.objects.filter(part_id__in=part_ids, location_id__in=location_ids)
            .values_list("part_id", "location_id", "quantity")}


def parts_check(work_order, user_ids: list[int], needs=None) -> dict[int, list[dict]]:
    """For each engineer (user id): the needed parts their van lacks, each with `in_van`,
    `nearby` (their van's regional warehouse) and `status` "nearby" or "missing". An engineer
    whose van holds everything gets an empty list; one without a van gets every part as
    "no_van". Three queries whatever the number of engineers."""
    needs = needed_parts(work_order) if needs is None else needs
    if not needs or not user_ids:
        return {uid: [] for uid in user_ids}
    vans = {v.user_id: v for v in Location.objects.filter(user_id__in=user_ids, kind=LocationKind.VAN,
                                                          is_active=True)}
    loc_ids = {v.pk for v in vans.values()} | {v.region_id for v in vans.values() if v.region_id}
    levels = _levels(list(needs), loc_ids)
    out: dict[int, list[dict]] = {}
    for uid in user_ids:
        van = vans.get(uid)
        rows = []
        for pid, (p, qty) in needs.items():
            in_van = levels.get((pid, van.pk), Decimal(0)) if van else Decimal(0)
            if van and in_van >= qty:
                continue
            nearby = levels.get((pid, van.region_id), Decimal(0)) if van and van.region_id else Decimal(0)
            status = "no_van" if van is None else ("nearby" if in_van + nearby >= qty else "missing")
            rows.append({"part": p.number, "name": p.name, "unit": p.unit, "needed": qty, "in_van": in_van,
                         "nearby": nearby, "status": status, "van": van.name if van else "",
                         "region": van.region.name if van and van.region_id else ""})
        out[uid] = rows
    return out


def describe_missing(rows: list[dict]) -> str:
    """One line for a person: "制冷剂 R410A: 0 of 2 in the van, 5 at 华东仓"."""
    bits = []
    for r in rows:
        if r["status"] == "no_van":
            bits.append(_("%(part)s: no van on record") % {"part": r["name"]})
        elif r["status"] == "nearby":
            bits.append(_("%(part)s: %(have)s of %(need)s in the van, %(near)s at %(region)s") % {
                "part": r["name"], "have": services._fmt(r["in_van"]), "need": services._fmt(r["needed"]),
                "near": services._fmt(r["nearby"]), "region": r["region"]})
        else:
            bits.append(_("%(part)s: %(have)s of %(need)s in the van, none nearby") % {
                "part": r["name"], "have": services._fmt(r["in_van"]), "need": services._fmt(r["needed"])})
    return "; ".join(bits)


def annotate_suggestions(work_order, rows: list[dict], user_ids: list[int]) -> None:
    """Dispatch: add `parts_missing` (list) and `parts_warning` (text) to each suggestion row."""
    needs = needed_parts(work_order)
    checks = parts_check(work_order, user_ids, needs) if needs else {}
    for row, uid in zip(rows, user_ids, strict=True):
        missing = checks.get(uid, [])
        row["parts_missing"] = [{**m, "needed": str(m["needed"]), "in_van": str(m["in_van"]),
                                 "nearby": str(m["nearby"])} for m in missing]
        row["parts_warning"] = describe_missing(missing) if missing else ""


def reorder_warnings(user=None, *, location: Location | None = None) -> list[dict]:
    """Reorder points at or below their minimum: part, location, on hand, minimum, to order."""
    if user is not None:
        _require_read(user)
    rps = ReorderPoint.objects.select_related("part", "location")
    if location is not None:
        rps = rps.filter(location=location)
    rps = list(rps)
    levels = _levels({r.part_id for r in rps}, {r.location_id for r in rps})
    out = []
    for r in rps:
        have = levels.get((r.part_id, r.location_id), Decimal(0))
        if have <= r.minimum:
            out.append({"part": r.part, "location": r.location, "on_hand": have, "minimum": r.minimum,
                        "target": r.target, "to_order": r.target - have})
    return out


def _years(d: date | None, today: date) -> float | None:
    if d is None:
        return None
    return round((today - d).days / 365.25, 1)


def fleet(user, *, by: str = "batch", model: str = "", batch: str = "") -> list[dict]:
    """Assets grouped by batch (or model) with their ages and failures (corrective work
    orders on them): one row per group, the assets of each listed oldest first."""
    from closeloop.customers.models import Asset
    from closeloop.workorders.models import WorkOrder

    _require_read(user)
    field = "model" if by == "model" else "batch"
    assets = Asset.objects.exclude(**{field: ""}).select_related("customer", "site").order_by(field, "install_date",
                                                                                              "serial_number")
    if model:
        assets = assets.filter(model=model)
    if batch:
        assets = assets.filter(batch=batch)
    assets = list(assets[:5000])
    failures = dict(WorkOrder.objects.filter(asset_id__in=[a.pk for a in assets], wo_type__kind__in=FAILURE_KINDS)
                    .exclude(status="cancelled").values("asset_id").annotate(n=Count("id"))
                    .values_list("asset_id", "n"))
    today = now().date()
    groups: dict[str, dict] = {}
    for a in assets:
        key = getattr(a, field)
        g = groups.setdefault(key, {"key": key, "by": field, "assets": [], "failures": 0, "models": set()})
        age = _years(a.install_date, today)
        n = failures.get(a.pk, 0)
        g["assets"].append({"asset": a, "age": age, "failures": n})
        g["failures"] += n
        if a.model:
            g["models"].add(a.model)
    out = []
    for g in groups.values():
        ages = [x["age"] for x in g["assets"] if x["age"] is not None]
        out.append({**g, "models": sorted(g["models"]), "count": len(g["assets"]),
                    "oldest": max(ages) if ages else None, "youngest": min(ages) if ages else None,
                    "failed_assets": sum(1 for x in g["assets"] if x["failures"])})
    return out


def stock_totals(part_ids) -> dict[int, Decimal]:
    return {p: q for p, q in Stock.objects.filter(part_id__in=part_ids).values("part_id")
            .annotate(q=Sum("quantity")).values_list("part_id", "q")}


def invoice_lines(work_order) -> list[dict]:
    """The parts used on a work order, priced from the catalogue (free-text parts unpriced):
    what the invoice data carries. Read from fieldwork's records through the issue movements'
    reverse link, so parts does not import fieldwork."""
    from django.apps import apps

    used = apps.get_model("fieldwork", "PartUsed").objects.filter(work_order=work_order).select_related("part")
    lines: dict[tuple, dict] = {}
    for u in used:
        p = u.part
        key = (p.number if p else u.part_number, p.name if p else u.name)
        line = lines.setdefault(key, {"part_number": key[0], "name": key[1], "quantity": Decimal(0),
                                      "unit": p.unit if p else "", "unit_price": p.price if p else None})
        line["quantity"] += u.quantity
    out = []
    for line in lines.values():
        price = line["unit_price"]
        out.append({**line, "quantity": services._fmt(line["quantity"]),
                    "unit_price": f"{price:.2f}" if price is not None else None,
                    "amount": f"{price * line['quantity']:.2f}" if price is not None else None})
    return out
