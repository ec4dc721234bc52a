"""Console pages of dispatch: settings per type and team (managers and administrators),
the roster page (dispatchers too; shifts and leave are the roster app's, written through
its services), and the override from the suggestions card. Thin: the services validate
and write."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from closeloop.accounts.models import Role, Team, User
from closeloop.core.access import MANAGERS, STAFF, refuse
from closeloop.core.errors import DomainError, NotFound
from closeloop.roster import selectors as roster_selectors
from closeloop.roster import services as roster_services
from closeloop.roster.models import Shift
from closeloop.workorders import selectors as wo_selectors
from closeloop.workorders.models import WorkOrderType

from . import selectors, services
from .models import DispatchSetting, Mode


def _id(request) -> int:
    value = request.POST.get("id") or ""
    return int(value) if value.isdigit() else 0


def _problems(e: DomainError) -> list[dict]:
    return [p.as_dict() for p in e.problems] or [{"field": "", "message": str(e.message)}]


@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request):
    if not services.may_manage_settings(request.user):
        refuse(MANAGERS)
    errors, posted = [], None
    if request.method == "POST":
        action = request.POST.get("action", "save")
        row = None
        if request.POST.get("id"):
            row = DispatchSetting.objects.filter(pk=request.POST["id"]).first()
            if row is None:
                raise Http404()
        try:
            if action == "delete" and row is not None:
                services.do_delete_setting(actor=request.user, setting=row)
                messages.success(request, _("Setting deleted."))
            else:
                target = request.POST.get("target", "")
                kind, _sep, key = target.partition(":")
                data = {"mode": request.POST.get("mode"), "estimated_hours": request.POST.get("estimated_hours"),
                        "top_n": request.POST.get("top_n")}
                if kind in ("type", "team") and key:
                    data[kind] = key
                services.do_save_setting(actor=request.user, data=data, setting=row)
                messages.success(request, _("Setting saved."))
            return redirect("dispatch:settings")
        except DomainError as e:
            errors = _problems(e)
            posted = {"id": request.POST.get("id", ""), "target": request.POST.get("target", ""),
                      **{k: request.POST.get(k, "") for k in ("mode", "estimated_hours", "top_n")}}
    rows = services.list_settings(request.user)
    ctx = {"rows": rows, "errors": errors, "posted": posted, "modes": Mode.choices,
           "types": WorkOrderType.objects.filter(active=True).order_by("name"),
           "teams": Team.objects.order_by("name")}
    return render(request, "dispatch/settings.html", ctx, status=422 if errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def roster_page(request):
    if not roster_services.may_manage_roster(request.user):
        refuse(STAFF)
    errors, posted, form = [], {}, None
    if request.method == "POST":
        form = request.POST.get("form")
        try:
            if form == "shift":
                roster_services.do_add_shift(actor=request.user, data={k: request.POST.get(k, "") for k in
                                                                ("user", "kind", "starts_at", "ends_at")})
                messages.success(request, _("Shift added."))
            elif form == "leave":
                roster_services.do_add_leave(actor=request.user, data={k: request.POST.get(k, "") for k in
                                                                ("user", "starts_at", "ends_at", "reason")})
                messages.success(request, _("Leave added."))
            elif form == "delete-shift":
                shift = roster_selectors.shift_by_id(request.user, _id(request))
                if shift is None:
                    raise Http404()
                roster_services.do_delete_shift(actor=request.user, shift=shift)
                messages.success(request, _("Shift deleted."))
            elif form == "delete-leave":
                leave = roster_selectors.leave_by_id(request.user, _id(request))
                if leave is None:
                    raise Http404()
                roster_services.do_delete_leave(actor=request.user, leave=leave)
                messages.success(request, _("Leave deleted."))
            else:
                raise Http404()
            return redirect("dispatch:roster")
        except DomainError as e:
            errors = _problems(e)
            posted = dict(request.POST.items())
    dates, rows = selectors.roster(request.user)
    from datetime import datetime, timedelta

    from django.utils import timezone

    start = datetime.combine(dates[0], datetime.min.time(), tzinfo=timezone.get_current_timezone())
    end = start + timedelta(days=len(dates))
    ctx = {"dates": dates, "rows": rows, "errors": errors, "form": form, "posted": posted,
           "engineers": User.objects.filter(role=Role.ENGINEER, is_active=True).order_by("username"),
           "kinds": Shift.Kind.choices,
           "shifts": list(roster_selectors.shifts(request.user, start=start, end=end)),
           "leaves": list(roster_selectors.leaves(request.user, start=start, end=end))}
    return render(request, "dispatch/roster.html", ctx, status=422 if errors else 200)


@login_required
@require_POST
def dispatch_from_card(request, code):
    """The suggestions card's "assign": the best, or another engineer with a reason."""
    try:
        wo = wo_selectors.access_work_order_by_code(request.user, code)
    except NotFound as e:
        raise Http404() from e
    try:
        services.do_dispatch_work_order(actor=request.user, wo=wo, assignee=request.POST.get("assignee") or None,
                                        reason=request.POST.get("reason", ""))
        messages.success(request, _("Assigned to %(u)s.") % {"u": wo.assignee})
    except DomainError as e:
        messages.error(request, "; ".join(p["message"] for p in _problems(e)))
    return redirect("workorders:detail", code=wo.code)
