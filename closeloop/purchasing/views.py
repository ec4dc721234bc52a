"""Console pages: the purchase requests with "consolidate now" and what it would order, the
batch-age rules, the settings (period, forecast horizon, ERP webhook); and the purchase card
on a purchase work order's page (lines, approval state, send to the ERP, purchase order
number). Thin: services do the work. A role that does not see purchasing gets a 404 page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from closeloop.accounts.models import User
from closeloop.core.errors import DomainError, NotFound
from closeloop.parts.models import Part

from . import selectors, services
from .models import PurchaseRequest


def _reader(request):
    if not services.may_read(request.user):
        raise Http404()


def _say(request, e: DomainError) -> None:
    messages.error(request, "; ".join(f"{p.field}: {p.message}" for p in e.problems) if e.problems and e.status == 422
                   else str(e))


def card_context(request, wo):
    if wo.wo_type.key != services.TYPE_KEY or not services.may_read(request.user):
        return None
    pr = PurchaseRequest.objects.filter(work_order=wo).prefetch_related("lines__part").first()
    if pr is None:
        return None
    status = services.status_of(pr)
    return {"pr": pr, "status": status, "may_send": services.may_purchase(request.user) and status == "approved",
            "may_record": services.may_purchase(request.user) and status in ("sent", "approved"),
            "erp_ready": bool(services.settings_row().erp_url)}


@login_required
def request_list(request):
    _reader(request)
    rows = [{"pr": pr, "status": services.status_of(pr)} for pr in selectors.requests(request.user)[:200]]
    return render(request, "purchasing/list.html", {
        "rows": rows, "needs": services.pending_needs(), "may_purchase": services.may_purchase(request.user)})


@login_required
@require_POST
def consolidate(request):
    _reader(request)
    try:
        made = services.do_consolidate(actor=request.user)
    except DomainError as e:
        _say(request, e)
        return redirect("purchasing:list")
    if made:
        messages.success(request, _("Purchase requests made: %(n)d.") % {"n": len(made)})
    else:
        messages.info(request, _("Nothing new to order."))
    return redirect("purchasing:list")


def _pr(request, code):
    try:
        return selectors.request_by_code(request.user, code)
    except NotFound:
        raise Http404()


@login_required
@require_POST
def send(request, code):
    _reader(request)
    pr = _pr(request, code)
    try:
        services.do_send_to_erp(actor=request.user, pr=pr)
        messages.success(request, _("Queued for the ERP."))
    except DomainError as e:
        _say(request, e)
    return redirect("workorders:detail", code=pr.work_order.code)


@login_required
@require_POST
def purchase_order(request, code):
    _reader(request)
    pr = _pr(request, code)
    try:
        services.do_record_purchase_order(actor=request.user, pr=pr, po_number=request.POST.get("po_number", ""))
        messages.success(request, _("Purchase order recorded."))
    except DomainError as e:
        _say(request, e)
    return redirect("workorders:detail", code=pr.work_order.code)


@login_required
def rules(request):
    _reader(request)
    if request.method == "POST":
        data = {k: request.POST.get(k, "").strip() for k in ("name", "batch", "asset_model", "years", "part",
                                                               "quantity")}
        if not data["quantity"]:
            data.pop("quantity")
        try:
            services.do_save_rule(actor=request.user, data=data)
            messages.success(request, _("Rule saved."))
        except DomainError as e:
            _say(request, e)
        return redirect("purchasing:rules")
    return render(request, "purchasing/rules.html", {
        "rules": list(selectors.rules(request.user)), "parts": Part.objects.filter(is_active=True).order_by("number"),
        "may_purchase": services.may_purchase(request.user)})


@login_required
def settings_page(request):
    _reader(request)
    s = services.settings_row()
    if request.method == "POST":
        data = {k: request.POST.get(k, "").strip() for k in ("period", "forecast_weeks", "requester", "erp_url")}
        if request.POST.get("erp_secret"):
            data["erp_secret"] = request.POST["erp_secret"]
        data["requester"] = data["requester"] or None
        data["auto_consolidate"] = request.POST.get("auto_consolidate") == "on"
        try:
            services.do_save_settings(actor=request.user, data=data)
            messages.success(request, _("Saved."))
        except DomainError as e:
            _say(request, e)
        return redirect("purchasing:settings")
    return render(request, "purchasing/settings.html", {
        "s": s, "may_purchase": services.may_purchase(request.user),
        "requesters": User.objects.filter(is_active=True, role__in=list(services.WRITE_ROLES)).order_by("username")})
