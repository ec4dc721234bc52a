"""Purchasing endpoints: requests (list, one, consolidate now, send to the ERP, the ERP's
purchase order number), batch-age rules, settings. Thin: selectors read, services write."""

from ninja import Router, Schema, Status
from pydantic import Field

from closeloop.core.apikit import StrictSchema, require_scope

from . import selectors, services


def _need(n) -> dict:
    return {"key": n["key"], "source": n["source"], "part": n["part"].number, "vendor": n["part"].vendor,
            "quantity": f"{n['quantity'].normalize():f}", "reason": n["reason"]}


router = Router(tags=["purchasing"])


@router.get("/purchase-requests", response=list[dict], summary="Purchase requests, newest first")
def list_requests(request):
    require_scope(request, "read")
    return [selectors.request_dict(pr) for pr in selectors.requests(request.auth)[:200]]


@router.get("/purchase-requests/pending-needs", response=list[dict],
            summary="What consolidation would order now (needs not on a request yet)")
def pending(request):
    require_scope(request, "read")
    selectors.requests(request.auth)
    return [_need(n) for n in services.pending_needs()]


@router.post("/purchase-requests/consolidate", response={201: list[dict]},
             summary="Consolidate now: one request per vendor × period × source, never twice")
def consolidate(request):
    require_scope(request, "write")
    made = services.do_consolidate(actor=request.auth)
    return Status(201, [selectors.request_dict(pr) for pr in made])


@router.get("/purchase-requests/{code}", response=dict, summary="A purchase request with its lines")
def get_request(request, code: str):
    require_scope(request, "read")
    return selectors.request_dict(selectors.request_by_code(request.auth, code))


@router.post("/purchase-requests/{code}/send", response=dict, summary="Send an approved request to the ERP (webhook)")
def send(request, code: str):
    require_scope(request, "write")
    pr = selectors.request_by_code(request.auth, code)
    d = services.do_send_to_erp(actor=request.auth, pr=pr)
    return {**selectors.request_dict(pr), "delivery": d.key}


class PurchaseOrderIn(StrictSchema):
    po_number: str = Field(..., description="The ERP's purchase order number")


@router.post("/purchase-requests/{code}/purchase-order", response=dict,
             summary="Record the ERP's purchase order number (the ERP's callback)")
def purchase_order(request, code: str, payload: PurchaseOrderIn):
    require_scope(request, "write")
    pr = services.do_record_purchase_order(actor=request.auth, pr=selectors.request_by_code(request.auth, code),
                                           po_number=payload.po_number)
    return selectors.request_dict(pr)


def _rule(r) -> dict:
    return {"id": r.pk, "name": r.name, "batch": r.batch, "asset_model": r.asset_model, "years": r.years,
            "part": r.part.number, "quantity": f"{r.quantity.normalize():f}", "is_active": r.is_active}


@router.get("/purchase-rules", response=list[dict], summary="Batch-age rules")
def list_rules(request):
    require_scope(request, "read")
    return [_rule(r) for r in selectors.rules(request.auth)]


class RuleIn(StrictSchema):
    name: str
    batch: str = ""
    asset_model: str = ""
    years: int
    part: str
    quantity: float | str | None = None
    is_active: bool = True


@router.post("/purchase-rules", response={201: dict}, summary="Add a batch-age rule")
def create_rule(request, payload: RuleIn):
    require_scope(request, "write")
    return Status(201, _rule(services.do_save_rule(actor=request.auth, data=payload.model_dump(exclude_none=True))))


class SettingsOut(Schema):
    period: str
    forecast_weeks: int
    requester: str | None
    erp_url: str
    erp_secret_set: bool
    auto_consolidate: bool


def _settings(s) -> dict:
    return {"period": s.period, "forecast_weeks": s.forecast_weeks,
            "requester": s.requester.username if s.requester_id else None, "erp_url": s.erp_url,
            "erp_secret_set": bool(s.erp_secret), "auto_consolidate": s.auto_consolidate}


@router.get("/purchasing/settings", response=SettingsOut, summary="Purchasing settings (the ERP secret is hidden)")
def get_settings(request):
    require_scope(request, "read")
    selectors.requests(request.auth)
    return _settings(services.settings_row())


class SettingsIn(StrictSchema):
    period: str | None = None
    forecast_weeks: int | None = None
    requester: str | None = None
    erp_url: str | None = None
    erp_secret: str | None = None
    auto_consolidate: bool | None = None


@router.put("/purchasing/settings", response=SettingsOut, summary="Change the purchasing settings")
def put_settings(request, payload: SettingsIn):
    require_scope(request, "write")
    return _settings(services.do_save_settings(actor=request.auth, data=payload.model_dump(exclude_unset=True)))
