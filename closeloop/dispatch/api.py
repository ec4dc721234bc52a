"""Dispatch endpoints: suggestions for one work order, assign the best (or override
with a reason), and batch assignment with a preview. Thin: services do the work."""

from datetime import datetime

from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from closeloop.core.apikit import StrictSchema, require_scope
from closeloop.core.errors import FieldProblem, Forbidden, NotFound, ValidationFailed
from closeloop.roster import selectors as roster_selectors
from closeloop.roster import services as roster_services
from closeloop.workorders import selectors, serializers

from . import services
from .suggestions import suggest

router = Router(tags=["dispatch"])


class SuggestionOut(Schema):
    username: str
    name: str
    score: float
    parts: dict[str, float]
    distance_km: float | None
    open_work: int
    open_hours: float
    earlier_jobs: int
    shift: str
    arrival_hours: float = Field(description="Hours until on site: work queued ahead + travel at 40 km/h.")
    late: bool = Field(description="Cannot be on site within the priority's response window (parts.late < 0).")
    estimated_start: datetime
    estimated_finish: datetime
    explanation: str
    parts_missing: list[dict] = Field([], description="Needed parts (reservations) this engineer's van lacks: part, "
                                                      "needed, in_van, nearby, status (nearby, missing, no_van).")
    parts_warning: str = ""


class ExcludedOut(Schema):
    username: str
    name: str
    reason: str = Field(description="leave, off_shift, skill or full")
    explanation: str


class SuggestionsOut(Schema):
    code: str
    mode: str
    estimated_hours: float
    required_skills: dict[str, int]
    suggestions: list[SuggestionOut]
    excluded: list[ExcludedOut]
    excluded_counts: dict[str, int]


class DispatchIn(StrictSchema):
    assignee: str | None = Field(None, max_length=150, description="Override: this engineer instead of the best.")
    reason: str | None = Field(None, max_length=500, description="Required when overriding the best suggestion.")
    mode: str = Field("best", pattern="^(best|round_robin)$")


class BatchPreviewIn(StrictSchema):
    codes: list[str] | None = Field(None, max_length=services.BATCH_MAX,
                                    description="Work orders to plan; default: the unassigned backlog.")


class BatchItem(StrictSchema):
    code: str = Field(max_length=24)
    version: int | None = None
    assignee: str | None = Field(None, max_length=150)
    score: float | None = None
    explanation: str | None = Field(None, max_length=1000)


class BatchPlanOut(Schema):
    plan_id: str
    assigned: int
    unassigned: int
    total_score: float
    items: list[dict]


class BatchApplyIn(StrictSchema):
    items: list[BatchItem] = Field(max_length=services.BATCH_MAX)


def _require_dispatcher(request):
    if not services.may_dispatch(request.auth):
        raise Forbidden(_("You may not assign work."))


@router.get("/work-orders/{code}/suggestions", response=SuggestionsOut,
            summary="Engineers who fit this work order, best first, each with the reasons; who is excluded and why")
def suggestions(request, code: str, limit: int = 5):
    require_scope(request, "read")
    wo = selectors.access_work_order_by_code(request.auth, code)
    _require_dispatcher(request)
    s = suggest(wo, limit=max(1, min(limit, 50)), parts=True)
    return {"code": wo.code, "mode": s.mode, "estimated_hours": s.estimated_hours, "required_skills": s.required,
            "suggestions": s.suggestions, "excluded": s.excluded, "excluded_counts": s.excluded_counts}


@router.post("/work-orders/{code}/dispatch",
             summary="Assign the best suggestion, the team's round robin, or an override with a reason")
def dispatch(request, code: str, payload: DispatchIn | None = None):
    require_scope(request, "write")
    wo = selectors.access_work_order_by_code(request.auth, code)
    data = payload or DispatchIn()
    done = services.do_dispatch_work_order(actor=request.auth, wo=wo, assignee=data.assignee,
                                           reason=data.reason or "", mode=data.mode)
    wo = selectors.access_work_order_by_code(request.auth, code)
    # The work order, and what the dispatch decided: who, why, and the estimated start and finish.
    return {**serializers.work_order(wo, request.auth, detail=True), "dispatch": done.dispatch}


def _batch_wos(request, codes):
    if codes is None:
        return services.unassigned_backlog(request.auth)
    wos = list(selectors.visible_work_orders(request.auth).filter(code__in=[c.strip().upper() for c in codes])
               .select_related("wo_type", "site", "asset", "customer", "team").order_by("id"))
    missing = sorted(set(c.strip().upper() for c in codes) - {w.code for w in wos})
    if missing:
        raise ValidationFailed(FieldProblem("codes", _("No work order %(code)s.") % {"code": ", ".join(missing)},
                                            "not_found"))
    return wos


@router.post("/dispatch/batch/preview", response=BatchPlanOut,
             summary="Plan an optimal assignment of a backlog (nothing is written)")
def batch_preview(request, payload: BatchPreviewIn):
    require_scope(request, "write")
    _require_dispatcher(request)
    return services.preview_batch(actor=request.auth, wos=_batch_wos(request, payload.codes))


@router.post("/dispatch/batch/apply", summary="Apply a previewed plan, all or nothing")
def batch_apply(request, payload: BatchApplyIn):
    require_scope(request, "write")
    _require_dispatcher(request)
    items = [i.model_dump() for i in payload.items]
    wos = _batch_wos(request, [i["code"] for i in items])
    done = services.do_apply_batch(actor=request.auth, wos_by_code={w.code: w for w in wos}, items=items)
    return {"assigned": [w.code for w in done]}


# ---- settings; rosters and leave (the roster app's, served here under /dispatch/) ----------------------------------------------------------------------

class SettingIn(StrictSchema):
    type: str | None = Field(None, max_length=40, description="A work order type key, or")
    team: str | None = Field(None, max_length=40, description="a team code (a team's row wins over a type's).")
    mode: str = Field("suggest", description="auto, suggest or round_robin")
    estimated_hours: float = Field(2.0, description="0.5 to 24")
    top_n: int = Field(5, description="Suggestions shown, 1 to 50")


class SettingsIn(StrictSchema):
    settings: list[SettingIn] = Field(max_length=500)


class SettingOut(Schema):
    id: int
    type: str | None
    team: str | None
    mode: str
    estimated_hours: float
    top_n: int


class SettingsOut(Schema):
    settings: list[SettingOut]


@router.get("/dispatch/settings", response=SettingsOut, tags=["dispatch settings"],
            summary="Dispatch mode, estimated hours and suggestions shown, per type and per team")
def get_settings(request):
    require_scope(request, "read")
    return {"settings": [services.setting_dict(r) for r in services.list_settings(request.auth)]}


@router.put("/dispatch/settings", response=SettingsOut, tags=["dispatch settings"],
            summary="Replace every dispatch setting (managers and administrators); all valid or nothing changes")
def put_settings(request, payload: SettingsIn):
    require_scope(request, "write")
    services.do_replace_settings(actor=request.auth,
                                 rows=[r.model_dump(exclude_none=True) for r in payload.settings])
    return {"settings": [services.setting_dict(r) for r in services.list_settings(request.auth)]}


class ShiftIn(StrictSchema):
    user: str = Field(max_length=150, description="The engineer's username")
    kind: str = Field("shift", description="shift or on_call")
    starts_at: datetime
    ends_at: datetime


class ShiftOut(Schema):
    id: int
    user: str
    kind: str
    starts_at: datetime
    ends_at: datetime


class LeaveIn(StrictSchema):
    user: str = Field(max_length=150)
    starts_at: datetime
    ends_at: datetime
    reason: str = Field("", max_length=100)


class LeaveOut(Schema):
    id: int
    user: str
    starts_at: datetime
    ends_at: datetime
    reason: str


class WindowIn(Schema):
    user: str | None = Field(None, max_length=150, description="Only this engineer")
    start: datetime | None = Field(None, alias="from", description="Default: today 00:00")
    end: datetime | None = Field(None, alias="to", description="Default: 8 days after `from`")


def _window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    from datetime import timedelta

    from closeloop.core.clock import now

    start = start or now().replace(hour=0, minute=0, second=0, microsecond=0)
    end = end or start + timedelta(days=8)
    if end <= start or end - start > timedelta(days=92):
        raise ValidationFailed(FieldProblem("to", _("After `from`, at most 92 days later.")))
    return start, end


def _shift_out(s) -> dict:
    return {"id": s.pk, "user": s.user.username, "kind": s.kind, "starts_at": s.starts_at, "ends_at": s.ends_at}


def _leave_out(lv) -> dict:
    return {"id": lv.pk, "user": lv.user.username, "starts_at": lv.starts_at, "ends_at": lv.ends_at,
            "reason": lv.reason}


@router.get("/dispatch/shifts", response=list[ShiftOut], tags=["dispatch settings"],
            summary="Shifts and on-call duties overlapping a window (default: today and the next 7 days)")
def list_shifts(request, q: Query[WindowIn]):
    require_scope(request, "read")
    start, end = _window(q.start, q.end)
    user = q.user
    return [_shift_out(s) for s in roster_selectors.shifts(request.auth, start=start, end=end, username=user)[:2000]]


@router.post("/dispatch/shifts", response={201: ShiftOut}, tags=["dispatch settings"],
             summary="Add a shift or on-call duty (at most 24 h, no overlap with another of the same kind)")
def add_shift(request, payload: ShiftIn):
    require_scope(request, "write")
    return Status(201, _shift_out(roster_services.do_add_shift(actor=request.auth, data=payload.model_dump())))


@router.delete("/dispatch/shifts/{shift_id}", response={204: None}, tags=["dispatch settings"])
def delete_shift(request, shift_id: int):
    require_scope(request, "write")
    if not roster_services.may_manage_roster(request.auth):
        raise Forbidden(_("You may not change rosters."))
    shift = roster_selectors.shift_by_id(request.auth, shift_id)
    if shift is None:
        raise NotFound(_("No such shift."))
    roster_services.do_delete_shift(actor=request.auth, shift=shift)
    return Status(204, None)


@router.get("/dispatch/leaves", response=list[LeaveOut], tags=["dispatch settings"],
            summary="Leave overlapping a window (default: today and the next 7 days)")
def list_leaves(request, q: Query[WindowIn]):
    require_scope(request, "read")
    start, end = _window(q.start, q.end)
    user = q.user
    return [_leave_out(x) for x in roster_selectors.leaves(request.auth, start=start, end=end, username=user)[:2000]]


@router.post("/dispatch/leaves", response={201: LeaveOut}, tags=["dispatch settings"],
             summary="Add leave for an engineer (no overlap with their other leave)")
def add_leave(request, payload: LeaveIn):
    require_scope(request, "write")
    return Status(201, _leave_out(roster_services.do_add_leave(actor=request.auth, data=payload.model_dump())))


@router.delete("/dispatch/leaves/{leave_id}", response={204: None}, tags=["dispatch settings"])
def delete_leave(request, leave_id: int):
    require_scope(request, "write")
    if not roster_services.may_manage_roster(request.auth):
        raise Forbidden(_("You may not change rosters."))
    leave = roster_selectors.leave_by_id(request.auth, leave_id)
    if leave is None:
        raise NotFound(_("No such leave."))
    roster_services.do_delete_leave(actor=request.auth, leave=leave)
    return Status(204, None)
