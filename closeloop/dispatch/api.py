"""Dispatch endpoints: suggestions for one work order, assign the best (or override
with a reason), and batch assignment with a preview. Thin: services do the work."""

from datetime import datetime

from django.utils.translation import gettext as _
from ninja import Router, Schema
from pydantic import Field

from closeloop.core.apikit import StrictSchema, require_scope
from closeloop.core.errors import FieldProblem, Forbidden, ValidationFailed
from closeloop.workorders import selectors, serializers

from . import services

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
    estimated_start: datetime
    estimated_finish: datetime
    explanation: str


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
    s = services.suggest(wo, limit=max(1, min(limit, 50)))
    return {"code": wo.code, "mode": s.mode, "estimated_hours": s.estimated_hours, "required_skills": s.required,
            "suggestions": s.suggestions, "excluded": s.excluded, "excluded_counts": s.excluded_counts}


@router.post("/work-orders/{code}/dispatch",
             summary="Assign the best suggestion, the team's round robin, or an override with a reason")
def dispatch(request, code: str, payload: DispatchIn | None = None):
    require_scope(request, "write")
    wo = selectors.access_work_order_by_code(request.auth, code)
    data = payload or DispatchIn()
    services.do_dispatch_work_order(actor=request.auth, wo=wo, assignee=data.assignee, reason=data.reason or "",
                                    mode=data.mode)
    wo = selectors.access_work_order_by_code(request.auth, code)
    return serializers.work_order(wo, request.auth, detail=True)


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
