"""Parts and stock endpoints: catalogue, locations, stock levels, movements, reservations,
reorder points and warnings, the fleet view. Thin: selectors read, services write."""

from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from closeloop.core.apikit import StrictSchema, require_scope
from closeloop.core.paging import page_by_id
from closeloop.workorders.selectors import access_work_order_by_code

from . import selectors, services
from .models import Reservation

router = Router(tags=["parts and stock"])


def _q(v) -> str:
    return services._fmt(v)


def part_dict(p) -> dict:
    return {"id": p.pk, "number": p.number, "name": p.name, "unit": p.unit, "vendor": p.vendor, "price": str(p.price),
            "asset_models": p.asset_models, "is_active": p.is_active}


def location_dict(loc) -> dict:
    return {"code": loc.code, "name": loc.name, "kind": loc.kind, "user": loc.user.username if loc.user_id else None,
            "region": loc.region.code if loc.region_id else None, "is_active": loc.is_active}


def movement_dict(m) -> dict:
    return {"id": m.pk, "kind": m.kind, "part": m.part.number, "quantity": _q(m.quantity),
            "source": m.source.code if m.source_id else None, "target": m.target.code if m.target_id else None,
            "work_order": m.work_order.code if m.work_order_id else None, "key": m.key, "note": m.note,
            "actor": m.actor.username if m.actor_id else None, "at": m.at}


def reservation_dict(r) -> dict:
    return {"id": r.pk, "part": r.part.number, "part_id": r.part_id, "quantity": _q(r.quantity), "status": r.status,
            "location": r.location.code if r.location_id else None}


class PageIn(Schema):
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)


class PartsQuery(PageIn):
    q: str = ""


@router.get("/parts", response=dict, summary="The parts catalogue (with the total on hand)")
def list_parts(request, params: Query[PartsQuery]):
    require_scope(request, "read")
    page = page_by_id(selectors.parts(request.auth, q=params.q.strip()[:100]), cursor=params.cursor,
                      limit=params.limit)
    totals = selectors.stock_totals([p.pk for p in page.items])
    return {"items": [{**part_dict(p), "on_hand": _q(totals.get(p.pk, 0))} for p in page.items],
            "next_cursor": page.next_cursor}


class PartIn(StrictSchema):
    number: str | None = None
    name: str | None = None
    unit: str | None = None
    vendor: str | None = None
    price: float | str | None = None
    asset_models: list[str] | None = None
    is_active: bool | None = None


@router.post("/parts", response={201: dict}, summary="Add a part to the catalogue")
def create_part(request, payload: PartIn):
    require_scope(request, "write")
    p = services.do_save_part(actor=request.auth, data=payload.model_dump(exclude_unset=True))
    return Status(201, part_dict(p))


@router.get("/parts/{number}", response=dict, summary="A part, its stock per location and its movements")
def get_part(request, number: str):
    require_scope(request, "read")
    p = selectors.part(request.auth, number)
    return {**part_dict(p),
            "stock": [{"location": s.location.code, "quantity": _q(s.quantity)}
                      for s in selectors.stock(request.auth, part=p)],
            "movements": [movement_dict(m) for m in selectors.movements(request.auth, part=p)[:50]]}


@router.patch("/parts/{number}", response=dict, summary="Change a catalogue entry")
def update_part(request, number: str, payload: PartIn):
    require_scope(request, "write")
    p = services.do_save_part(actor=request.auth, data=payload.model_dump(exclude_unset=True),
                              part=selectors.part(request.auth, number))
    return part_dict(p)


@router.get("/stock-locations", response=list[dict], summary="Warehouses and engineers' vans")
def list_locations(request):
    require_scope(request, "read")
    return [location_dict(loc) for loc in selectors.locations(request.auth)]


class LocationIn(StrictSchema):
    code: str | None = None
    name: str | None = None
    kind: str | None = Field(None, description="central, regional or van")
    user: str | None = Field(None, description="A van's engineer (username)")
    region: str | None = Field(None, description="The regional warehouse a van restocks from (code)")
    is_active: bool | None = None


@router.post("/stock-locations", response={201: dict}, summary="Add a warehouse or a van")
def create_location(request, payload: LocationIn):
    require_scope(request, "write")
    loc = services.do_save_location(actor=request.auth, data=payload.model_dump(exclude_unset=True))
    return Status(201, location_dict(loc))


@router.get("/stock-locations/{code}", response=dict, summary="A location with its stock")
def get_location(request, code: str):
    require_scope(request, "read")
    loc = selectors.location(request.auth, code)
    return {**location_dict(loc),
            "stock": [{"part": s.part.number, "name": s.part.name, "quantity": _q(s.quantity)}
                      for s in selectors.stock(request.auth, location=loc)]}


@router.patch("/stock-locations/{code}", response=dict, summary="Change a location")
def update_location(request, code: str, payload: LocationIn):
    require_scope(request, "write")
    loc = services.do_save_location(actor=request.auth, data=payload.model_dump(exclude_unset=True),
                                    location=selectors.location(request.auth, code))
    return location_dict(loc)


class MovementsQuery(PageIn):
    part: str = ""
    location: str = ""


@router.get("/stock-movements", response=dict, summary="The stock ledger, newest first")
def list_movements(request, params: Query[MovementsQuery]):
    require_scope(request, "read")
    part = selectors.part(request.auth, params.part) if params.part else None
    loc = selectors.location(request.auth, params.location) if params.location else None
    page = page_by_id(selectors.movements(request.auth, part=part, location=loc), cursor=params.cursor,
                      limit=params.limit, newest_first=True)
    return {"items": [movement_dict(m) for m in page.items], "next_cursor": page.next_cursor}


class MovementIn(StrictSchema):
    kind: str = Field(..., description="receipt, transfer, return or adjustment (issues: the work order's parts)")
    part: str
    quantity: float | str
    source: str | None = Field(None, description="Location code (transfer)")
    target: str | None = Field(None, description="Location code (receipt, transfer, return)")
    location: str | None = Field(None, description="Location code (adjustment)")
    work_order: str | None = Field(None, description="Work order code (return)")
    note: str = ""
    key: str | None = Field(None, description="Idempotency key: the same key never moves stock twice")


WRITERS = {"receipt": services.do_receive, "transfer": services.do_transfer, "return": services.do_return,
           "adjustment": services.do_adjust}


@router.post("/stock-movements", response={201: dict}, summary="Record a receipt, transfer, return or adjustment")
def post_movement(request, payload: MovementIn):
    from closeloop.core.errors import FieldProblem, ValidationFailed

    require_scope(request, "write")
    data = payload.model_dump(exclude_none=True)
    kind = data.pop("kind")
    if kind not in WRITERS:
        raise ValidationFailed(FieldProblem("kind", _("Must be one of: %(c)s.") % {"c": ", ".join(WRITERS)}))
    allowed = {"receipt": {"part", "quantity", "target", "note", "key"},
               "transfer": {"part", "quantity", "source", "target", "note", "key"},
               "return": {"part", "quantity", "target", "work_order", "note", "key"},
               "adjustment": {"part", "quantity", "location", "note", "key"}}[kind]
    extra = sorted(set(data) - allowed)
    if extra:
        raise ValidationFailed([FieldProblem(k, _("Not used by this kind of movement."), "unknown") for k in extra])
    m = WRITERS[kind](actor=request.auth, data=data)
    return Status(201, movement_dict(m))


@router.get("/work-orders/{code}/parts-status", response=dict,
            summary="Reserved and issued parts, and what the assignee's van lacks")
def work_order_parts(request, code: str):
    require_scope(request, "read")
    wo = access_work_order_by_code(request.auth, code)
    if not services.may_read(request.auth):
        from closeloop.core.errors import Forbidden

        raise Forbidden(_("Your role does not see stock."))
    missing = selectors.parts_check(wo, [wo.assignee_id]).get(wo.assignee_id, []) if wo.assignee_id else []
    return {"code": wo.code, "reservations": [reservation_dict(r) for r in selectors.reservations_for(wo)],
            "invoice_lines": selectors.invoice_lines(wo),
            "issued": [movement_dict(m) for m in selectors.movements(request.auth, work_order=wo)],
            "missing": [{**m, "needed": _q(m["needed"]), "in_van": _q(m["in_van"]), "nearby": _q(m["nearby"])}
                        for m in missing]}


class ReserveIn(StrictSchema):
    items: list[dict]
    location: str | None = None


@router.post("/work-orders/{code}/reservations", response={201: list[dict]}, summary="Reserve parts for a work order")
def reserve(request, code: str, payload: ReserveIn):
    require_scope(request, "write")
    wo = access_work_order_by_code(request.auth, code)
    rs = services.do_reserve_parts(actor=request.auth, work_order=wo, items=payload.items, location=payload.location)
    rs = Reservation.objects.filter(pk__in=[r.pk for r in rs]).select_related("part", "location")
    return Status(201, [reservation_dict(r) for r in rs])


@router.get("/reorder-warnings", response=list[dict], summary="Reorder points at or below their minimum")
def reorder_warnings(request):
    require_scope(request, "read")
    return [{"part": w["part"].number, "location": w["location"].code, "on_hand": _q(w["on_hand"]),
             "minimum": _q(w["minimum"]), "target": _q(w["target"]), "to_order": _q(w["to_order"])}
            for w in selectors.reorder_warnings(request.auth)]


class ReorderIn(StrictSchema):
    part: str
    location: str
    minimum: float | str | None = None
    target: float | str | None = None


@router.put("/reorder-points", response=dict, summary="Set (or, without minimum, remove) a reorder point")
def put_reorder_point(request, payload: ReorderIn):
    require_scope(request, "write")
    rp = services.do_set_reorder_point(actor=request.auth, data=payload.model_dump())
    if rp is None:
        return {"part": payload.part, "location": payload.location, "removed": True}
    return {"part": rp.part.number, "location": rp.location.code, "minimum": _q(rp.minimum), "target": _q(rp.target)}


class FleetQuery(Schema):
    by: str = Field("batch", description="batch or model")
    model: str = ""
    batch: str = ""


@router.get("/fleet", response=list[dict], summary="Assets grouped by batch or model: ages and failures")
def fleet(request, params: Query[FleetQuery]):
    require_scope(request, "read")
    groups = selectors.fleet(request.auth, by=params.by, model=params.model, batch=params.batch)
    return [{"key": g["key"], "by": g["by"], "count": g["count"], "models": g["models"], "oldest": g["oldest"],
             "youngest": g["youngest"], "failures": g["failures"], "failed_assets": g["failed_assets"],
             "assets": [{"serial_number": a["asset"].serial_number, "name": a["asset"].name, "age": a["age"],
                         "failures": a["failures"]} for a in g["assets"]]} for g in groups]
