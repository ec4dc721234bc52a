"""Maintenance plans: CRUD, forecast, history, parts forecast. Thin: services and selectors work."""

from datetime import date, datetime
from typing import Any

from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from closeloop.core.apikit import StrictSchema, parse_if_match, require_scope
from closeloop.core.clock import local_today
from closeloop.core.errors import FieldProblem, Forbidden, NotFound, ValidationFailed

from . import selectors, services
from .models import Plan

router = Router(tags=["maintenance"])


class PlanIn(StrictSchema):
    name: str = Field(max_length=100)
    enabled: bool = True
    scope: str = Field("asset", description="asset, model or batch")
    asset: str | None = Field(None, max_length=100, description="serial number (scope asset)")
    model: str = Field("", max_length=100)
    batch: str = Field("", max_length=100)
    trigger: str = Field("calendar", description="calendar, meter, condition or age")
    every: int | None = None
    unit: str = Field("", description="day, week or month")
    rrule: str = Field("", max_length=300, description="RFC 5545 RRULE instead of every/unit")
    anchor: str = Field("fixed", description="fixed or completion")
    start_date: date | None = None
    calendar: str = Field(
        "", max_length=40, description="business calendar key: move to the next working day"
    )
    lead_days: int = 0
    meter_kind: str = Field("", max_length=60)
    meter_every: float | None = None
    condition: int | None = Field(None, description="telemetry condition id")
    alarm_kind: str = Field("", max_length=60)
    alarm_count: int | None = None
    window_days: int = 30
    age_years: int | None = None
    age_basis: str = Field("install", description="install or batch")
    type: str = Field(max_length=40)
    title: str = Field("", max_length=200)
    checklist: list[str] = Field(default_factory=list, max_length=services.MAX_CHECKLIST)
    parts: list[dict[str, Any]] = Field(default_factory=list, max_length=services.MAX_PARTS)
    custom: dict[str, Any] = Field(default_factory=dict, description="the work order type's field values")
    priority: str = "normal"
    team: str | None = Field(None, max_length=40)
    assignee: str | None = Field(None, max_length=150)
    on_open: str = Field("skip", description="skip or merge")


class PlanPatch(StrictSchema):
    name: str | None = Field(None, max_length=100)
    enabled: bool | None = None
    scope: str | None = None
    asset: str | None = Field(None, max_length=100)
    model: str | None = Field(None, max_length=100)
    batch: str | None = Field(None, max_length=100)
    trigger: str | None = None
    every: int | None = None
    unit: str | None = None
    rrule: str | None = Field(None, max_length=300)
    anchor: str | None = None
    start_date: date | None = None
    calendar: str | None = Field(None, max_length=40)
    lead_days: int | None = None
    meter_kind: str | None = Field(None, max_length=60)
    meter_every: float | None = None
    condition: int | None = None
    alarm_kind: str | None = Field(None, max_length=60)
    alarm_count: int | None = None
    window_days: int | None = None
    age_years: int | None = None
    age_basis: str | None = None
    type: str | None = Field(None, max_length=40)
    title: str | None = Field(None, max_length=200)
    checklist: list[str] | None = Field(None, max_length=services.MAX_CHECKLIST)
    parts: list[dict[str, Any]] | None = Field(None, max_length=services.MAX_PARTS)
    custom: dict[str, Any] | None = None
    priority: str | None = None
    team: str | None = Field(None, max_length=40)
    assignee: str | None = Field(None, max_length=150)
    on_open: str | None = None


class PlanOut(Schema):
    id: int
    plan: dict[str, Any]
    owner: str
    next_check_at: datetime | None
    last_run_at: datetime | None
    last_error: str
    version: int
    updated_at: datetime


class OccurrenceOut(Schema):
    asset: str
    key: str
    due: date
    outcome: str
    work_order: str | None
    reserved: bool
    at: datetime


class ForecastOut(Schema):
    asset: str
    key: str
    due: date
    generate_on: date
    pending: bool


class PartNeedOut(Schema):
    part_id: int
    quantity: float
    due: date
    plan_id: int
    asset_id: int


def _out(plan: Plan) -> dict:
    return {
        "id": plan.pk,
        "plan": services.snapshot(plan),
        "owner": plan.owner.username,
        "next_check_at": plan.next_check_at,
        "last_run_at": plan.last_run_at,
        "last_error": plan.last_error,
        "version": plan.version,
        "updated_at": plan.updated_at,
    }


def _read(request):
    require_scope(request, "read")
    if not services.may_read(request.auth):
        raise Forbidden(_("Your role may not see maintenance plans."))


def _plan(request, plan_id: int) -> Plan:
    plan = selectors.visible_plans(request.auth).filter(pk=plan_id).first()
    if plan is None:
        raise NotFound(_("No maintenance plan %(id)s.") % {"id": plan_id})
    return plan


@router.get("/maintenance/plans", response=list[PlanOut], summary="Maintenance plans")
def list_plans(request):
    _read(request)
    return [_out(p) for p in selectors.visible_plans(request.auth)]


@router.post("/maintenance/plans", response={201: PlanOut}, summary="Create a maintenance plan")
def create_plan(request, payload: PlanIn):
    require_scope(request, "write")
    data = payload.model_dump()
    if data["start_date"] is not None:
        data["start_date"] = data["start_date"].isoformat()
    plan = services.do_create_plan(actor=request.auth, data=data)
    return Status(201, _out(selectors.plan_for(request.auth, plan.pk)))


@router.get("/maintenance/plans/{plan_id}", response=PlanOut)
def get_plan(request, plan_id: int):
    _read(request)
    return _out(_plan(request, plan_id))


@router.patch(
    "/maintenance/plans/{plan_id}", response=PlanOut, summary="Change a plan (If-Match: its version)"
)
def update_plan(request, plan_id: int, payload: PlanPatch):
    require_scope(request, "write")
    if not services.may_manage(request.auth):
        raise Forbidden(_("Your role may not change maintenance plans."))
    plan = _plan(request, plan_id)
    data = payload.model_dump(exclude_unset=True)
    if data.get("start_date") is not None:
        data["start_date"] = data["start_date"].isoformat()
    services.do_update_plan(
        actor=request.auth, plan=plan, data=data, expected_version=parse_if_match(request)
    )
    return _out(_plan(request, plan_id))


@router.delete(
    "/maintenance/plans/{plan_id}",
    response={204: None},
    summary="Delete a plan (one that generated work is disabled instead)",
)
def delete_plan(request, plan_id: int):
    require_scope(request, "write")
    if not services.may_manage(request.auth):
        raise Forbidden(_("Your role may not change maintenance plans."))
    services.do_delete_plan(actor=request.auth, plan=_plan(request, plan_id))
    return Status(204, None)


@router.get(
    "/maintenance/plans/{plan_id}/forecast",
    response=list[ForecastOut],
    summary="The next occurrences (calendar and age plans)",
)
def plan_forecast(request, plan_id: int, n: int = 10):
    _read(request)
    if not 1 <= n <= selectors.FORECAST_MAX:
        raise ValidationFailed(FieldProblem("n", _("From 1 to %(m)d.") % {"m": selectors.FORECAST_MAX}))
    return [{**f, "asset": f["serial"]} for f in selectors.forecast(_plan(request, plan_id), n=n)]


@router.get(
    "/maintenance/plans/{plan_id}/occurrences",
    response=list[OccurrenceOut],
    summary="What the plan generated, newest first",
)
def plan_history(request, plan_id: int):
    _read(request)
    return [
        {
            "asset": o.asset.serial_number,
            "key": o.key,
            "due": o.due,
            "outcome": o.outcome,
            "work_order": o.work_order.code if o.work_order_id else None,
            "reserved": o.reserved,
            "at": o.at,
        }
        for o in selectors.history(_plan(request, plan_id), limit=200)
    ]


class PartsQuery(Schema):
    until: date
    since: date | None = None


@router.get(
    "/maintenance/forecast/parts",
    response=list[PartNeedOut],
    summary="Parts the plans will need for occurrences due in [since, until]",
)
def parts_forecast(request, q: Query[PartsQuery]):
    _read(request)
    if q.since is not None and q.since > q.until:
        raise ValidationFailed(FieldProblem("since", _("Must not be after until.")))
    if (q.until - (q.since or local_today())).days > 3660:
        raise ValidationFailed(FieldProblem("until", _("At most ten years ahead.")))
    return selectors.forecast_parts(until=q.until, since=q.since)
