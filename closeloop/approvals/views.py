"""Console pages: the approvals inbox (phone-size), a request, the flow list and designer,
reports. Thin: services write, selectors read."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from closeloop.accounts.models import Role, Team
from closeloop.core.errors import DomainError, NotFound
from closeloop.workorders import selectors as wo_selectors
from closeloop.workorders.lifecycle import TRANSITIONS
from closeloop.workorders.models import WorkOrderType

from . import handoffs as handoff_services
from . import selectors, services
from . import tree as T
from .models import ApprovalFlow, Handoff, HandoffRequirement, Justification


def _staff(request):
    if request.user.role == Role.CUSTOMER:
        raise Http404(_("Not found."))


def _err(e: DomainError) -> str:
    if e.problems:
        return "; ".join(f"{p.field}: {p.message}" for p in e.problems)
    return str(e.message)


def _back(request, fallback):
    nxt = request.POST.get("next") or ""
    return redirect(nxt if nxt.startswith("/") and not nxt.startswith("//") else fallback)


@login_required
@require_GET
def inbox(request):
    _staff(request)
    tasks = list(selectors.inbox(request.user))
    return render(request, "approvals/inbox.html", {
        "tasks": tasks, "justifications": selectors.open_justifications(request.user),
        "mine": selectors.visible_requests(request.user).filter(requester=request.user)[:20],
        "may_design": services.may_design(request.user),
    })


def _request_or_404(request, pk):
    _staff(request)
    try:
        return selectors.access_request(request.user, pk)
    except NotFound:
        raise Http404(_("No such approval request."))


@login_required
@require_GET
def request_detail(request, pk):
    req = _request_or_404(request, pk)
    d = selectors.request_detail(req)
    my_task = req.steps.filter(status="pending", approvers__user=request.user, approvers__open=True).first()
    return render(request, "approvals/request.html", {
        **d, "my_task": my_task, "may_bypass": req.status == "pending" and services.may_bypass(request.user, req),
        "pending_steps": req.steps.filter(status="pending"),
        "may_cancel": req.status == "pending" and (req.requester_id == request.user.pk
                                                   or services.may_design(request.user)),
    })


@login_required
@require_POST
def decide(request, pk):
    req = _request_or_404(request, pk)
    try:
        services.do_decide(actor=request.user, req=req, decision=request.POST.get("decision", ""),
                           comment=request.POST.get("comment", ""))
        messages.success(request, _("Your decision is recorded."))
    except DomainError as e:
        messages.error(request, _err(e))
        return redirect("approvals:request", pk=req.pk)
    return _back(request, "approvals:inbox")


@login_required
@require_POST
def bypass(request, pk):
    req = _request_or_404(request, pk)
    try:
        j = services.do_bypass(actor=request.user, req=req, step_key=request.POST.get("step") or None,
                               reason=request.POST.get("reason", ""))
        messages.warning(request, _("Step bypassed. File the justification by %(d)s.")
                         % {"d": j.due_at.strftime("%Y-%m-%d %H:%M UTC")})
    except DomainError as e:
        messages.error(request, _err(e))
    return redirect("approvals:request", pk=req.pk)


@login_required
@require_POST
def cancel(request, pk):
    req = _request_or_404(request, pk)
    try:
        services.do_cancel(actor=request.user, req=req)
        messages.success(request, _("Approval request cancelled."))
    except DomainError as e:
        messages.error(request, _err(e))
    return redirect("approvals:request", pk=req.pk)


@login_required
@require_POST
def start(request, code):
    _staff(request)
    try:
        wo = wo_selectors.access_work_order_by_code(request.user, code)
    except NotFound:
        raise Http404(_("No such work order."))
    data = {}
    for key in ("part", "impact", "safety"):
        if request.POST.get(key):
            data[key] = request.POST[key]
    if request.POST.get("amount"):
        try:
            data["amount"] = float(request.POST["amount"])
        except ValueError:
            messages.error(request, _("amount: a number, 0 or more."))
            return redirect("workorders:detail", code=wo.code)
    try:
        req = services.do_start_request(actor=request.user, wo=wo, action=request.POST.get("action", ""),
                                        data=data, note=request.POST.get("note", ""))
        messages.success(request, _("Approval requested."))
        return redirect("approvals:request", pk=req.pk)
    except DomainError as e:
        messages.error(request, _err(e))
    return redirect("workorders:detail", code=wo.code)


@login_required
@require_POST
def justify(request, pk):
    _staff(request)
    j = Justification.objects.filter(pk=pk).first()
    if j is None or (j.user_id != request.user.pk and request.user.role != Role.ADMIN):
        raise Http404(_("Not found."))
    try:
        services.do_file_justification(actor=request.user, j=j, text=request.POST.get("text", ""))
        messages.success(request, _("Justification filed."))
    except DomainError as e:
        messages.error(request, _err(e))
    return redirect("approvals:inbox")


@login_required
@require_POST
def rate_handoff(request, pk):
    _staff(request)
    h = Handoff.objects.select_related("work_order", "to_team").filter(pk=pk).first()
    if h is None or not wo_selectors.visible_work_orders(request.user).filter(pk=h.work_order_id).exists():
        raise Http404(_("Not found."))
    try:
        score = int(request.POST.get("score", "0"))
    except ValueError:
        score = 0
    try:
        handoff_services.do_rate_handoff(actor=request.user, h=h, score=score, reasons=request.POST.getlist("reasons"),
                                 comment=request.POST.get("comment", ""))
        messages.success(request, _("Thank you: the handoff is rated."))
    except DomainError as e:
        messages.error(request, _err(e))
    return redirect("workorders:detail", code=h.work_order.code)


# ---- flows and the designer ----------------------------------------------------------------------------

def _designer(request):
    _staff(request)
    if not services.may_design(request.user):
        raise Http404(_("Not found."))


@login_required
def flows(request):
    _designer(request)
    if request.method == "POST" and request.POST.get("toggle"):
        flow = ApprovalFlow.objects.filter(pk=request.POST["toggle"]).first()
        if flow is None:
            raise Http404(_("No such flow."))
        services.do_update_flow(actor=request.user, flow=flow, data={"active": not flow.active})
        return redirect("approvals:flows")
    if request.method == "POST":
        try:
            flow = services.do_create_flow(actor=request.user, data={
                "name": request.POST.get("name", ""), "action": request.POST.get("action", ""),
                "type": request.POST.get("type") or None})
            return redirect("approvals:designer", pk=flow.pk)
        except DomainError as e:
            messages.error(request, _err(e))
    return render(request, "approvals/flows.html", {
        "flows": ApprovalFlow.objects.select_related("wo_type", "current_version"),
        "types": WorkOrderType.objects.filter(active=True), "actions": TRANSITIONS.values(),
    })


@login_required
@require_GET
def designer(request, pk):
    _designer(request)
    flow = ApprovalFlow.objects.select_related("wo_type", "current_version").filter(pk=pk).first()
    if flow is None:
        raise Http404(_("No such flow."))
    from closeloop.accounts.models import User

    config = {
        "flow": flow.pk, "tree": flow.draft or T.empty_tree(),
        "api": f"/api/v1/approval-flows/{flow.pk}", "check": "/api/v1/approval-flows/check-condition",
        "roles": [[v, str(lbl)] for v, lbl in Role.choices if v != Role.CUSTOMER],
        "users": [[u.username, str(u)] for u in User.objects.filter(is_active=True).exclude(role=Role.CUSTOMER)],
        "teams": [[t.code, t.name] for t in Team.objects.all()],
    }
    return render(request, "approvals/designer.html", {
        "flow": flow, "config": config, "versions": flow.versions.order_by("-number")[:20],
        "report": selectors.duration_report(flow),
    })


@login_required
@require_GET
def reports(request):
    _designer(request)
    return render(request, "approvals/reports.html", {
        "bypass": selectors.bypass_report(), "handoffs": selectors.handoff_quality(),
        "flows": [(f, selectors.duration_report(f)) for f in ApprovalFlow.objects.all()],
        "json": json,
    })


@login_required
def handoffs(request):
    """Handoff requirements per transition: list, add, switch on and off."""
    _designer(request)
    if request.method == "POST":
        try:
            if request.POST.get("toggle"):
                r = HandoffRequirement.objects.filter(pk=request.POST["toggle"]).first()
                if r is None:
                    raise Http404(_("Not found."))
                handoff_services.do_save_handoff_requirement(actor=request.user, req=r, data={"active": not r.active})
            else:
                fields = request.POST.getlist("fields")
                fields += [f"custom.{k.strip()}" for k in request.POST.get("custom", "").split(",") if k.strip()]
                handoff_services.do_save_handoff_requirement(actor=request.user, data={
                    "action": request.POST.get("action", ""), "type": request.POST.get("type") or None,
                    "to_team": request.POST.get("to_team") or None, "fields": fields})
                messages.success(request, _("Handoff requirement saved."))
            return redirect("approvals:handoffs")
        except DomainError as e:
            messages.error(request, _err(e))
    requirements = list(HandoffRequirement.objects.select_related("wo_type", "to_team"))
    for r in requirements:  # labels, not keys
        labels = handoff_services.custom_labels(r.wo_type)
        r.action_label = handoff_services.action_label(r.action)
        r.field_labels = [handoff_services.field_label(f, labels) for f in r.fields]
    return render(request, "approvals/handoffs.html", {
        "requirements": requirements,
        "types": WorkOrderType.objects.filter(active=True), "actions": TRANSITIONS.values(),
        "teams": Team.objects.all(),
        "fields": [(f, handoff_services.field_label(f)) for f in handoff_services.HANDOFF_FIELDS],
    })
