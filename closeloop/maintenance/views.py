"""Console pages of maintenance plans: the list, a plan (forecast and history), the editor.
Dispatchers, managers and admins; engineers and finance get a 403, customers a 404.
Thin: services and selectors do the work; the form only parses."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from closeloop.accounts.models import Role
from closeloop.core.clock import now
from closeloop.core.errors import DomainError, PreconditionFailed, ValidationFailed

from . import selectors, services, sources
from .forms import PlanForm
from .models import Plan


def _reader(request):
    if request.user.role == Role.CUSTOMER:
        raise Http404(_("Not found."))
    if not services.may_read(request.user):
        raise PermissionDenied(_("Your role may not see maintenance plans."))


def _plan_or_404(pk) -> Plan:
    plan = Plan.objects.select_related("owner", "wo_type", "team", "assignee", "asset").filter(pk=pk).first()
    if plan is None:
        raise Http404(_("No such maintenance plan."))
    return plan


def _calendars():
    from closeloop.sla.models import BusinessCalendar

    return list(BusinessCalendar.objects.all())


def _form(*args, **kw) -> PlanForm:
    return PlanForm(*args, calendars=_calendars(), conditions=sources.conditions(), **kw)


@login_required
def plan_list(request):
    _reader(request)
    plans = list(Plan.objects.select_related("wo_type", "asset").order_by("name", "id"))
    counts = {}
    from django.db.models import Count

    for row in Plan.objects.values("id").annotate(n=Count("occurrences__work_order", distinct=True)):
        counts[row["id"]] = row["n"]
    return render(
        request,
        "maintenance/list.html",
        {"plans": [(p, counts.get(p.pk, 0)) for p in plans], "may_manage": services.may_manage(request.user)},
    )


@login_required
def detail(request, pk):
    _reader(request)
    plan = _plan_or_404(pk)
    return render(
        request,
        "maintenance/detail.html",
        {
            "plan": plan,
            "forecast": selectors.forecast(plan, n=10),
            "history": selectors.history(plan),
            "may_manage": services.may_manage(request.user),
            "snapshot": services.snapshot(plan),
            "telemetry": sources.telemetry_ready(),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def edit(request, pk=None):
    _reader(request)
    plan = _plan_or_404(pk) if pk is not None else None
    if request.method == "POST":
        form = _form(request.POST)
        if form.is_valid():
            data = form.service_data()
            try:
                if plan is None:
                    plan = services.do_create_plan(actor=request.user, data=data)
                    messages.success(request, _("Maintenance plan “%(n)s” created.") % {"n": plan.name})
                else:
                    services.do_update_plan(
                        actor=request.user,
                        plan=plan,
                        data=data,
                        expected_version=form.cleaned_data.get("version"),
                    )
                    messages.success(request, _("Maintenance plan “%(n)s” saved.") % {"n": plan.name})
                return redirect("maintenance:detail", pk=plan.pk)
            except ValidationFailed as e:
                for p in e.problems:
                    name = p.field.split("[", 1)[0]
                    form.add_error(name if name in form.fields else None, p.message)
            except PreconditionFailed as e:
                form.add_error(None, e.message)
    else:
        initial = (
            PlanForm.initial_for(services.snapshot(plan))
            if plan
            else {
                "enabled": True,
                "scope": "asset",
                "trigger": "calendar",
                "unit": "month",
                "every": 3,
                "anchor": "fixed",
                "age_basis": "install",
                "on_open": "skip",
                "window_days": 30,
                "lead_days": 0,
                "priority": "normal",
                "title": "{plan} · {asset}",
            }
        )
        if plan:
            initial["version"] = plan.version
        form = _form(initial=initial)
    return render(
        request,
        "maintenance/edit.html",
        {"form": form, "plan": plan, "may_manage": True, "telemetry": sources.telemetry_ready()},
    )


@login_required
@require_http_methods(["GET", "POST"])
def delete(request, pk):
    _reader(request)
    plan = _plan_or_404(pk)
    if request.method == "POST":
        try:
            services.do_delete_plan(actor=request.user, plan=plan)
        except DomainError as e:
            messages.error(request, e.message)
            return redirect("maintenance:detail", pk=pk)
        messages.success(
            request, _("Maintenance plan “%(n)s” removed (disabled when it has history).") % {"n": plan.name}
        )
        return redirect("maintenance:list")
    return render(request, "maintenance/confirm_delete.html", {"plan": plan})


@login_required
@require_POST
def run_now(request, pk):
    """Ask the worker to look at this plan now (it runs within its next tick)."""
    _reader(request)
    plan = _plan_or_404(pk)
    if not services.may_manage(request.user):
        raise PermissionDenied
    Plan.objects.filter(pk=plan.pk).update(next_check_at=now())
    messages.success(request, _("The worker will check this plan now."))
    return redirect("maintenance:detail", pk=pk)
