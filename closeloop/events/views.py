"""Settings → Event subscriptions and Settings → Connected systems (administrators)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from closeloop.core.access import ADMINS, refuse
from closeloop.core.errors import DomainError, NotFound
from closeloop.workorders.models import WorkOrderType

from . import catalogue, selectors, services
from .models import ConnectedSystem, Delivery


def _guard(request) -> None:
    if not selectors.may_manage(request.user):
        refuse(ADMINS)


def _problems(e: DomainError) -> list[str]:
    probs = getattr(e, "problems", None) or []
    return [f"{p.field}: {p.message}" for p in probs] or [str(e)]


def _sub_form(post) -> dict:
    return {"name": post.get("name", ""), "url": post.get("url", ""), "events": post.getlist("events"),
            "condition": post.get("condition", ""), "active": post.get("active") == "on"}


@login_required
def subscriptions(request):
    _guard(request)
    errors, created, form = [], None, {}
    if request.method == "POST":
        form = _sub_form(request.POST)
        try:
            sub, secret = services.do_create_subscription(actor=request.user, data=form)
            created = {"sub": sub, "secret": secret}
            form = {}
        except DomainError as e:
            errors = _problems(e)
    return render(request, "events/subscriptions.html", {
        "subs": list(selectors.subscriptions()), "types": catalogue.choices(), "errors": errors, "created": created,
        "form": form, "recent": selectors.deliveries(limit=10)})


def _sub(pk: int):
    try:
        return selectors.get_subscription(pk)
    except NotFound:
        from django.http import Http404

        raise Http404 from None


@login_required
def subscription(request, pk: int):
    _guard(request)
    sub = _sub(pk)
    errors, secret = [], None
    if request.method == "POST":
        try:
            services.do_update_subscription(actor=request.user, sub=sub, data=_sub_form(request.POST))
            messages.success(request, _("Saved."))
            return redirect("events:subscription", pk=pk)
        except DomainError as e:
            errors = _problems(e)
    secret = request.session.pop(f"events-secret-{pk}", None)
    return render(request, "events/subscription.html", {
        "sub": sub, "types": catalogue.choices(), "errors": errors, "secret": secret,
        "deliveries": selectors.deliveries(sub, request.GET.get("status") or None, 50),
        "statuses": Delivery.Status.choices, "status": request.GET.get("status") or ""})


def _back(request, pk, fn, ok: str):
    try:
        fn()
        messages.success(request, ok)
    except DomainError as e:
        messages.error(request, "; ".join(_problems(e)))
    return redirect("events:subscription", pk=pk)


@login_required
@require_POST
def subscription_rotate(request, pk: int):
    _guard(request)
    sub = _sub(pk)
    try:
        hours = float(request.POST.get("overlap_hours") or services.DEFAULT_OVERLAP_HOURS)
    except ValueError:
        hours = -1
    try:
        secret = services.do_rotate_secret(actor=request.user, sub=sub, overlap_hours=hours)
        request.session[f"events-secret-{pk}"] = secret
        messages.success(request, _("New secret made. The old one keeps signing beside it for %(h)s hours.")
                         % {"h": f"{hours:g}"})
    except DomainError as e:
        messages.error(request, "; ".join(_problems(e)))
    return redirect("events:subscription", pk=pk)


@login_required
@require_POST
def subscription_resume(request, pk: int):
    _guard(request)
    sub = _sub(pk)
    return _back(request, pk, lambda: services.do_resume_subscription(actor=request.user, sub=sub),
                 _("Resumed: deliveries held while it was paused are sent again."))


@login_required
@require_POST
def subscription_delete(request, pk: int):
    _guard(request)
    services.do_delete_subscription(actor=request.user, sub=_sub(pk))
    messages.success(request, _("Deleted."))
    return redirect("events:subscriptions")


@login_required
@require_POST
def redeliver(request, pk: int):
    _guard(request)
    try:
        d = selectors.get_delivery(pk)
    except NotFound:
        from django.http import Http404

        raise Http404 from None
    return _back(request, d.subscription_id, lambda: services.do_redeliver(actor=request.user, d=d),
                 _("Queued again with the same id."))


# ---- connected systems ---------------------------------------------------------------------------

def _system_form(post, *, create: bool) -> dict:
    out = {"name": post.get("name", ""), "scopes": post.getlist("scopes"), "default_type": post.get("default_type", "")}
    if create:
        out["key"] = post.get("key", "")
        out["signed"] = post.get("signed") == "on"
    else:
        out["active"] = post.get("active") == "on"
    return out


@login_required
def systems(request):
    _guard(request)
    errors, created, form = [], None, {}
    if request.method == "POST":
        form = _system_form(request.POST, create=True)
        try:
            s, token, secret = services.do_create_system(actor=request.user, data=form)
            created = {"system": s, "token": token, "secret": secret}
            form = {}
        except DomainError as e:
            errors = _problems(e)
    return render(request, "events/systems.html", {
        "systems": list(selectors.systems()), "scopes": ConnectedSystem.Scope.choices, "errors": errors,
        "created": created, "form": form, "types": WorkOrderType.objects.filter(active=True).order_by("key"),
        "inbound_base": request.build_absolute_uri(reverse("api:receive", kwargs={"system_key": "KEY"}))[:-3]})


def _system(pk: int):
    try:
        return selectors.get_system(pk)
    except NotFound:
        from django.http import Http404

        raise Http404 from None


@login_required
def system(request, pk: int):
    _guard(request)
    s = _system(pk)
    errors = []
    if request.method == "POST":
        try:
            services.do_update_system(actor=request.user, system=s, data=_system_form(request.POST, create=False))
            messages.success(request, _("Saved."))
            return redirect("events:system", pk=pk)
        except DomainError as e:
            errors = _problems(e)
    return render(request, "events/system.html", {
        "s": s, "scopes": ConnectedSystem.Scope.choices, "errors": errors,
        "types": WorkOrderType.objects.filter(active=True).order_by("key"),
        "token": request.session.pop(f"events-token-{pk}", None), "messages_in": selectors.recent_messages(s),
        "inbound_url": request.build_absolute_uri(reverse("api:receive", kwargs={"system_key": s.key}))})


@login_required
@require_POST
def system_rotate(request, pk: int):
    _guard(request)
    request.session[f"events-token-{pk}"] = services.do_rotate_system_token(actor=request.user, system=_system(pk))
    messages.success(request, _("New token made; the old one no longer works."))
    return redirect("events:system", pk=pk)


@login_required
@require_POST
def system_delete(request, pk: int):
    _guard(request)
    services.do_delete_system(actor=request.user, system=_system(pk))
    messages.success(request, _("Deleted."))
    return redirect("events:systems")
