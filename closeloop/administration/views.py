"""The first-run form, the set-up checklist and the administration pages (Settings menu).

Every write goes through the same services as the API (customers.services, accounts.services);
a page only turns their field problems into errors beside the inputs."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from closeloop.core.errors import Conflict, DomainError, NotFound
from closeloop.core.paging import page_by_id

from . import forms, selectors, services
from .kinds import KINDS

PAGE_SIZE = 50


def _or_404(access, *args):
    try:
        return access(*args)
    except NotFound:
        raise Http404() from None


# ---- first run ------------------------------------------------------------------------------

def first_run(request):
    """The administrator account and the company settings, on an empty installation only."""
    if not selectors.needs_first_run():
        raise Http404()
    if request.method == "POST":
        form = forms.FirstRunForm(request.POST)
        form.is_valid()
        try:
            user = services.do_first_run(data={k: request.POST.get(k, "") for k in services.FIRST_RUN_FIELDS})
        except Conflict:
            raise Http404() from None  # someone else finished first: the page is gone
        except DomainError as e:
            forms.apply_problems(form, e)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            from django.conf import settings
            from django.utils import translation

            translation.activate(user.language)  # the welcome below, and the next pages, in the chosen language
            messages.success(request, _("Welcome. Your installation is ready; here is what to set up next."))
            response = redirect("administration:checklist")
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, user.language, max_age=365 * 86400, samesite="Lax",
                                secure=request.is_secure())
            return response
    else:
        from django.conf import settings
        from django.utils.translation import get_language

        lang = get_language() or settings.LANGUAGE_CODE
        form = forms.FirstRunForm(initial={"time_zone": settings.TIME_ZONE,
                                           "language": "en" if lang.startswith("en") else "zh-hans",
                                           "site_url": request.build_absolute_uri("/").rstrip("/")})
    return render(request, "administration/first_run.html", {"form": form})


@login_required
def checklist(request):
    if not selectors.may_see_setup(request.user):
        raise Http404()
    company = selectors.company()
    form = None
    if company is not None:
        if request.method == "POST":
            form = forms.CompanyForm(request.POST)
            form.is_valid()
            try:
                services.do_update_company(actor=request.user, data={k: request.POST.get(k, "") for k in
                                                                     ("name", "time_zone", "language", "site_url")})
            except DomainError as e:
                forms.apply_problems(form, e)
            else:
                messages.success(request, _("Company settings saved."))
                return redirect("administration:checklist")
        else:
            form = forms.CompanyForm(initial={"name": company.name, "time_zone": company.time_zone,
                                              "language": company.language, "site_url": company.site_url})
    steps = selectors.checklist()
    from closeloop.sla.selectors import holiday_gaps

    return render(request, "administration/checklist.html", {
        "steps": steps, "done": sum(s.done for s in steps), "company": company, "form": form,
        "holiday_gaps": holiday_gaps(),
    })


# ---- reference data (kinds.KINDS) ---------------------------------------------------------

def _kind(request, key: str):
    kind = KINDS[key]
    # 404 rather than 403: the page does not exist for those it does not concern (as the audit log).
    if not kind.may(request.user):
        raise Http404()
    return kind


def _nav(request) -> list[dict]:
    return [{"key": k.key, "title": k.title} for k in KINDS.values() if k.may(request.user)]


@login_required
def object_list(request, kind: str):
    k = _kind(request, kind)
    q = (request.GET.get("q") or "").strip()[:100]
    error = None
    try:
        page = page_by_id(k.rows(request.user, q), cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE)
    except DomainError as e:
        error, page = str(e), None
    rows = [{"obj": o, "ref": k.ref(o), "active": getattr(o, "is_active", getattr(o, "active", True)),
             "cells": [{"text": c.value(o), "wide_only": c.wide_only} for c in k.columns]}
            for o in (page.items if page else [])]
    gaps = None
    if k.key in ("sla-policies", "calendars"):
        from closeloop.sla.selectors import holiday_gaps

        gaps = holiday_gaps()
    return render(request, "administration/list.html", {
        "kind": k, "kinds": _nav(request), "rows": rows, "page": page, "q": q, "error": error,
        "holiday_gaps": gaps,
    })


@login_required
def object_edit(request, kind: str, ref: str | None = None):
    k = _kind(request, kind)
    obj = _or_404(k.access, request.user, ref) if ref is not None else None
    form_kwargs = {"editing": obj is not None} if k.form in (forms.UserForm, forms.PolicyForm,
                                                              forms.CalendarForm) else {}
    if request.method == "POST":
        form = k.form(request.POST, **form_kwargs)
        form.is_valid()
        try:
            if obj is None:
                obj = k.create(request.user, request.POST)
                messages.success(request, _("Added %(what)s %(obj)s.") % {"what": k.one, "obj": obj})
            else:
                k.update(request.user, obj, request.POST)
                messages.success(request, _("Saved %(what)s %(obj)s.") % {"what": k.one, "obj": obj})
            if k.after_save is not None:
                return redirect(*k.after_save(obj))
        except DomainError as e:
            if obj is not None and obj.pk is not None and ref is not None:
                obj.refresh_from_db()
            forms.apply_problems(form, e)
        else:
            return redirect("administration:list", kind=k.key)
    else:
        initial = k.initial(obj) if obj is not None else {
            name: request.GET[name].strip()[:100] for name in k.prefill if request.GET.get(name)}
        form = k.form(initial=initial or None, **form_kwargs)
    return render_edit(request, k.key, obj, form=form, ref=ref)


def render_edit(request, kind: str, obj, *, form=None, ref=None, add_form=None, line=None, status=200):
    """An object's page: its form, and for a work order type the form designer (administration/designer.py)."""
    k = KINDS[kind]
    if form is None:
        kwargs = {"editing": obj is not None} if k.form in (forms.PolicyForm, forms.CalendarForm) else {}
        form = k.form(initial=k.initial(obj) if obj is not None else None, **kwargs)
    if ref is None and obj is not None:
        ref = k.ref(obj)
    qr_url = None
    if k.key == "assets" and obj is not None:
        from django.urls import reverse

        qr_url = reverse("fieldwork:qr", args=["asset", obj.serial_number])
    extra = {}
    if k.key == "assets" and obj is not None:
        from closeloop.maintenance.selectors import asset_card

        extra["maintenance"] = asset_card(request.user, obj)
    if k.key == "types" and obj is not None:
        from .designer import designer_context

        extra = designer_context(request, obj, add_form=add_form, line=line)
    if k.key == "calendars" and obj is not None:
        from .holidays import holiday_context

        extra = holiday_context(request, obj, year_form=add_form)
    if k.key in ("sla-policies", "calendars"):
        from closeloop.sla.selectors import holiday_gaps

        extra["holiday_gaps"] = holiday_gaps()
    if k.key == "customers" and obj is not None:
        from closeloop.customers.selectors import contracts_of

        extra["contracts"] = list(contracts_of(request.user, obj).order_by("-is_active", "-starts_on")[:50])
    if k.key == "contracts" and obj is not None:
        from django.urls import reverse

        extra["cancel_url"] = reverse("administration:edit", args=["customers", obj.customer.code])
    return render(request, "administration/edit.html", {
        "kind": k, "kinds": _nav(request), "form": form, "obj": obj, "ref": ref,
        "active": getattr(obj, "is_active", getattr(obj, "active", True)), "qr_url": qr_url,
        # booleans: a template would call the callables themselves (and get nothing)
        "can_deactivate": k.deactivate is not None, "can_delete": k.delete is not None, **extra,
    }, status=status)


@login_required
@require_POST
def object_active(request, kind: str, ref: str):
    k = _kind(request, kind)
    if k.deactivate is None:
        raise Http404()
    obj = _or_404(k.access, request.user, ref)
    active = request.POST.get("active") == "1"
    try:
        k.deactivate(request.user, obj, active)
    except DomainError as e:
        messages.error(request, str(e))
    else:
        messages.success(request, (_("%(obj)s is active again.") if active else _("%(obj)s is deactivated."))
                         % {"obj": obj})
    return redirect("administration:edit", kind=k.key, ref=ref)


@login_required
@require_POST
def object_delete(request, kind: str, ref: str):
    k = _kind(request, kind)
    if k.delete is None:
        raise Http404()
    obj = _or_404(k.access, request.user, ref)
    label = str(obj)
    try:
        k.delete(request.user, obj)
    except DomainError as e:
        messages.error(request, str(e))
        return redirect("administration:edit", kind=k.key, ref=ref)
    messages.success(request, _("Deleted %(obj)s.") % {"obj": label})
    return redirect("administration:list", kind=k.key)


# ---- pickers --------------------------------------------------------------------------------

@login_required
def pick(request, kind: str):
    """Search-as-you-type (static/src/picker.js): up to 10 matches as {value, label, detail}."""
    if not selectors.may_pick(request.user):
        raise Http404()
    results = selectors.pick(request.user, kind, request.GET.get("q") or "",
                             customer=(request.GET.get("customer") or "").strip()[:40])
    if results is None:
        raise Http404()
    return JsonResponse({"results": results})
