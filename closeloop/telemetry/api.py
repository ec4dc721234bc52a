"""Telemetry API (/api/v1/telemetry/...): the ingestion of batches, authenticated by a
gateway token (not a user's), and the administration of gateways, meters and conditions
(admins and managers read, admins write). Thin: services validate and write."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils.translation import gettext as _
from ninja import Router, Status
from ninja.security import HttpBearer
from pydantic import Field

from closeloop.accounts.auth import QUERY_TOKEN_PARAMS, QueryStringToken
from closeloop.core import ratelimit
from closeloop.core.apikit import StrictSchema, require_role, require_scope
from closeloop.core.clock import now
from closeloop.core.errors import FieldProblem, NotFound, ValidationFailed
from closeloop.customers.models import Asset

from . import selectors, services
from .models import Gateway, Meter

router = Router(tags=["Telemetry"])
READERS = ("admin", "manager")


class GatewayToken(HttpBearer):
    """`Authorization: Bearer clg_…`: a gateway, never a user. Sets request.gateway."""

    def authenticate(self, request, token):
        if any(p in request.GET for p in QUERY_TOKEN_PARAMS):
            raise QueryStringToken(400, "Tokens are never accepted in the query string; "
                                        "send Authorization: Bearer <token>.")
        bad_rate = ratelimit.parse_rate(settings.API_BAD_TOKEN_LIMIT)
        address = ratelimit.client_address(request)
        if bad_rate is not None:
            refused = ratelimit.over(f"badtoken:{address}", bad_rate)
            if refused is not None:
                raise ratelimit.RateLimited(
                    _("Too many requests with an invalid token from your address. Try again in %(r)d seconds.")
                    % {"r": refused.reset}, refused)
        gateway = services.authenticate_gateway(token)
        if gateway is None:
            if bad_rate is not None:
                ratelimit.hit(f"badtoken:{address}", bad_rate)
            return None
        request.gateway = gateway
        request.api_scopes = {"telemetry:" + gateway.scope}
        return gateway


class BatchIn(StrictSchema):
    items: list[dict] = Field(max_length=services.MAX_BATCH, description=(
        "Up to 500 items. A reading: {type: \"reading\", asset: <serial> | asset_id: <id>, kind, at, value, "
        "unit?}; an alarm: {type: \"alarm\", asset | asset_id, kind, at, severity?, payload?}. "
        "`at` is ISO 8601 with a time zone (or seconds since 1970)."))


@router.post("/telemetry/batches", auth=GatewayToken(), response=dict,
             summary="Post readings and alarm events (gateway token)")
def post_batch(request, payload: BatchIn):
    """Each item is answered by its index: accepted, duplicate (already stored: a replay is
    harmless) or rejected with errors naming `items[i].field`. Good items are stored even
    when others are rejected."""
    return services.ingest(gateway=request.gateway, items=payload.items)


# ---- gateways ---------------------------------------------------------------------------------------

def _gateway_out(g: Gateway, token: str | None = None) -> dict:
    out = {"id": g.pk, "name": g.name, "customer": g.customer.code if g.customer_id else None, "scope": g.scope,
           "prefix": g.prefix, "active": g.active, "created_at": g.created_at, "revoked_at": g.revoked_at,
           "last_seen_at": g.last_seen_at}
    if token is not None:
        out["token"] = token
    return out


class GatewayIn(StrictSchema):
    name: str = Field(max_length=100)
    customer: str | None = Field(None, max_length=40, description="Customer code: posts only for its assets.")
    scope: str = Field("ingest", description="ingest (readings and alarms), readings or alarms")


@router.get("/telemetry/gateways", response=list[dict], summary="Gateways")
def list_gateways(request):
    require_scope(request, "read")
    require_role(request, *READERS)
    return [_gateway_out(g) for g in selectors.gateways()]


@router.post("/telemetry/gateways", response={201: dict}, summary="Create a gateway (its token is shown once)")
def create_gateway(request, payload: GatewayIn):
    require_scope(request, "admin")
    require_role(request, "admin")
    g, clear = services.do_create_gateway(actor=request.auth, **payload.model_dump())
    return Status(201, _gateway_out(g, clear))


@router.delete("/telemetry/gateways/{gateway_id}", response=dict, summary="Revoke a gateway's token")
def revoke_gateway(request, gateway_id: int):
    require_scope(request, "admin")
    require_role(request, "admin")
    g = Gateway.objects.filter(pk=gateway_id).first()
    if g is None:
        raise NotFound(_("No such gateway."))
    return _gateway_out(services.do_revoke_gateway(actor=request.auth, gateway=g))


# ---- meters -----------------------------------------------------------------------------------------

class MetersIn(StrictSchema):
    assets: list[str] = Field(min_length=1, max_length=10000, description="Serial numbers")
    kind: str = Field(max_length=40)
    unit: str = Field(max_length=20)
    mode: str = Field("gauge", description="cumulative or gauge")


def _asset(serial: str) -> Asset:
    a = Asset.objects.filter(serial_number=serial).first()
    if a is None:
        raise NotFound(_("No asset %(s)s.") % {"s": serial[:100]})
    return a


@router.get("/telemetry/assets/{serial}/meters", response=list[dict], summary="An asset's meters")
def list_meters(request, serial: str):
    require_scope(request, "read")
    require_role(request, *READERS)
    return [{"id": m.pk, "kind": m.kind, "unit": m.unit, "mode": m.mode}
            for m in selectors.meters_of(_asset(serial))]


@router.post("/telemetry/meters", response={201: dict}, summary="Give assets a meter of a kind")
def add_meters(request, payload: MetersIn):
    require_scope(request, "admin")
    require_role(request, "admin")
    found = list(Asset.objects.filter(serial_number__in=payload.assets))
    missing = sorted(set(payload.assets) - {a.serial_number for a in found})
    if missing:
        raise ValidationFailed(FieldProblem("assets", _("No assets %(s)s.") % {"s": ", ".join(missing[:10])},
                                            "unknown_asset"))
    n = services.do_add_meters(actor=request.auth, assets=found, kind=payload.kind, unit=payload.unit,
                               mode=payload.mode)
    return Status(201, {"added": n})


@router.delete("/telemetry/meters/{meter_id}", response={204: None}, summary="Remove a meter (readings stay)")
def delete_meter(request, meter_id: int):
    require_scope(request, "admin")
    require_role(request, "admin")
    m = Meter.objects.select_related("asset").filter(pk=meter_id).first()
    if m is None:
        raise NotFound(_("No such meter."))
    services.do_delete_meter(actor=request.auth, meter=m)
    return Status(204, None)


@router.get("/telemetry/assets/{serial}/readings", response=list[dict], summary="An asset's latest readings")
def list_readings(request, serial: str, kind: str | None = None, limit: int = 100):
    require_scope(request, "read")
    require_role(request, *READERS)
    return [{"kind": r.kind, "at": r.at, "value": r.value}
            for r in selectors.recent_readings(_asset(serial), kind=kind, limit=max(1, min(limit, 1000)))]


@router.get("/telemetry/assets/{serial}/alarms", response=list[dict], summary="An asset's latest alarms")
def list_alarms(request, serial: str, kind: str | None = None, limit: int = 100):
    require_scope(request, "read")
    require_role(request, *READERS)
    return [{"kind": a.kind, "at": a.at, "severity": a.severity, "payload": a.payload}
            for a in selectors.recent_alarms(_asset(serial), kind=kind, limit=max(1, min(limit, 1000)))]


# ---- conditions -------------------------------------------------------------------------------------

def _condition_out(c) -> dict:
    return {"id": c.pk, "name": c.name, "expression": c.expression, "description": c.description,
            "active": c.active, "builder": c.builder, "updated_at": c.updated_at}


class ConditionIn(StrictSchema):
    name: str = Field(max_length=100)
    expression: str = Field(max_length=2000)
    description: str = Field("", max_length=300)
    active: bool = True
    builder: dict = {}


class ConditionPatch(StrictSchema):
    name: str | None = Field(None, max_length=100)
    expression: str | None = Field(None, max_length=2000)
    description: str | None = Field(None, max_length=300)
    active: bool | None = None
    builder: dict | None = None


class BacktestIn(StrictSchema):
    expression: str = Field(max_length=2000)
    assets: list[str] = Field(min_length=1, max_length=selectors.MAX_BACKTEST_ASSETS, description="Serial numbers")
    start: datetime | None = Field(None, description="Default: 90 days before end")
    end: datetime | None = Field(None, description="Default: now")


@router.get("/telemetry/conditions", response=list[dict], summary="Telemetry conditions")
def list_conditions(request):
    require_scope(request, "read")
    require_role(request, *READERS)
    return [_condition_out(c) for c in selectors.conditions()]


@router.post("/telemetry/conditions", response={201: dict}, summary="Create a telemetry condition")
def create_condition(request, payload: ConditionIn):
    require_scope(request, "admin")
    require_role(request, "admin")
    return Status(201, _condition_out(services.do_create_condition(actor=request.auth, data=payload.model_dump())))


@router.get("/telemetry/conditions/{condition_id}", response=dict, summary="A telemetry condition")
def get_condition(request, condition_id: int):
    require_scope(request, "read")
    require_role(request, *READERS)
    return _condition_out(services.get_condition(condition_id))


@router.patch("/telemetry/conditions/{condition_id}", response=dict, summary="Edit a telemetry condition")
def update_condition(request, condition_id: int, payload: ConditionPatch):
    require_scope(request, "admin")
    require_role(request, "admin")
    c = services.do_update_condition(actor=request.auth, condition=services.get_condition(condition_id),
                                     data=payload.model_dump(exclude_unset=True))
    return _condition_out(c)


@router.delete("/telemetry/conditions/{condition_id}", response={204: None}, summary="Delete a telemetry condition")
def delete_condition(request, condition_id: int):
    require_scope(request, "admin")
    require_role(request, "admin")
    services.do_delete_condition(actor=request.auth, condition=services.get_condition(condition_id))
    return Status(204, None)


@router.post("/telemetry/backtest", response=dict,
             summary="Try a condition against history: when it would have fired")
def backtest(request, payload: BacktestIn):
    require_scope(request, "read")
    require_role(request, *READERS)
    services.check_expression(payload.expression)
    end = payload.end or now()
    start = payload.start or end - timedelta(days=90)
    if start >= end or end - start > timedelta(days=400):
        raise ValidationFailed(FieldProblem("start", _("Start before end, at most 400 days apart."), "invalid"))
    found = dict(Asset.objects.filter(serial_number__in=payload.assets).values_list("pk", "serial_number"))
    missing = sorted(set(payload.assets) - set(found.values()))
    if missing:
        raise ValidationFailed(FieldProblem("assets", _("No assets %(s)s.") % {"s": ", ".join(missing[:10])},
                                            "unknown_asset"))
    out = selectors.backtest(payload.expression, start=start, end=end, asset_ids=list(found))
    for f in out["firings"]:
        f["asset"] = found[f.pop("asset_id")]
    return {**out, "start": start, "end": end}
