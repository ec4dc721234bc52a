"""Customer portal pages: phone-first, no account needed when coming from a QR code.

Anonymous pages are reached only by a signed QR token or an unguessable tracking token;
every anonymous request counts against a per-address rate limit (429 past it)."""

import base64
import binascii

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from closeloop.core.errors import DomainError, NotFound
from closeloop.core.ratelimit import client_address
from closeloop.customers.models import Asset, Site
from closeloop.workorders import selectors as wo_selectors
from closeloop.workorders.lifecycle import S
from closeloop.workorders.models import WorkOrder

from . import selectors, services
from .models import Feedback


def _limited(request, scope: str):
    try:
        services.check_rate(scope, client_address(request))
    except services.RateLimited as e:
        return render(request, "portal/limited.html", {"message": str(e)}, status=429)
    return None


def _is_customer(user) -> bool:
    return user.is_authenticated and user.role == "customer" and user.customer_id is not None


# ---- logged-in customer --------------------------------------------------------------------

@login_required
@require_GET
def home(request):
    if not _is_customer(request.user):
        return redirect("workorders:list")
    qs = wo_selectors.visible_work_orders(request.user).select_related("assignee", "site", "asset").order_by("-id")
    q = (request.GET.get("q") or "").strip()[:100]
    if q:
        qs = wo_selectors.apply_search(qs, q)
    items = list(qs[:50])
    return render(request, "portal/home.html", {"items": items, "q": q,
                                                "open_count": wo_selectors.visible_work_orders(request.user)
                                                .exclude(status__in=[S.CLOSED, S.CANCELLED]).count()})


@login_required
@require_http_methods(["GET", "POST"])
def report(request):
    if not _is_customer(request.user):
        raise Http404
    return _report(request, actor=request.user, place=None)


@login_required
@require_GET
def work_order(request, code):
    if not _is_customer(request.user):
        raise Http404
    try:
        wo = wo_selectors.access_work_order_by_code(request.user, code)
    except NotFound:
        raise Http404
    return _track_page(request, wo, base=f"/portal/w/{wo.code}/")


@login_required
@require_POST
def work_order_confirm(request, code):
    wo = _own_or_404(request, code)
    return _confirm(request, wo, request.user, redirect_to=("portal:work_order", wo.code))


@login_required
@require_POST
def work_order_reopen(request, code):
    wo = _own_or_404(request, code)
    return _reopen(request, wo, request.user, redirect_to=("portal:work_order", wo.code))


@login_required
@require_GET
def work_order_live(request, code):
    wo = _own_or_404(request, code)
    return _live(request, wo)


def _own_or_404(request, code) -> WorkOrder:
    if not _is_customer(request.user):
        raise Http404
    try:
        return wo_selectors.access_work_order_by_code(request.user, code)
    except NotFound:
        raise Http404


# ---- QR codes (anonymous) ------------------------------------------------------------------------

def _place_or_404(token):
    place = services.unsign_qr(token)
    if place is None:
        raise Http404
    return place


@require_GET
def qr(request, token):
    if (r := _limited(request, "lookup")) is not None:
        return r
    place = _place_or_404(token)
    if isinstance(place, Asset):
        pp = selectors.passport(place)
        return render(request, "portal/passport.html", {
            "pp": pp, "token": token, "progress": {wo.pk: selectors.progress_percent(wo) for wo in pp.open_work}})
    return redirect("portal:qr_report", token=token)


@require_http_methods(["GET", "POST"])
def qr_report(request, token):
    if (r := _limited(request, "report" if request.method == "POST" else "lookup")) is not None:
        return r
    place = _place_or_404(token)
    actor = request.user if _is_customer(request.user) else None
    return _report(request, actor=actor, place=place, token=token)


#: The report form's own inputs (an error for any other field is shown at the top of the form).
_REPORT_INPUTS = {"what", "phone", "asset", "site", "file"}


def _report(request, *, actor, place, token=None):
    values = {"what": "", "phone": "", "name": "", "where": ""}
    errors: dict[str, str] = {}
    fields = services.report_fields(services.default_type(), place)
    custom = {f.key: "" for f in fields}
    if actor is not None:
        values["phone"] = actor.phone
        values["name"] = str(actor)
    if request.method == "POST":
        values = {k: (request.POST.get(k) or "").strip() for k in values}
        custom = {f.key: (request.POST.get(f"custom.{f.key}") or "").strip() for f in fields}
        kind, _sep, key = values["where"].partition(":")
        try:
            wo = services.do_report(actor=actor, what=values["what"], place=place,
                                    asset=key if kind == "a" else "", site=key if kind == "s" else "", phone=values["phone"], name=values["name"],
                                    photo=request.FILES.get("photo"), custom={k: v for k, v in custom.items() if v})
        except DomainError as e:
            shown = _REPORT_INPUTS | {f"custom.{f.key}" for f in fields}
            for p in e.problems:
                errors[p.field] = str(p.message)
            # A public form shows every error where the visitor is: one about a field it has
            # no input for goes at the top, in words, rather than nowhere.
            rest = [f"{p.message}" if p.field in ("", "form") else f"{p.field}: {p.message}"
                    for p in e.problems if p.field not in shown]
            if rest or not e.problems:
                errors["form"] = "; ".join(rest) if rest else str(e)
        else:
            messages.success(request, _("Thank you. Your request %(code)s was received.") % {"code": wo.code})
            if actor is not None:
                return redirect("portal:work_order", code=wo.code)
            return redirect("portal:track", token=services.ensure_tracking(wo).token)
    ctx = {"values": values, "errors": errors, "place": place, "token": token, "is_asset": isinstance(place, Asset),
           "is_site": isinstance(place, Site),
           "custom_fields": [{"f": f, "name": f"custom.{f.key}", "id": f"r-custom-{f.key}", "value": custom.get(f.key, ""),
                              "error": errors.get(f"custom.{f.key}", "")} for f in fields]}
    if actor is not None and place is None:
        ctx["assets"] = Asset.objects.filter(customer_id=actor.customer_id).order_by("name")[:200]
        ctx["sites"] = Site.objects.filter(customer_id=actor.customer_id).order_by("name")[:200]
        if request.GET.get("asset") and not values["where"]:
            values["where"] = "a:" + request.GET["asset"][:100]
    return render(request, "portal/report.html", ctx, status=422 if errors else 200)


# ---- tracking link (anonymous) ---------------------------------------------------------------------

def _tracked_or_404(token) -> WorkOrder:
    wo = services.work_order_by_token(token)
    if wo is None:
        raise Http404
    return wo


@require_GET
def track(request, token):
    if (r := _limited(request, "lookup")) is not None:
        return r
    wo = _tracked_or_404(token)
    return _track_page(request, wo, base=f"/portal/t/{token}/", token=token)


@require_GET
def track_live(request, token):
    if (r := _limited(request, "lookup")) is not None:
        return r
    return _live(request, _tracked_or_404(token))


@require_GET
def track_attachment(request, token, attachment_id: int):
    """A public attachment of the tracked work order (internal ones are never reachable)."""
    from closeloop.workorders.api import attachment_response

    if (r := _limited(request, "lookup")) is not None:
        return r
    wo = _tracked_or_404(token)
    att = selectors.public_attachments(wo).filter(pk=attachment_id).first()
    if att is None:
        raise Http404
    try:
        return attachment_response(att)
    except NotFound:
        raise Http404 from None


@require_POST
def track_confirm(request, token):
    if (r := _limited(request, "act")) is not None:
        return r
    wo = _tracked_or_404(token)
    return _confirm(request, wo, None, redirect_to=("portal:track", token))


@require_POST
def track_reopen(request, token):
    if (r := _limited(request, "act")) is not None:
        return r
    wo = _tracked_or_404(token)
    return _reopen(request, wo, None, redirect_to=("portal:track", token))


def _track_context(wo: WorkOrder) -> dict:
    return {
        "wo": wo, "events": selectors.public_events(wo), "eta": selectors.eta(wo),
        "progress": selectors.progress_percent(wo), "engineer": str(wo.assignee) if wo.assignee_id else "",
        "attachments": selectors.public_attachments(wo), "may_confirm": wo.status == S.RESOLVED,
        "may_reopen": services.may_reopen(wo), "reopen_days": services.reopen_days(),
        "feedback": Feedback.objects.filter(work_order=wo).first(),
    }


def _track_page(request, wo, *, base: str, token: str = ""):
    ctx = _track_context(wo)
    ctx["base"] = base
    ctx["token"] = token
    return render(request, "portal/track.html", ctx)


def _live(request, wo):
    """htmx polling target: the status block only (cheap; no SLA recomputation)."""
    return render(request, "portal/_status.html", _track_context(wo))


def _confirm(request, wo, actor, *, redirect_to):
    png = None
    raw = request.POST.get("signature", "")
    if raw.startswith("data:image/png;base64,"):
        try:
            png = base64.b64decode(raw.split(",", 1)[1], validate=True)
        except (binascii.Error, ValueError):
            png = b"bad"
    try:
        services.do_confirm(actor=actor, wo=wo, rating=request.POST.get("rating"),
                            comment=request.POST.get("comment", ""), signer_name=request.POST.get("signer_name", ""),
                            image_png=png, version=int(v) if (v := request.POST.get("version", "")).isdigit() else None)
    except DomainError as e:
        messages.error(request, "; ".join(str(p.message) for p in e.problems) or str(e))
    else:
        messages.success(request, _("Thank you for confirming and rating the work."))
    return redirect(*redirect_to)


def _reopen(request, wo, actor, *, redirect_to):
    try:
        services.do_reopen(actor=actor, wo=wo, reason=request.POST.get("reason", ""))
    except DomainError as e:
        messages.error(request, "; ".join(str(p.message) for p in e.problems) or str(e))
    else:
        messages.success(request, _("Reopened: we are on it again."))
    return redirect(*redirect_to)
