"""The first-run form, the set-up checklist and the administration pages (Settings menu).

Every write goes through the same services as the API (customers.services, accounts.services);
a page only turns their field problems into errors beside the inputs."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from closeloop.core.errors import Conflict, DomainError, NotFound
from closeloop.core.paging import page_by_id
from closeloop.core.text import query_tokens
from closeloop.customers import selectors as customer_selectors
from closeloop.customers import services as customer_services

from . import forms, selectors, services

PAGE_SIZE = 50
PICK_LIMIT = 10


def _require_data_admin(user) -> None:
    # 404 rather than 403: the page does not exist for those it does not concern (as the audit log).
    if not selectors.may_administer_data(user):
        raise Http404()


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
            messages.success(request, _("Welcome. Your installation is ready; here is what to set up next."))
            return redirect("administration:checklist")
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
    return render(request, "administration/checklist.html", {
        "steps": steps, "done": sum(s.done for s in steps), "company": company, "form": form,
    })


# ---- customers ------------------------------------------------------------------------------

@login_required
def customers(request):
    _require_data_admin(request.user)
    q = (request.GET.get("q") or "").strip()[:100]
    qs = customer_selectors.filter_customers(request.user, q=q or None)
    error = None
    try:
        page = page_by_id(qs, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE)
    except DomainError as e:
        error, page = str(e), None
    return render(request, "administration/customers.html", {
        "page": page, "q": q, "error": error, "may_write": customer_services.may_write(request.user),
    })


@login_required
def customer_edit(request, code: str | None = None):
    _require_data_admin(request.user)
    customer = _or_404(customer_selectors.access_customer, request.user, code) if code else None
    fields = list(forms.CustomerForm.base_fields)
    if request.method == "POST":
        form = forms.CustomerForm(request.POST)
        form.is_valid()
        data = {k: request.POST.get(k, "") for k in fields}
        try:
            if customer is None:
                customer = customer_services.do_create_customer(actor=request.user, data=data)
                messages.success(request, _("Customer %(c)s added.") % {"c": customer.name})
            else:
                customer_services.do_update_customer(actor=request.user, customer=customer, data=data)
                messages.success(request, _("Customer %(c)s saved.") % {"c": customer.name})
        except DomainError as e:
            forms.apply_problems(form, e)
        else:
            return redirect("administration:customers")
    else:
        form = forms.CustomerForm(initial={k: getattr(customer, k) for k in fields} if customer else None)
    return render(request, "administration/customer_edit.html", {"form": form, "customer": customer})


# ---- pickers --------------------------------------------------------------------------------

def _token_filter(q: str, *fields: str) -> Q | None:
    """Every search token (core.text: two Chinese characters are one token) must be in one of
    `fields`; None when the query has no token."""
    tokens = query_tokens(q)
    if not tokens:
        return None
    cond = Q()
    for tok, _prefix in tokens:
        any_field = Q()
        for f in fields:
            any_field |= Q(**{f"{f}__icontains": tok})
        cond &= any_field
    return cond


@login_required
def pick_customers(request):
    """Search-as-you-type: customers the caller may see whose name or code holds the query."""
    # Those who may write customer data (and so create work orders for any customer); engineers and
    # customers get a 404.
    if not customer_services.may_write(request.user):
        raise Http404()
    cond = _token_filter(request.GET.get("q") or "", "name", "code")
    if cond is None:
        return JsonResponse({"results": []})
    rows = customer_selectors.visible_customers(request.user).filter(cond).order_by("name")[:PICK_LIMIT]
    return JsonResponse({"results": [{"value": c.code, "label": c.name, "detail": c.code} for c in rows]})
