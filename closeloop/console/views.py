"""Staff console pages: the kanban board, live changes, bulk actions, saved queues,
universal lookup and the dispatcher dashboard. Thin: selectors read, services write.

The work order list itself is workorders' page; the console adds its toolbar, queues,
bulk bar, SLA badges and live updates there through workorders.listing (apps.py)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from closeloop.accounts.models import Role, Team
from closeloop.accounts.selectors import engineer_choices
from closeloop.core.access import STAFF, refuse
from closeloop.core.errors import DomainError, NotFound
from closeloop.workorders.lifecycle import STATE_LABELS, TRANSITIONS
from closeloop.workorders.listing import list_slots

from . import lookup as lookup_panels
from . import selectors, services


def _console_user(request):
    if request.user.role == Role.CUSTOMER:
        raise Http404
    return request.user


def list_context(request) -> dict:
    """workorders.listing context: what the console adds to the work order list page."""
    user = request.user
    ctx = {"queues": [] if user.role == Role.CUSTOMER else selectors.queues_for(user),
           "live_since": selectors.last_event_id(), "bulk": selectors.is_staff(user)}
    if ctx["bulk"]:
        ctx["engineers"] = engineer_choices()
    return ctx


# ---- queues -------------------------------------------------------------------------------------

@login_required
@require_POST
def queue_save(request):
    user = _console_user(request)
    share = request.POST.get("share") == "team"
    try:
        q = services.do_save_queue(actor=user, name=request.POST.get("name") or "",
                                   filters=services.clean_queue_filters(request.POST.getlist), share_with_team=share,
                                   team_code=request.POST.get("team_code") or "")
    except DomainError as e:
        messages.error(request, "; ".join(str(p.message) for p in e.problems) or str(e))
        return _back(request, reverse("workorders:list"))
    if share and q.team is None:
        messages.error(request, _("share: you are not in a team; the queue is saved for you only."))
    messages.success(request, _("Queue %(name)s saved.") % {"name": q.name})
    return redirect(reverse("workorders:list") + f"?queue={q.pk}")


@login_required
@require_POST
def queue_delete(request, queue_id):
    user = _console_user(request)
    try:
        services.do_delete_queue(actor=user, queue_id=queue_id)
    except NotFound:
        raise Http404 from None
    messages.success(request, _("Queue deleted."))
    return redirect("workorders:list")


# ---- board ----------------------------------------------------------------------------------------

@login_required
@require_GET
def board(request):
    user = _console_user(request)
    queue = selectors.access_queue_by_id(user, request.GET.get("queue"))
    f = selectors.filter_from(request.GET, queue)
    try:
        cols = selectors.board_columns(user, f)
    except DomainError as e:
        messages.error(request, str(e))
        cols = []
    return render(request, "console/board.html", {
        "columns": cols, "queue": queue, "queues": selectors.queues_for(user), "filters": f,
        "engineers": engineer_choices() if selectors.is_staff(user) else [],
        "live_since": selectors.last_event_id(), "state_labels": STATE_LABELS,
        "query_string": request.GET.urlencode(),
        "teams": Team.objects.all() if user.sees_all_work_orders else None,
    })


# ---- live changes -----------------------------------------------------------------------------------

@login_required
@require_GET
def changes(request):
    """htmx polling: 204 when nothing changed since `since` (a timeline event id), else the
    changed rows or cards as out-of-band swaps plus a poller carrying the new cursor. Only
    work orders the user may see are sent (visible_work_orders)."""
    since = request.GET.get("since", "")
    since_id = int(since) if since.isdigit() else 0
    latest = selectors.last_event_id()
    if latest <= since_id:
        return HttpResponse(status=204)
    view = request.GET.get("view", "list")
    customer = request.user.role == Role.CUSTOMER
    queue = selectors.access_queue_by_id(request.user, request.GET.get("queue")) if not customer else None
    visible, matching = selectors.changed_since(request.user, since_id, selectors.filter_from(request.GET, queue))
    if view == "board" and not customer:
        for wo in visible:
            wo.moves = selectors.moves_for(request.user, wo)
    ctx = {"changed": visible, "matching": matching, "since": latest, "view": view,
           "bulk": selectors.is_staff(request.user), "poll_url": _poll_url(request, latest),
           "board_states": selectors.BOARD_STATES, "list_slots": list_slots()}
    return render(request, "console/_changes.html", ctx)


def _poll_url(request, since: int) -> str:
    params = request.GET.copy()
    params["since"] = str(since)
    return reverse("console:changes") + "?" + params.urlencode()


# ---- bulk actions -----------------------------------------------------------------------------------------

@login_required
@require_POST
def bulk(request):
    user = _console_user(request)
    action = request.POST.get("action", "")
    back = reverse("workorders:list")
    try:
        res = services.do_bulk_transition(actor=user, codes=request.POST.getlist("codes"), action=action,
                                          data=request.POST)
    except DomainError:
        messages.error(request, _("Choose work orders and an action."))
        return _back(request, back)
    if res.done:
        messages.success(request, _("%(action)s: done for %(n)d work orders.")
                         % {"action": TRANSITIONS[action].label, "n": len(res.done)})
    for line in res.failed[:10]:
        messages.error(request, line)
    if res.missing:
        messages.error(request, _("%(n)d work orders not found.") % {"n": res.missing})
    return _back(request, back)


def _back(request, default: str):
    nxt = request.POST.get("next") or ""
    if nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        return redirect(nxt)
    return redirect(default)


# ---- universal lookup -----------------------------------------------------------------------------------

@login_required
@require_GET
def lookup(request):
    res = selectors.lookup_results(request.user, request.GET.get("q", ""))
    if request.GET.get("go") and len(res["work_orders"]) == 1 and res["kinds"] == ["code"]:
        return redirect("workorders:detail", code=res["work_orders"][0].code)
    tpl = "console/_lookup_results.html" if request.htmx else "console/lookup.html"
    return render(request, tpl, {"r": res, "panels": lookup_panels.panels_for(request, res)})


# ---- dashboard -----------------------------------------------------------------------------------------------

@login_required
@require_GET
def dashboard(request):
    if not selectors.is_staff(request.user):
        refuse(STAFF)
    return render(request, "console/dashboard.html", {"d": selectors.dashboard_data(request.user)})
