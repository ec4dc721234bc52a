"""Every write of approval flows and requests: flows (draft, publish), requests (start,
decide, bypass, cancel), timers, justifications; handoffs are in approvals.handoffs. Each
public do_* is one transaction that writes its state, the work order's timeline (kind
"approval") and the outbox rows (notifications, delayed timers).
"""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from closeloop.accounts.models import Role, User
from closeloop.audit.services import record_change, snapshot
from closeloop.core import refcache
from closeloop.core.clock import now
from closeloop.core.errors import Conflict, DomainError, FieldProblem, Forbidden, NotFound, ValidationFailed
from closeloop.notify import messages as texts
from closeloop.notify.services import notify
from closeloop.outbox.services import enqueue
from closeloop.workorders import timeline
from closeloop.workorders.models import TimelineEvent, WorkOrder, WorkOrderType

from . import tree as T
from .models import (
    ApprovalFlow,
    ApprovalRequest,
    ApprovalStep,
    FlowVersion,
    Justification,
    RequestStatus,
    StepApprover,
    StepStatus,
)

TIMER_KIND = "approvals.timer"
JUSTIFY_KIND = "approvals.justify"
MAX_DATA_KEYS = 20
COMMENT_MAX = 2000
DESIGNER_ROLES = {Role.ADMIN, Role.MANAGER}
ACTION_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
EVENT_APPROVAL = TimelineEvent.Kind.APPROVAL  # the timeline kind written here (handoffs: HANDOFF)
DONE = {StepStatus.APPROVED, StepStatus.BYPASSED, StepStatus.AUTO, StepStatus.DONE}


def may_design(user) -> bool:
    return user.is_superuser or user.role in DESIGNER_ROLES


def may_request(user) -> bool:
    return user.is_active and user.role != Role.CUSTOMER


def _notify(key: str, event: str, wo, recipients: list, message: dict, url: str = "") -> None:
    """`message`: a key and parameters (notify.messages.text), rendered in each reader's language."""
    if not recipients:
        return
    notify(key=key, event=event, work_order=wo, recipients=recipients, message=message,
           context={"url": url} if url else None)


def _inbox_url(req) -> str:
    return f"/approvals/requests/{req.pk}/"


# ---- flows ------------------------------------------------------------------------------------------

#: The published flows by (type, action): the guard asks on every action (core.refcache).
_flows = refcache.RefCache("approvals.flows", "approvals.ApprovalFlow", "approvals.FlowVersion")


def flow_for(wo_type_id, action: str) -> ApprovalFlow | None:
    """The published flow that applies: the type's own, else the one for every type. Shared by
    every request of the process: read it, never change or save it."""
    def load():
        flows = list(ApprovalFlow.objects.filter(action=action, active=True, current_version__isnull=False)
                     .filter(Q(wo_type_id=wo_type_id) | Q(wo_type__isnull=True)).select_related("current_version"))
        flows.sort(key=lambda f: f.wo_type_id is None)
        return flows[0] if flows else None

    return _flows.get((wo_type_id, action), load)


def do_create_flow(*, actor, data: dict) -> ApprovalFlow:
    if not may_design(actor):
        raise Forbidden(_("Only managers and administrators design approval flows."))
    problems = [FieldProblem(k, _("Unknown field."), "unknown") for k in sorted(set(data) - {
        "name", "description", "type", "action", "tree"})]
    name = (data.get("name") or "").strip()
    if not name or len(name) > 100:
        problems.append(FieldProblem("name", _("A name of 1 to 100 characters."), "required"))
    action = (data.get("action") or "").strip()
    if not ACTION_KEY.match(action):
        problems.append(FieldProblem("action", _("A lifecycle action or a key such as purchase_part.")))
    wo_type = None
    if data.get("type"):
        wo_type = WorkOrderType.objects.filter(key=data["type"]).first()
        if wo_type is None:
            problems.append(FieldProblem("type", _("No type %(t)s.") % {"t": data["type"]}, "not_found"))
    if action and ApprovalFlow.objects.filter(action=action, wo_type=wo_type).exists():
        problems.append(FieldProblem("action", _("A flow for this type and action exists already."), "unique"))
    tree = data.get("tree") or T.empty_tree()
    if not isinstance(tree, dict):
        problems.append(FieldProblem("tree", _("Must be an object.")))
    if problems:
        raise ValidationFailed(problems)
    t = now()
    with transaction.atomic():
        flow = ApprovalFlow.objects.create(name=name, description=(data.get("description") or "")[:2000],
                                           wo_type=wo_type, action=action, draft=tree, created_at=t, updated_at=t,
                                           updated_by=actor)
        record_change(actor=actor, kind="approval_flow", obj=flow, before=None, after=_flow_snapshot(flow))
    return flow


def _flow_snapshot(flow: ApprovalFlow) -> dict:
    """The audit view of a flow: its settings; the tree is recorded when it is published."""
    return snapshot(flow, exclude=("draft", "created_at"))


def do_update_flow(*, actor, flow: ApprovalFlow, data: dict) -> ApprovalFlow:
    """Rename, describe, switch on or off (an inactive flow guards nothing and takes no requests;
    running requests finish on their version)."""
    if not may_design(actor):
        raise Forbidden(_("Only managers and administrators design approval flows."))
    problems = [FieldProblem(k, _("Unknown field."), "unknown") for k in sorted(set(data) - {
        "name", "description", "active"})]
    if "name" in data and not (isinstance(data["name"], str) and 0 < len(data["name"].strip()) <= 100):
        problems.append(FieldProblem("name", _("A name of 1 to 100 characters."), "required"))
    if "active" in data and not isinstance(data["active"], bool):
        problems.append(FieldProblem("active", _("Must be true or false.")))
    if problems:
        raise ValidationFailed(problems)
    before = _flow_snapshot(flow)
    if "name" in data:
        flow.name = data["name"].strip()
    if "description" in data:
        flow.description = (data["description"] or "")[:2000]
    if "active" in data:
        flow.active = data["active"]
    flow.updated_at = now()
    flow.updated_by = actor
    with transaction.atomic():
        flow.save(update_fields=["name", "description", "active", "updated_at", "updated_by"])
        record_change(actor=actor, kind="approval_flow", obj=flow, before=before, after=_flow_snapshot(flow))
    return flow


def do_save_draft(*, actor, flow: ApprovalFlow, tree: dict) -> ApprovalFlow:
    if not may_design(actor):
        raise Forbidden(_("Only managers and administrators design approval flows."))
    if not isinstance(tree, dict) or not isinstance(tree.get("nodes"), list):
        raise ValidationFailed(FieldProblem("tree", _("The flow must be an object with a list of nodes.")))
    if len(str(tree)) > 200_000:
        raise ValidationFailed(FieldProblem("tree", _("The flow is too large.")))
    flow.draft = tree
    flow.updated_at = now()
    flow.updated_by = actor
    flow.save(update_fields=["draft", "updated_at", "updated_by"])
    return flow


def problems_as_error(problems: list[dict]) -> ValidationFailed:
    fps = [FieldProblem(f"nodes.{p['node']}" if p.get("node") else "tree", p["message"], p["code"]) for p in problems]
    err = ValidationFailed(fps)
    err.extra = {"problems": problems}
    return err


def do_publish(*, actor, flow: ApprovalFlow, tree: dict | None = None, note: str = "") -> FlowVersion:
    """Validate the draft (or `tree`) and publish it as the next version. Running requests stay
    on the version they started with."""
    if not may_design(actor):
        raise Forbidden(_("Only managers and administrators design approval flows."))
    tree = tree if tree is not None else flow.draft
    problems = T.validate(tree)
    if problems:
        raise problems_as_error(problems)
    with transaction.atomic():
        flow = ApprovalFlow.objects.select_for_update().get(pk=flow.pk)
        last = flow.versions.order_by("-number").values_list("number", flat=True).first() or 0
        before = {"version": flow.current_version.number, "tree": flow.current_version.tree} \
            if flow.current_version_id else None
        t = now()
        v = FlowVersion.objects.create(flow=flow, number=last + 1, tree=tree, note=(note or "")[:200],
                                       published_at=t, published_by=actor)
        flow.current_version = v
        flow.draft = tree
        flow.updated_at = t
        flow.updated_by = actor
        flow.save(update_fields=["current_version", "draft", "updated_at", "updated_by"])
        record_change(actor=actor, kind="approval_flow", obj=flow, before=before, action="published",
                      after={"version": v.number, "tree": tree, "note": v.note})
    return v


def preview(*, flow: ApprovalFlow, tree: dict | None = None, data: dict | None = None, wo=None,
            requester=None, action: str | None = None) -> list[dict]:
    """The path a sample would take (nothing is written), approvers named."""
    tree = tree if tree is not None else flow.draft
    ctx = T.condition_context(wo=wo, data=data, action=action or flow.action, requester=requester)
    for i, rule in enumerate(tree.get("auto_approve") or []):
        from closeloop.core import conditions

        if isinstance(rule, dict) and conditions.matches(rule.get("condition") or "false", ctx):
            return [{"t": "auto", "name": rule.get("name") or f"#{i + 1}"}]
    return describe_plan(T.plan(tree, ctx, requester=requester, wo=wo))


def describe_plan(items: list[dict]) -> list[dict]:
    ids = {uid for s in T.plan_steps(items) for uid in s["users"]}
    names = {u.pk: (u.username, str(u)) for u in User.objects.filter(pk__in=ids)}

    def conv(its):
        out = []
        for it in its:
            if it["t"] == "step":
                out.append({**it, "approvers": [{"username": names[u][0], "name": names[u][1]}
                                                for u in it["users"] if u in names]})
            elif it["t"] == "par":
                out.append({**it, "branches": [conv(b) for b in it["branches"]]})
            else:
                out.append(dict(it))
        return out
    return conv(items)


# ---- requests -----------------------------------------------------------------------------------------

def _clean_data(data) -> dict:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValidationFailed(FieldProblem("data", _("Must be an object of values.")))
    problems = []
    if len(data) > MAX_DATA_KEYS:
        problems.append(FieldProblem("data", _("At most %(n)d values.") % {"n": MAX_DATA_KEYS}))
    clean = {}
    for k, v in data.items():
        if not ACTION_KEY.match(str(k)):
            problems.append(FieldProblem(f"data.{k}", _("Keys are lower-case letters, digits and _.")))
        elif v is not None and not isinstance(v, str | int | float | bool):
            problems.append(FieldProblem(f"data.{k}", _("Must be text, a number or true/false.")))
        elif isinstance(v, str) and len(v) > 500:
            problems.append(FieldProblem(f"data.{k}", _("At most %(n)d characters.") % {"n": 500}))
        else:
            clean[k] = v
    if "amount" in clean:
        a = clean["amount"]
        if isinstance(a, bool) or not isinstance(a, int | float) or a < 0 or a > 1e12:
            problems.append(FieldProblem("data.amount", _("A number, 0 or more.")))
    if problems:
        raise ValidationFailed(problems)
    return clean


def do_start_request(*, actor, wo: WorkOrder, action: str, data: dict | None = None, note: str = "") -> ApprovalRequest:
    """Ask for approval of `action` on `wo` (the caller checked that `actor` sees `wo`)."""
    if not may_request(actor):
        raise Forbidden(_("You may not request approvals."))
    flow = flow_for(wo.wo_type_id, action)
    if flow is None:
        raise NotFound(_("No approval flow for %(a)s on %(t)s work orders.") % {"a": action, "t": wo.wo_type.name})
    clean = _clean_data(data)
    note = (note or "").strip()
    if len(note) > COMMENT_MAX:
        raise ValidationFailed(FieldProblem("note", _("At most %(n)d characters.") % {"n": COMMENT_MAX}))
    with transaction.atomic():
        WorkOrder.objects.select_for_update().filter(pk=wo.pk).first()
        if ApprovalRequest.objects.filter(work_order=wo, action=action, status=RequestStatus.PENDING).exists():
            raise Conflict(_("An approval of %(a)s is already waiting on this work order.") % {"a": action})
        version = flow.current_version
        t = now()
        ctx = T.condition_context(wo=wo, data=clean, action=action, requester=actor)
        req = ApprovalRequest.objects.create(work_order=wo, flow=flow, version=version, action=action,
                                             requester=actor, data=clean, note=note, created_at=t,
                                             plan=T.plan(version.tree, ctx, requester=actor, wo=wo))
        timeline.append_event(wo, EVENT_APPROVAL, actor=actor, at=t, action=action, data={
            "event": "requested", "request": req.pk, "flow": flow.name, "version": version.number,
            "action": action, "data": clean, "note": note})
        from closeloop.core import conditions

        for i, rule in enumerate(version.tree.get("auto_approve") or []):
            if isinstance(rule, dict) and conditions.matches(rule.get("condition") or "false", ctx):
                req.auto_rule = (rule.get("name") or f"#{i + 1}")[:100]
                req.save(update_fields=["auto_rule"])
                _finish(req, RequestStatus.APPROVED, t, None, {"rule": req.auto_rule})
                return req
        _advance(req, t)
    return req


def _walk(items, steps: dict, activate: list) -> str:
    """'done', 'waiting' or 'rejected'; collects the next steps to open in `activate`."""
    for it in items:
        if it["t"] == "branch":
            continue
        if it["t"] == "step":
            s = steps.get(it["key"])
            if s is None:
                activate.append(it)
                return "waiting"
            if s.status in DONE:
                continue
            if s.status == StepStatus.REJECTED:
                return "rejected"
            return "waiting"
        if it["t"] == "par":
            states = [_walk(b, steps, activate) for b in it["branches"]]
            if "rejected" in states:
                return "rejected"
            if "waiting" in states:
                return "waiting"
    return "done"


def _advance(req: ApprovalRequest, t) -> None:
    for _i in range(200):
        steps = {s.key: s for s in req.steps.all()}
        activate: list = []
        state = _walk(req.plan, steps, activate)
        if state == "rejected":
            _finish(req, RequestStatus.REJECTED, t, None, {})
            return
        if state == "done":
            _finish(req, RequestStatus.APPROVED, t, None, {})
            return
        if not activate:
            return
        again = False
        for item in activate:
            again |= _activate(req, item, t)
        if not again:
            return


def _activate(req: ApprovalRequest, item: dict, t) -> bool:
    """Open one step. Returns True when it finished at once (a CC node)."""
    wo = req.work_order
    users = list(User.objects.filter(pk__in=item["users"]))
    cc = item["kind"] == "cc"
    timer = item.get("timer") or None
    step = ApprovalStep.objects.create(
        request=req, key=item["key"], node_id=item["node"], name=item["name"][:100], kind=item["kind"],
        mode=item["mode"], percent=item["percent"], activated_at=t,
        status=StepStatus.DONE if cc else StepStatus.PENDING, decided_at=t if cc else None,
        due_at=(t + timedelta(hours=float(timer["hours"]))) if timer and not cc else None,
        timer_action=(timer or {}).get("action", "") if not cc else "")
    if cc:
        timeline.append_event(wo, EVENT_APPROVAL, at=t, action=req.action, data={
            "event": "cc", "request": req.pk, "step": step.key, "name": step.name,
            "to": [u.username for u in users]})
        for u in users:
            _notify(f"approval:{req.pk}:{step.key}:cc:u{u.pk}", "approval.cc", wo, [{"user": u.username}],
                    texts.text(gettext_noop("For your information: %(a)s on %(c)s"), a=req.flow.name, c=wo.code),
                    _inbox_url(req))
        return True
    reason = "fallback" if item.get("fallback") else "assigned"
    for u in users:
        StepApprover.objects.create(step=step, user=u, reason=reason, added_at=t)
        _notify(f"approval:{req.pk}:{step.key}:u{u.pk}", "approval.requested", wo, [{"user": u.username}],
                texts.text(gettext_noop("Approval requested: %(a)s on %(c)s"), a=req.flow.name, c=wo.code),
                _inbox_url(req))
    timeline.append_event(wo, EVENT_APPROVAL, at=t, action=req.action, data={
        "event": "step_opened", "request": req.pk, "step": step.key, "name": step.name, "mode": step.mode,
        "approvers": [u.username for u in users], "fallback": reason == "fallback"})
    if step.due_at:
        enqueue(TIMER_KIND, f"approval-timer:{step.pk}", {"step": step.pk}, at=step.due_at)
    return False


def _finish(req: ApprovalRequest, status: str, t, actor, extra: dict) -> None:
    req.status = status
    req.decided_at = t
    req.save(update_fields=["status", "decided_at"])
    for step in req.steps.filter(status=StepStatus.PENDING):
        step.status = StepStatus.CANCELLED
        step.decided_at = t
        step.save(update_fields=["status", "decided_at"])
    StepApprover.objects.filter(step__request=req, open=True).update(open=False)
    wo = req.work_order
    timeline.append_event(wo, EVENT_APPROVAL, actor=actor, at=t, action=req.action, data={
        "event": status, "request": req.pk, "version": req.version.number,
        "duration_s": round((t - req.created_at).total_seconds()), **extra})
    _notify(f"approval:{req.pk}:{status}", f"approval.{status}", wo, [{"user": req.requester.username}],
            texts.text(gettext_noop("Your approval request for %(a)s on %(c)s: %(s)s"), a=req.flow.name, c=wo.code,
                       s=texts.localized(RequestStatus(status).label)),
            _inbox_url(req))


def _locked(req: ApprovalRequest) -> ApprovalRequest:
    return ApprovalRequest.objects.select_for_update().select_related("work_order", "version", "requester") \
        .get(pk=req.pk)


def do_decide(*, actor, req: ApprovalRequest, decision: str, comment: str = "") -> ApprovalRequest:
    """An approver approves or rejects the step waiting for them (a reject needs a comment)."""
    if decision not in ("approve", "reject"):
        raise ValidationFailed(FieldProblem("decision", _("Must be approve or reject.")))
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise ValidationFailed(FieldProblem("comment", _("At most %(n)d characters.") % {"n": COMMENT_MAX}))
    if decision == "reject" and not comment:
        raise ValidationFailed(FieldProblem("comment", _("Say why you reject."), "required"))
    with transaction.atomic():
        req = _locked(req)
        if req.status != RequestStatus.PENDING:
            raise Conflict(_("This approval is already %(s)s.") % {"s": req.get_status_display()})
        sa = (StepApprover.objects.select_related("step").filter(step__request=req, user=actor, open=True,
                                                                 step__status=StepStatus.PENDING).first())
        if sa is None:
            if StepApprover.objects.filter(step__request=req, user=actor, decision="").exclude(
                    step__status=StepStatus.PENDING).exists():
                raise Conflict(_("Someone else decided this step first."))
            raise Forbidden(_("Nothing in this approval is waiting for your decision."))
        t = now()
        sa.decision = decision
        sa.comment = comment
        sa.decided_at = t
        sa.open = False
        sa.save(update_fields=["decision", "comment", "decided_at", "open"])
        step = sa.step
        timeline.append_event(req.work_order, EVENT_APPROVAL, actor=actor, at=t, action=req.action, data={
            "event": "decision", "request": req.pk, "step": step.key, "name": step.name, "decision": decision,
            "comment": comment})
        _settle(req, step, t)
    return req


def _settle(req, step: ApprovalStep, t) -> None:
    rows = list(step.approvers.all())
    total = len(rows) or 1
    yes = sum(1 for r in rows if r.decision == "approve")
    no = sum(1 for r in rows if r.decision == "reject")
    outcome = None
    if step.mode == "any":
        outcome = "approved" if yes else ("rejected" if no else None)
    elif step.mode == "all":
        outcome = "rejected" if no else ("approved" if yes == total else None)
    else:
        need = step.percent * total
        if yes * 100 >= need:
            outcome = "approved"
        elif (total - no) * 100 < need:
            outcome = "rejected"
    if outcome is None:
        return
    step.status = StepStatus.APPROVED if outcome == "approved" else StepStatus.REJECTED
    step.decided_at = t
    step.save(update_fields=["status", "decided_at"])
    step.approvers.filter(open=True).update(open=False)
    _advance(req, t)


def may_bypass(user, req: ApprovalRequest) -> bool:
    roles = T.settings_of(req.version.tree).get("bypass_roles") or []
    return user.is_active and (user.is_superuser or user.role in roles) and user.role != Role.CUSTOMER


def do_bypass(*, actor, req: ApprovalRequest, step_key: str | None = None, reason: str = "") -> Justification:
    """Emergency: skip a waiting step now, with a reason. Opens a justification the bypasser
    must file before its deadline, or their supervisor is told."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(FieldProblem("reason", _("An emergency bypass needs a reason."), "required"))
    if len(reason) > COMMENT_MAX:
        raise ValidationFailed(FieldProblem("reason", _("At most %(n)d characters.") % {"n": COMMENT_MAX}))
    with transaction.atomic():
        req = _locked(req)
        if not may_bypass(actor, req):
            raise Forbidden(_("Your role may not bypass approvals in this flow."))
        if req.status != RequestStatus.PENDING:
            raise Conflict(_("This approval is already %(s)s.") % {"s": req.get_status_display()})
        qs = req.steps.filter(status=StepStatus.PENDING)
        if step_key:
            qs = qs.filter(key=step_key)
        step = qs.order_by("id").first()
        if step is None:
            raise NotFound(_("No waiting step %(k)s.") % {"k": step_key or ""})
        node = T.node_map(req.version.tree).get(step.node_id) or {}
        if node.get("bypassable") is False:
            raise Forbidden(_("Step %(s)s cannot be bypassed.") % {"s": step.name})
        t = now()
        step.status = StepStatus.BYPASSED
        step.decided_at = t
        step.bypassed_by = actor
        step.bypass_reason = reason
        step.save(update_fields=["status", "decided_at", "bypassed_by", "bypass_reason"])
        step.approvers.filter(open=True).update(open=False)
        hours = float(T.settings_of(req.version.tree).get("justify_hours") or 24)
        j = Justification.objects.create(step=step, user=actor, team=actor.team, reason=reason,
                                         due_at=t + timedelta(hours=hours), created_at=t)
        enqueue(JUSTIFY_KIND, f"approval-justify:{j.pk}", {"justification": j.pk}, at=j.due_at)
        wo = req.work_order
        timeline.append_event(wo, EVENT_APPROVAL, actor=actor, at=t, action=req.action, data={
            "event": "bypassed", "request": req.pk, "step": step.key, "name": step.name, "reason": reason,
            "justification": j.pk, "justify_by": j.due_at.isoformat()})
        _notify(f"approval:{req.pk}:{step.key}:justify:u{actor.pk}", "approval.justification_requested", wo,
                [{"user": actor.username}],
                texts.text(gettext_noop("You bypassed %(s)s on %(c)s: file a justification by %(d)s"), s=step.name,
                           c=wo.code, d=timezone.localtime(j.due_at, ZoneInfo(settings.TIME_ZONE)).strftime(
                               "%Y-%m-%d %H:%M")), "/approvals/")
        _advance(req, t)
    return j


def do_file_justification(*, actor, j: Justification, text: str) -> Justification:
    text = (text or "").strip()
    if not text:
        raise ValidationFailed(FieldProblem("text", _("Explain why the bypass was needed."), "required"))
    if len(text) > 10000:
        raise ValidationFailed(FieldProblem("text", _("At most %(n)d characters.") % {"n": 10000}))
    if actor.pk != j.user_id and not (actor.is_superuser or actor.role == Role.ADMIN):
        raise Forbidden(_("Only the person who bypassed files the justification."))
    with transaction.atomic():
        j = Justification.objects.select_for_update().select_related("step__request__work_order").get(pk=j.pk)
        if j.status == Justification.Status.FILED:
            raise Conflict(_("This justification is filed already."))
        t = now()
        j.text = text
        j.filed_at = t
        j.status = Justification.Status.FILED
        j.save(update_fields=["text", "filed_at", "status"])
        req = j.step.request
        timeline.append_event(req.work_order, EVENT_APPROVAL, actor=actor, at=t, action=req.action, data={
            "event": "justified", "request": req.pk, "step": j.step.key, "text": text, "late": t > j.due_at})
    return j


def do_cancel(*, actor, req: ApprovalRequest) -> ApprovalRequest:
    with transaction.atomic():
        req = _locked(req)
        if actor.pk != req.requester_id and not may_design(actor):
            raise Forbidden(_("Only the requester or a manager cancels an approval."))
        if req.status != RequestStatus.PENDING:
            raise Conflict(_("This approval is already %(s)s.") % {"s": req.get_status_display()})
        _finish(req, RequestStatus.CANCELLED, now(), actor, {})
    return req


# ---- timers (delivered by the worker through the outbox) -------------------------------------------------

def on_timer(msg) -> None:
    with transaction.atomic():
        step = ApprovalStep.objects.select_related("request").filter(pk=msg.payload.get("step")).first()
        if step is None or step.status != StepStatus.PENDING:
            return
        req = _locked(step.request)
        step.refresh_from_db()
        t = now()
        if req.status != RequestStatus.PENDING or step.status != StepStatus.PENDING or step.due_at is None \
                or step.due_at > t:
            return
        wo = req.work_order
        action = step.timer_action
        if action == "approve":
            step.status = StepStatus.AUTO
            step.decided_at = t
            step.save(update_fields=["status", "decided_at"])
            step.approvers.filter(open=True).update(open=False)
            timeline.append_event(wo, EVENT_APPROVAL, at=t, action=req.action, data={
                "event": "timer", "timer": "approve", "request": req.pk, "step": step.key, "name": step.name})
            _advance(req, t)
        elif action == "escalate":
            open_users = list(User.objects.filter(approval_tasks__step=step, approval_tasks__open=True))
            targets = []
            for u in open_users or [req.requester]:
                targets += [s for s in T.supervisor_chain(u, wo, 1) if s not in targets]
            head = T.department_head({}, req.requester, wo)
            if not targets and head:
                targets = [head]
            if not targets:
                targets = T.fallback_approvers()
            added = []
            for u in targets:
                _sa, created = StepApprover.objects.get_or_create(step=step, user=u, defaults={
                    "reason": "escalated", "added_at": t})
                if created:
                    added.append(u)
                    _notify(f"approval:{req.pk}:{step.key}:esc:u{u.pk}", "approval.escalated", wo,
                            [{"user": u.username}],
                            texts.text(gettext_noop("Approval overdue, escalated to you: %(a)s on %(c)s"),
                                       a=req.flow.name, c=wo.code), _inbox_url(req))
            timeline.append_event(wo, EVENT_APPROVAL, at=t, action=req.action, data={
                "event": "timer", "timer": "escalate", "request": req.pk, "step": step.key, "name": step.name,
                "to": [u.username for u in added]})
        else:
            users = list(User.objects.filter(approval_tasks__step=step, approval_tasks__open=True))
            for u in users:
                _notify(f"approval:{req.pk}:{step.key}:remind:u{u.pk}", "approval.reminder", wo,
                        [{"user": u.username}],
                        texts.text(gettext_noop("Reminder: an approval waits for you: %(a)s on %(c)s"),
                                   a=req.flow.name, c=wo.code), _inbox_url(req))
            timeline.append_event(wo, EVENT_APPROVAL, at=t, action=req.action, data={
                "event": "timer", "timer": "remind", "request": req.pk, "step": step.key, "name": step.name,
                "to": [u.username for u in users]})


def on_justification_due(msg) -> None:
    with transaction.atomic():
        j = (Justification.objects.select_for_update(of=("self",))
             .select_related("user", "team", "step__request__work_order")
             .filter(pk=msg.payload.get("justification")).first())
        t = now()
        if j is None or j.status != Justification.Status.OPEN or j.due_at > t:
            return
        j.status = Justification.Status.ESCALATED
        j.escalated_at = t
        j.save(update_fields=["status", "escalated_at"])
        req = j.step.request
        wo = req.work_order
        sups = T.supervisor_chain(j.user, None, 1) or T.fallback_approvers()
        recipients = [{"user": u.username} for u in sups]
        if j.team_id:
            recipients.append({"team": j.team.code, "who": "supervisor"})
        _notify(f"approval-justify:{j.pk}:escalated", "approval.justification_overdue", wo, recipients,
                texts.text(gettext_noop("%(u)s bypassed %(s)s on %(c)s and has not justified it"), u=str(j.user),
                           s=j.step.name, c=wo.code), "/approvals/reports/")
        timeline.append_event(wo, EVENT_APPROVAL, at=t, action=req.action, data={
            "event": "justification_overdue", "request": req.pk, "step": j.step.key, "user": j.user.username,
            "to": [u.username for u in sups]})


# ---- the guard on lifecycle actions ------------------------------------------------------------------------

class ApprovalRequired(DomainError):
    def __init__(self, message, **extra):
        super().__init__(message, 409, "approval_required", extra=extra)


def guard(ctx) -> None:
    """A lifecycle action with a published flow needs an approved, unused request."""
    t = ctx.transition
    if t is None:
        return
    flow = flow_for(ctx.wo.wo_type_id, t.action)
    if flow is None:
        return
    ctx.extra["approval_flow"] = flow.pk  # consume() marks the approval used
    ok = ApprovalRequest.objects.filter(work_order=ctx.wo, action=t.action, status=RequestStatus.APPROVED,
                                        consumed_at__isnull=True).exists()
    if ok:
        return
    pending = ApprovalRequest.objects.filter(work_order=ctx.wo, action=t.action,
                                             status=RequestStatus.PENDING).first()
    if pending:
        raise ApprovalRequired(_("%(a)s needs approval (%(f)s); the request is still waiting.")
                               % {"a": t.action, "f": flow.name}, request=pending.pk, flow=flow.pk)
    raise ApprovalRequired(_("%(a)s needs approval (%(f)s): request approval first.")
                           % {"a": t.action, "f": flow.name}, flow=flow.pk)


def consume(ctx) -> None:
    t = ctx.transition
    if t is None or "approval_flow" not in ctx.extra:
        return
    ApprovalRequest.objects.filter(work_order=ctx.wo, action=t.action, status=RequestStatus.APPROVED,
                                   consumed_at__isnull=True).update(consumed_at=ctx.at)


def cancel_with_work_order(ctx) -> None:
    """A cancelled work order takes its waiting approvals with it (they leave every inbox)."""
    for req in ApprovalRequest.objects.filter(work_order=ctx.wo, status=RequestStatus.PENDING) \
            .select_related("work_order", "version", "requester"):
        _finish(req, RequestStatus.CANCELLED, ctx.at, ctx.actor, {"reason": "work_order_cancelled"})


# ---- rule action: require_approval --------------------------------------------------------------------------

def rule_require_approval(rule, wo, action: dict) -> str:
    """Rules action {"type": "require_approval", "action": "purchase_part", "data": {...}}: starts a request
    in the rule owner's name (no-op when one is waiting already)."""
    key = action.get("action") or ""
    if ApprovalRequest.objects.filter(work_order=wo, action=key, status=RequestStatus.PENDING).exists():
        return _("an approval of %(a)s is already waiting") % {"a": key}
    req = do_start_request(actor=rule.owner, wo=wo, action=key, data=action.get("data") or {},
                           note=_("Requested by rule %(r)s") % {"r": rule.name})
    return _("approval of %(a)s requested (#%(n)d)") % {"a": key, "n": req.pk}
