"""Approvals API: requests and decisions, the inbox, flows (draft, validate, preview,
publish), handoff requirements and ratings, reports. Thin: services do the work."""

from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import Field

from closeloop.accounts.models import Role, User
from closeloop.core import conditions
from closeloop.core.apikit import StrictSchema, require_scope
from closeloop.core.errors import Forbidden, NotFound
from closeloop.core.paging import page_by_id
from closeloop.workorders import selectors as wo_selectors

from . import handoffs, selectors, services
from . import tree as T
from .models import ApprovalFlow, Handoff, HandoffRequirement, Justification

router = Router(tags=["approvals"])


class ApprovalStartIn(StrictSchema):
    action: str = Field(max_length=40, description="purchase_part, close, ... (a flow must exist)")
    data: dict[str, Any] = Field(default_factory=dict, description="amount, impact, safety, part, ...")
    note: str = Field("", max_length=2000)


class ApprovalDecisionIn(StrictSchema):
    decision: str = Field(description="approve or reject")
    comment: str = Field("", max_length=2000, description="required to reject")


class ApprovalBypassIn(StrictSchema):
    step: str | None = Field(None, max_length=60, description="step key; default: the first waiting step")
    reason: str = Field(max_length=2000)


class JustificationIn(StrictSchema):
    text: str = Field(max_length=10000)


class ApprovalFlowIn(StrictSchema):
    name: str = Field(max_length=100)
    action: str = Field(max_length=40)
    type: str | None = Field(None, max_length=40, description="work order type key; none: every type")
    description: str = Field("", max_length=2000)
    tree: dict[str, Any] | None = None


class ApprovalTreeIn(StrictSchema):
    tree: dict[str, Any]


class ApprovalMaybeTreeIn(StrictSchema):
    tree: dict[str, Any] | None = None


class ApprovalPublishIn(StrictSchema):
    tree: dict[str, Any] | None = None
    note: str = Field("", max_length=200)


class ApprovalPreviewIn(StrictSchema):
    tree: dict[str, Any] | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    requester: str | None = Field(None, max_length=150)
    work_order: str | None = Field(None, max_length=24)


class FlowConditionIn(StrictSchema):
    condition: str = Field(max_length=conditions.MAX_SOURCE * 2)


class HandoffRequirementIn(StrictSchema):
    action: str = Field(max_length=40)
    type: str | None = Field(None, max_length=40)
    to_team: str | None = Field(None, max_length=40)
    fields: list[str]
    active: bool = True


class HandoffRequirementPatch(StrictSchema):
    type: str | None = Field(None, max_length=40)
    to_team: str | None = Field(None, max_length=40)
    fields: list[str] | None = None
    active: bool | None = None


class HandoffRatingIn(StrictSchema):
    score: int
    reasons: list[str] = Field(default_factory=list, max_length=6)
    comment: str = Field("", max_length=2000)


class ApprovalStepOut(Schema):
    key: str
    name: str
    kind: str
    mode: str
    percent: int
    status: str
    activated_at: datetime
    decided_at: datetime | None
    due_at: datetime | None
    approvers: list[dict]
    bypass: dict | None


class ApprovalRequestOut(Schema):
    id: int
    work_order: str
    flow: str
    flow_id: int
    version: int
    action: str
    status: str
    requester: str
    data: dict
    note: str
    auto_rule: str
    created_at: datetime
    decided_at: datetime | None
    consumed_at: datetime | None
    steps: list[ApprovalStepOut]
    path: list[dict]


def _req_out(req) -> dict:
    steps = []
    for s in req.steps.prefetch_related("approvers__user").select_related("bypassed_by"):
        steps.append({
            "key": s.key, "name": s.name, "kind": s.kind, "mode": s.mode, "percent": s.percent, "status": s.status,
            "activated_at": s.activated_at, "decided_at": s.decided_at, "due_at": s.due_at,
            "approvers": [{"user": a.user.username, "reason": a.reason, "decision": a.decision, "comment": a.comment,
                           "decided_at": a.decided_at.isoformat() if a.decided_at else None, "open": a.open}
                          for a in s.approvers.all()],
            "bypass": {"by": s.bypassed_by.username, "reason": s.bypass_reason} if s.bypassed_by_id else None,
        })
    return {"id": req.pk, "work_order": req.work_order.code, "flow": req.flow.name, "flow_id": req.flow_id,
            "version": req.version.number, "action": req.action, "status": req.status,
            "requester": req.requester.username, "data": req.data, "note": req.note, "auto_rule": req.auto_rule,
            "created_at": req.created_at, "decided_at": req.decided_at, "consumed_at": req.consumed_at,
            "steps": steps, "path": services.describe_plan(req.plan)}


def _staff(request, scope="read"):
    require_scope(request, scope)
    if request.auth.role == Role.CUSTOMER:
        raise Forbidden(_("Customer contacts have no approvals."))


def _req(request, pk):
    return selectors.access_request(request.auth, pk)


@router.post("/work-orders/{code}/approvals", response={201: ApprovalRequestOut}, summary="Request approval of an action")
def start_request(request, code: str, payload: ApprovalStartIn):
    _staff(request, "write")
    wo = wo_selectors.access_work_order_by_code(request.auth, code)
    req = services.do_start_request(actor=request.auth, wo=wo, action=payload.action, data=payload.data,
                                    note=payload.note)
    return Status(201, _req_out(selectors.access_request(request.auth, req.pk)))


@router.get("/work-orders/{code}/approvals", response=list[ApprovalRequestOut], summary="Approval requests of a work order")
def wo_requests(request, code: str):
    _staff(request)
    wo = wo_selectors.access_work_order_by_code(request.auth, code)
    return [_req_out(r) for r in selectors.visible_requests(request.auth).filter(work_order=wo)[:50]]


@router.get("/approvals/inbox", summary="Steps waiting for my decision, and bypasses I must justify")
def inbox(request):
    _staff(request)
    tasks = [{"request": t.step.request_id, "work_order": t.step.request.work_order.code,
              "flow": t.step.request.flow.name, "action": t.step.request.action, "step": t.step.key,
              "name": t.step.name, "data": t.step.request.data, "requester": t.step.request.requester.username,
              "reason": t.reason, "since": t.added_at, "due_at": t.step.due_at}
             for t in selectors.inbox(request.auth)[:200]]
    just = [{"id": j.pk, "request": j.step.request_id, "work_order": j.step.request.work_order.code,
             "step": j.step.key, "reason": j.reason, "due_at": j.due_at, "status": j.status}
            for j in selectors.open_justifications(request.auth)[:200]]
    return {"tasks": tasks, "justifications": just}


@router.get("/approvals", summary="Approval requests I may see, newest first (cursor pages of 50)")
def list_requests(request, status: str | None = None, action: str | None = None, mine: bool = False,
                  cursor: str | None = None):
    _staff(request)
    qs = selectors.visible_requests(request.auth).order_by("-id")
    if status:
        qs = qs.filter(status=status)
    if action:
        qs = qs.filter(action=action)
    if mine:
        qs = qs.filter(requester=request.auth)
    page = page_by_id(qs, cursor=cursor, limit=50, newest_first=True)
    rows = page.items
    return {"items": [{"id": r.pk, "work_order": r.work_order.code, "flow": r.flow.name, "version": r.version.number,
                       "action": r.action, "status": r.status, "requester": r.requester.username, "data": r.data,
                       "created_at": r.created_at, "decided_at": r.decided_at} for r in rows],
            "next_cursor": page.next_cursor}


@router.get("/approvals/{pk}", response=ApprovalRequestOut)
def get_request(request, pk: int):
    _staff(request)
    return _req_out(_req(request, pk))


@router.post("/approvals/{pk}/decisions", response={201: ApprovalRequestOut}, summary="Approve or reject")
def decide(request, pk: int, payload: ApprovalDecisionIn):
    _staff(request, "write")
    req = services.do_decide(actor=request.auth, req=_req(request, pk), decision=payload.decision,
                             comment=payload.comment)
    return Status(201, _req_out(_req(request, req.pk)))


@router.post("/approvals/{pk}/bypass", response={201: dict}, summary="Emergency bypass of a waiting step")
def bypass(request, pk: int, payload: ApprovalBypassIn):
    _staff(request, "write")
    j = services.do_bypass(actor=request.auth, req=_req(request, pk), step_key=payload.step, reason=payload.reason)
    return Status(201, {"justification": j.pk, "due_at": j.due_at.isoformat(), "step": j.step.key})


@router.post("/approvals/{pk}/cancel", response=ApprovalRequestOut)
def cancel(request, pk: int):
    _staff(request, "write")
    req = services.do_cancel(actor=request.auth, req=_req(request, pk))
    return _req_out(_req(request, req.pk))


@router.post("/approvals/justifications/{pk}", summary="File the justification of a bypass")
def justify(request, pk: int, payload: JustificationIn):
    _staff(request, "write")
    j = Justification.objects.filter(pk=pk).first()
    if j is None or (j.user_id != request.auth.pk and request.auth.role != Role.ADMIN):
        raise NotFound(_("No justification %(n)s.") % {"n": pk})
    j = services.do_file_justification(actor=request.auth, j=j, text=payload.text)
    return {"id": j.pk, "status": j.status, "filed_at": j.filed_at}


# ---- flows -----------------------------------------------------------------------------------------------

def _design(request, scope="read"):
    _staff(request, scope)
    if not services.may_design(request.auth):
        raise Forbidden(_("Only managers and administrators design approval flows."))


def _flow(pk) -> ApprovalFlow:
    flow = ApprovalFlow.objects.select_related("wo_type", "current_version").filter(pk=pk).first()
    if flow is None:
        raise NotFound(_("No approval flow %(n)s.") % {"n": pk})
    return flow


def _flow_out(f: ApprovalFlow) -> dict:
    return {"id": f.pk, "name": f.name, "description": f.description, "type": f.wo_type.key if f.wo_type_id else None,
            "action": f.action, "active": f.active, "draft": f.draft,
            "version": f.current_version.number if f.current_version_id else None,
            "tree": f.current_version.tree if f.current_version_id else None, "updated_at": f.updated_at.isoformat()}


@router.get("/approval-flows")
def list_flows(request):
    _design(request)
    return [_flow_out(f) for f in ApprovalFlow.objects.select_related("wo_type", "current_version")]


@router.post("/approval-flows", response={201: dict})
def create_flow(request, payload: ApprovalFlowIn):
    _design(request, "write")
    flow = services.do_create_flow(actor=request.auth, data=payload.model_dump(exclude_none=True))
    return Status(201, _flow_out(_flow(flow.pk)))


@router.post("/approval-flows/check-condition", summary="Compile a branch condition; an error says where")
def check_condition(request, payload: FlowConditionIn):
    _design(request)
    problems: list = []
    T._check_condition("check", {"id": "check", "name": "-"}, payload.condition, problems)
    if not payload.condition.strip():
        return {"ok": False, "error": {"message": _("The condition is empty."), "line": None, "column": None,
                                       "offset": None}}
    if problems:
        pos = problems[0].get("position") or {}
        return {"ok": False, "error": {**pos, "message": pos.get("message") or problems[0]["message"]}}
    return {"ok": True, "error": None}


@router.get("/approval-flows/{pk}")
def get_flow(request, pk: int):
    _design(request)
    return _flow_out(_flow(pk))


class ApprovalFlowPatch(StrictSchema):
    name: str | None = Field(None, max_length=100)
    description: str | None = Field(None, max_length=2000)
    active: bool | None = None


@router.patch("/approval-flows/{pk}", summary="Rename or switch a flow on or off")
def update_flow(request, pk: int, payload: ApprovalFlowPatch):
    _design(request, "write")
    flow = services.do_update_flow(actor=request.auth, flow=_flow(pk), data=payload.model_dump(exclude_unset=True))
    return _flow_out(flow)


@router.put("/approval-flows/{pk}/draft", summary="Save the designer's working copy (not validated)")
def save_draft(request, pk: int, payload: ApprovalTreeIn):
    _design(request, "write")
    flow = services.do_save_draft(actor=request.auth, flow=_flow(pk), tree=payload.tree)
    return _flow_out(flow)


@router.post("/approval-flows/{pk}/validate", summary="Problems that would stop a publish, each naming its node")
def validate(request, pk: int, payload: ApprovalMaybeTreeIn):
    _design(request)
    flow = _flow(pk)
    problems = T.validate(payload.tree if payload.tree is not None else flow.draft)
    return {"ok": not problems, "problems": problems}


@router.post("/approval-flows/{pk}/preview", summary="The path a sample would take (nothing is written)")
def preview(request, pk: int, payload: ApprovalPreviewIn):
    _design(request)
    flow = _flow(pk)
    requester = request.auth
    if payload.requester:
        requester = User.objects.filter(username=payload.requester, is_active=True).first()
        if requester is None:
            raise NotFound(_("No user %(u)s.") % {"u": payload.requester})
    wo = wo_selectors.access_work_order_by_code(request.auth, payload.work_order) if payload.work_order else None
    tree = payload.tree if payload.tree is not None else flow.draft
    problems = [p for p in T.validate(tree, static=False) if p["code"] in ("shape", "condition")]
    if problems:
        raise services.problems_as_error(problems)
    return {"path": services.preview(flow=flow, tree=tree, data=services._clean_data(payload.data), wo=wo,
                                     requester=requester)}


@router.post("/approval-flows/{pk}/publish", response={201: dict}, summary="Validate and publish a new version")
def publish(request, pk: int, payload: ApprovalPublishIn):
    _design(request, "write")
    v = services.do_publish(actor=request.auth, flow=_flow(pk), tree=payload.tree, note=payload.note)
    return Status(201, {"flow": pk, "version": v.number, "published_at": v.published_at.isoformat()})


@router.get("/approval-flows/{pk}/versions/{number}", summary="A published version's tree")
def get_version(request, pk: int, number: int):
    _design(request)
    v = _flow(pk).versions.filter(number=number).first()
    if v is None:
        raise NotFound(_("No version %(n)s.") % {"n": number})
    return {"version": v.number, "tree": v.tree, "note": v.note, "published_at": v.published_at.isoformat(),
            "published_by": v.published_by.username if v.published_by_id else None}


@router.get("/approval-flows/{pk}/report", summary="Durations per version (before/after a change)")
def flow_report(request, pk: int):
    _design(request)
    return {"versions": selectors.duration_report(_flow(pk))}


@router.get("/approval-reports/bypass", summary="Emergency bypass rate per user and team")
def bypass_report(request):
    _design(request)
    return selectors.bypass_report()


# ---- handoffs ---------------------------------------------------------------------------------------------

def _hreq_out(r: HandoffRequirement) -> dict:
    return {"id": r.pk, "action": r.action, "type": r.wo_type.key if r.wo_type_id else None,
            "to_team": r.to_team.code if r.to_team_id else None, "fields": r.fields, "active": r.active}


@router.get("/handoff-requirements")
def list_handoff_requirements(request):
    _staff(request)
    return [_hreq_out(r) for r in HandoffRequirement.objects.select_related("wo_type", "to_team")]


@router.post("/handoff-requirements", response={201: dict})
def create_handoff_requirement(request, payload: HandoffRequirementIn):
    _staff(request, "write")
    r = handoffs.do_save_handoff_requirement(actor=request.auth, data=payload.model_dump())
    return Status(201, _hreq_out(r))


@router.patch("/handoff-requirements/{pk}")
def update_handoff_requirement(request, pk: int, payload: HandoffRequirementPatch):
    _staff(request, "write")
    r = HandoffRequirement.objects.filter(pk=pk).first()
    if r is None:
        raise NotFound(_("No handoff requirement %(n)s.") % {"n": pk})
    r = handoffs.do_save_handoff_requirement(actor=request.auth, data=payload.model_dump(exclude_unset=True), req=r)
    return _hreq_out(r)


@router.get("/work-orders/{code}/handoffs")
def wo_handoffs(request, code: str):
    _staff(request)
    wo = wo_selectors.access_work_order_by_code(request.auth, code)
    return [{"id": h.pk, "action": h.action, "from_team": h.from_team.code if h.from_team_id else None,
             "to_team": h.to_team.code if h.to_team_id else None, "values": {f["key"]: f["value"] for f in fs},
             "fields": fs, "created_at": h.created_at, "score": h.score, "reasons": h.reasons, "comment": h.comment}
            for h in _with_work_order(Handoff.objects.filter(work_order=wo).select_related("from_team", "to_team"), wo)
            for fs in [handoffs.handoff_fields(h)]]


def _with_work_order(rows, wo):
    for h in rows:
        h.work_order = wo
        yield h


@router.post("/handoffs/{pk}/rating", response={201: dict}, summary="The receiving department rates a handoff")
def rate_handoff(request, pk: int, payload: HandoffRatingIn):
    _staff(request, "write")
    h = Handoff.objects.select_related("to_team", "work_order").filter(pk=pk).first()
    if h is None or not wo_selectors.visible_work_orders(request.auth).filter(pk=h.work_order_id).exists():
        raise NotFound(_("No handoff %(n)s.") % {"n": pk})
    h = handoffs.do_rate_handoff(actor=request.auth, h=h, score=payload.score, reasons=payload.reasons,
                                 comment=payload.comment)
    return Status(201, {"id": h.pk, "score": h.score, "reasons": h.reasons})


@router.get("/handoffs/quality", summary="Per sending department: rated handoffs and average score")
def handoff_quality(request):
    _staff(request)
    return selectors.handoff_quality()
