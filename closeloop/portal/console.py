"""Staff console: queues (saved filters), kanban board, live changes, bulk actions,
universal lookup and the dispatcher dashboard.

Every read starts from workorders.selectors.visible_work_orders, so a customer or an
engineer sees on the board, in live updates, counts and lookups exactly what the list
shows them. Routed from closeloop/workorders/urls.py (namespace "workorders")."""

import re
from collections import defaultdict
from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Max
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from closeloop.accounts.models import Role, Team, User
from closeloop.core.clock import now
from closeloop.core.errors import DomainError
from closeloop.customers.models import Asset, Contact, Customer
from closeloop.workorders import permissions, selectors, services
from closeloop.workorders.lifecycle import OPEN_STATES, STATE_LABELS, TRANSITIONS, WAIT_REASONS, S
from closeloop.workorders.models import ExternalRef, Priority, TimelineEvent, WorkOrder

from .models import Queue

BOARD_STATES = [s for s in OPEN_STATES]
BOARD_LIMIT = 40
BULK_MAX = 100
CHANGES_MAX = 200
LIST_RELATED = selectors.LIST_RELATED


def _staff(user) -> bool:
    return user.is_superuser or user.role in (Role.ADMIN, Role.MANAGER, Role.DISPATCHER)


def _console_user(request):
    if request.user.role == Role.CUSTOMER:
        raise Http404
    return request.user


# ---- queues -------------------------------------------------------------------------------------

def queues_for(user) -> list[Queue]:
    from django.db.models import Q

    cond = Q(owner=user) | Q(team__isnull=True, owner__isnull=True)
    if user.team_id:
        cond |= Q(team_id=user.team_id, owner__isnull=True)
    if _staff(user):
        cond |= Q(team__isnull=False, owner__isnull=True)
    return list(Queue.objects.filter(cond).select_related("team"))


def _queue(user, queue_id) -> Queue | None:
    if not queue_id or not str(queue_id).isdigit():
        return None
    return next((q for q in queues_for(user) if q.pk == int(queue_id)), None)


QUEUE_KEYS = ("status", "priority", "type", "team", "assignee", "customer", "site", "q")


def filter_from(params, queue: Queue | None) -> selectors.WorkOrderFilter:
    """Filters from a saved queue, else from the query string (same names as the list)."""
    if queue is not None:
        src = queue.filters or {}

        def getlist(k):
            v = src.get(k)
            return v if isinstance(v, list) else ([v] if v else [])

        def get(k):
            v = src.get(k)
            return v if isinstance(v, str) else None
    else:
        getlist, get = params.getlist, params.get
    return selectors.WorkOrderFilter(
        status=[s for s in getlist("status") if s in STATE_LABELS] or None,
        priority=[p for p in getlist("priority") if p in Priority.values] or None,
        type=get("type") or None, team=get("team") or None, assignee=get("assignee") or None,
        customer=get("customer") or None, site=get("site") or None, q=(get("q") or "")[:200] or None,
    )


@login_required
@require_POST
def queue_save(request):
    user = _console_user(request)
    name = (request.POST.get("name") or "").strip()[:100]
    if not name:
        messages.error(request, _("name: give the queue a name."))
        return _back(request, reverse("workorders:list"))
    filters: dict = {}
    for k in QUEUE_KEYS:
        vals = [v.strip()[:200] for v in request.POST.getlist(k) if v.strip()]
        if vals:
            filters[k] = vals if k in ("status", "priority") else vals[0]
    team = None
    if request.POST.get("share") == "team":
        team = user.team if not _staff(user) else (Team.objects.filter(code=request.POST.get("team_code")).first()
                                                     or user.team)
        if team is None:
            messages.error(request, _("share: you are not in a team; the queue is saved for you only."))
    q = Queue.objects.create(name=name, team=team, owner=None if team else user, filters=filters, created_at=now())
    messages.success(request, _("Queue %(name)s saved.") % {"name": q.name})
    return redirect(reverse("workorders:list") + f"?queue={q.pk}")


@login_required
@require_POST
def queue_delete(request, queue_id):
    user = _console_user(request)
    q = _queue(user, queue_id)
    if q is None or not (q.owner_id == user.pk or _staff(user)):
        raise Http404
    q.delete()
    messages.success(request, _("Queue deleted."))
    return redirect("workorders:list")


def list_extras(request) -> dict:
    """What the console adds to the work order list page: queues, SLA dues, live cursor."""
    user = request.user
    ctx = {"queues": [] if user.role == Role.CUSTOMER else queues_for(user),
           "live_since": last_event_id(), "bulk": _staff(user)}
    if ctx["bulk"]:
        ctx["engineers"] = _engineers()
    return ctx


# ---- SLA badges ------------------------------------------------------------------------------------

def sla_dues(ids) -> dict[int, datetime]:
    """The nearest running SLA deadline per work order (one query)."""
    from closeloop.sla.models import SLATarget

    out: dict[int, datetime] = {}
    for wo_id, due in (SLATarget.objects.filter(work_order_id__in=list(ids), met_at__isnull=True,
                                                due_at__isnull=False)
                       .values_list("work_order_id", "due_at").order_by("due_at")):
        out.setdefault(wo_id, due)
    return out


def decorate(items: list[WorkOrder]) -> list[WorkOrder]:
    dues = sla_dues(wo.pk for wo in items)
    for wo in items:
        wo.sla_due = dues.get(wo.pk)
    return items


# ---- board ----------------------------------------------------------------------------------------

def moves_for(user, wo) -> dict[str, str]:
    """target state -> action, for the drops this user may make with this card."""
    out: dict[str, str] = {}
    for t in permissions.allowed_actions(user, wo):
        if t.action == "wait":
            for reason, state in WAIT_REASONS.items():
                out.setdefault(state, f"wait:{reason}")
        elif t.action == "resume":
            out.setdefault(wo.resume_to or S.IN_PROGRESS, "resume")
        elif t.action == "reopen":
            out.setdefault(S.ASSIGNED if wo.assignee_id else S.NEW, "reopen")
        elif t.action == "assign" and wo.status == S.ASSIGNED:
            continue  # reassigning is done on the card, not by dropping on its own column
        elif t.target:
            out.setdefault(t.target, t.action)
    out.pop(wo.status, None)
    return out


def board_columns(user, f: selectors.WorkOrderFilter) -> list[dict]:
    base = selectors.filter_work_orders(user, f).select_related(*LIST_RELATED)
    states = [s for s in BOARD_STATES if not f.status or s in f.status]
    counts = dict(selectors.filter_work_orders(user, f).filter(status__in=states).values_list("status")
                  .annotate(n=Count("id")).values_list("status", "n"))
    cols = []
    all_items = []
    for s in states:
        items = list(base.filter(status=s).order_by("-id")[:BOARD_LIMIT])
        all_items += items
        cols.append({"state": s, "label": STATE_LABELS[s], "items": items, "count": counts.get(s, 0)})
    decorate(all_items)
    for wo in all_items:
        wo.moves = moves_for(user, wo)
    return cols


def _engineers():
    return User.objects.filter(role=Role.ENGINEER, is_active=True).select_related("team").order_by("team__name",
                                                                                                     "username")


@login_required
@require_GET
def board(request):
    user = _console_user(request)
    queue = _queue(user, request.GET.get("queue"))
    f = filter_from(request.GET, queue)
    try:
        cols = board_columns(user, f)
    except DomainError as e:
        messages.error(request, str(e))
        cols = []
    return render(request, "console/board.html", {
        "columns": cols, "queue": queue, "queues": queues_for(user), "filters": f,
        "engineers": _engineers() if _staff(user) else [], "live_since": last_event_id(),
        "state_labels": STATE_LABELS, "query_string": request.GET.urlencode(),
        "teams": Team.objects.all() if user.sees_all_work_orders else None,
    })


# ---- live changes -----------------------------------------------------------------------------------

def last_event_id() -> int:
    return TimelineEvent.objects.aggregate(m=Max("id"))["m"] or 0


@login_required
@require_GET
def changes(request):
    """htmx polling: 204 when nothing changed since `since` (a timeline event id), else the
    changed rows or cards as out-of-band swaps plus a poller carrying the new cursor. Only
    work orders the user may see are sent (visible_work_orders)."""
    since = request.GET.get("since", "")
    since_id = int(since) if since.isdigit() else 0
    latest = last_event_id()
    if latest <= since_id:
        return HttpResponse(status=204)
    ids = list(TimelineEvent.objects.filter(id__gt=since_id).order_by("-id")
               .values_list("work_order_id", flat=True)[:CHANGES_MAX * 5])
    ids = list(dict.fromkeys(ids))[:CHANGES_MAX]
    view = request.GET.get("view", "list")
    queue = _queue(request.user, request.GET.get("queue")) if request.user.role != Role.CUSTOMER else None
    f = filter_from(request.GET, queue)
    visible = list(selectors.visible_work_orders(request.user).filter(pk__in=ids)
                   .select_related(*LIST_RELATED).order_by("-id"))
    matching = set(selectors.filter_work_orders(request.user, f).filter(pk__in=[w.pk for w in visible])
                   .values_list("pk", flat=True)) if visible else set()
    decorate(visible)
    if view == "board" and request.user.role != Role.CUSTOMER:
        for wo in visible:
            wo.moves = moves_for(request.user, wo)
    ctx = {"changed": visible, "matching": matching, "since": latest, "view": view, "bulk": _staff(request.user),
           "poll_url": _poll_url(request, latest), "board_states": BOARD_STATES}
    return render(request, "console/_changes.html", ctx)


def _poll_url(request, since: int) -> str:
    params = request.GET.copy()
    params["since"] = str(since)
    return reverse("workorders:changes") + "?" + params.urlencode()


# ---- bulk actions -----------------------------------------------------------------------------------------

@login_required
@require_POST
def bulk(request):
    user = _console_user(request)
    codes = list(dict.fromkeys(c.strip().upper() for c in request.POST.getlist("codes") if c.strip()))[:BULK_MAX]
    action = request.POST.get("action", "")
    t = TRANSITIONS.get(action)
    back = reverse("workorders:list")
    if t is None or not codes:
        messages.error(request, _("Choose work orders and an action."))
        return _back(request, back)
    data = {k: v for k in (*t.required, *t.optional) if (v := request.POST.get(k, "").strip())}
    done, failed = [], []
    for wo in selectors.visible_work_orders(user).filter(code__in=codes).select_related(*LIST_RELATED):
        try:
            services.do_transition(actor=user, wo=wo, action=action, data=data)
            done.append(wo.code)
        except DomainError as e:
            failed.append(f"{wo.code}: {e}")
    missing = len(codes) - len(done) - len(failed)
    if done:
        messages.success(request, _("%(action)s: done for %(n)d work orders.") % {"action": t.label, "n": len(done)})
    for line in failed[:10]:
        messages.error(request, line)
    if missing:
        messages.error(request, _("%(n)d work orders not found.") % {"n": missing})
    return _back(request, back)


def _back(request, default: str):
    nxt = request.POST.get("next") or ""
    if nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        return redirect(nxt)
    return redirect(default)


# ---- universal lookup -----------------------------------------------------------------------------------

CODE_RE = re.compile(r"^[A-Z]{1,4}\d{13,15}$")
PHONE_RE = re.compile(r"^\+?\d{5,20}$")


def lookup_results(user, q: str) -> dict:
    """Everything linked to one id: work order code, external reference, asset serial or
    phone number. Exact matches on indexed columns only (well under a second at 1M)."""
    q = (q or "").strip()[:100]
    visible = selectors.visible_work_orders(user)
    res: dict = {"q": q, "work_orders": [], "assets": [], "customers": [], "contacts": [], "refs": [],
                 "kinds": []}
    if not q:
        return res
    up = q.upper()
    wos: dict[int, WorkOrder] = {}
    if CODE_RE.match(up):
        wo = visible.filter(code=up).select_related(*LIST_RELATED).first()
        if wo is not None:
            wos[wo.pk] = wo
            res["kinds"].append("code")
    # External references: narrowed by the search index (refs are in search_document), then exact.
    refs = list(ExternalRef.objects.filter(external_id=q, work_order__in=selectors.apply_search(visible, q))
                .select_related("work_order")[:20]) if len(q) >= 2 else []
    if refs:
        res["kinds"].append("external_ref")
        res["refs"] = refs
        for wo in visible.filter(pk__in=[r.work_order_id for r in refs]).select_related(*LIST_RELATED):
            wos[wo.pk] = wo
    own = _entity_scope(user)
    asset = own(Asset.objects.filter(serial_number=q)).select_related("site", "customer").first()
    if asset is None and q != up:
        asset = own(Asset.objects.filter(serial_number=up)).select_related("site", "customer").first()
    if asset is not None:
        res["kinds"].append("asset")
        res["assets"] = [asset]
        asset.history = list(visible.filter(asset=asset).select_related(*LIST_RELATED).order_by("-id")[:50])
        for wo in asset.history:
            wos.setdefault(wo.pk, wo)
    phone = q.replace(" ", "").replace("-", "")
    if PHONE_RE.match(phone):
        contacts = list(own(Contact.objects.filter(phone=phone)).select_related("customer", "site")[:20])
        customers = list(own(Customer.objects.filter(phone=phone))[:5]) if not contacts else []
        if contacts or customers:
            res["kinds"].append("phone")
            res["contacts"] = contacts
            for wo in (visible.filter(contact__in=contacts).select_related(*LIST_RELATED).order_by("-id")[:50]
                       if contacts else []):
                wos.setdefault(wo.pk, wo)
            cust_ids = {c.customer_id for c in contacts} | {c.pk for c in customers}
            res["customers"] = list(Customer.objects.filter(pk__in=cust_ids))
            if customers:
                for wo in visible.filter(customer__in=customers).select_related(*LIST_RELATED).order_by("-id")[:50]:
                    wos.setdefault(wo.pk, wo)
    items = sorted(wos.values(), key=lambda w: -w.pk)
    if not res["customers"]:
        res["customers"] = list({w.customer_id: w.customer for w in items if w.customer_id}.values())[:5]
    res["work_orders"] = decorate(items[:100])
    res["sites"] = list({w.site_id: w.site for w in items if w.site_id}.values())[:10]
    return res


def _entity_scope(user):
    """Customers, assets and contacts a user may see in a lookup: all for the all-seeing
    roles, their own organisation's for a customer, those of work orders they can see otherwise."""
    def scope(qs):
        if user.sees_all_work_orders:
            return qs
        if user.role == Role.CUSTOMER:
            if qs.model is Customer:
                return qs.filter(pk=user.customer_id)
            return qs.filter(customer_id=user.customer_id)
        ids = selectors.visible_work_orders(user).exclude(customer__isnull=True).values("customer_id")
        if qs.model is Customer:
            return qs.filter(pk__in=ids)
        return qs.filter(customer_id__in=ids)
    return scope


@login_required
@require_GET
def lookup(request):
    q = request.GET.get("q", "")
    res = lookup_results(request.user, q)
    if request.GET.get("go") and len(res["work_orders"]) == 1 and res["kinds"] == ["code"]:
        return redirect("workorders:detail", code=res["work_orders"][0].code)
    tpl = "console/_lookup_results.html" if request.htmx else "console/lookup.html"
    return render(request, tpl, {"r": res})


# ---- dashboard -----------------------------------------------------------------------------------------------

def dashboard_data(user) -> dict:
    from closeloop.sla import selectors as sla_selectors
    from closeloop.sla.models import SLATarget

    t = now()
    visible = selectors.visible_work_orders(user)
    open_qs = visible.filter(status__in=[s for s in OPEN_STATES])
    rows = open_qs.values_list("status", "team__name").annotate(n=Count("id"))
    by_team: dict = defaultdict(lambda: defaultdict(int))
    totals: dict = defaultdict(int)
    for status, team, n in rows:
        by_team[team or "—"][status] += n
        totals[status] += n
    states = [s for s in OPEN_STATES]
    backlog = [{"team": team, "cells": [counts.get(s, 0) for s in states], "total": sum(counts.values())}
               for team, counts in sorted(by_team.items())]
    overdue_qs = open_qs.filter(pk__in=SLATarget.objects.filter(breached=True, met_at__isnull=True)
                                .values("work_order_id"))
    due_hour = sla_selectors.due_within(open_qs, 3600, at=t)
    unassigned = open_qs.filter(assignee__isnull=True)
    start = timezone.localtime(t, timezone.get_default_timezone()).replace(hour=0, minute=0, second=0,
                                                                           microsecond=0)
    responded = list(visible.filter(arrived_at__gte=start).values_list("created_at", "departed_at", "arrived_at"))
    responded += list(visible.filter(departed_at__gte=start, arrived_at__isnull=True)
                      .values_list("created_at", "departed_at", "arrived_at"))
    waits = [(min(x for x in (d, a) if x) - c).total_seconds() for c, d, a in responded]
    avg = sum(waits) / len(waits) if waits else None
    return {
        "states": [(s, STATE_LABELS[s]) for s in states], "backlog": backlog,
        "totals": [totals.get(s, 0) for s in states], "total": sum(totals.values()),
        "overdue_count": overdue_qs.count(),
        "overdue": decorate(list(overdue_qs.select_related(*LIST_RELATED).order_by("id")[:10])),
        "due_hour_count": due_hour.count(),
        "due_hour": decorate(list(due_hour.select_related(*LIST_RELATED).order_by("id")[:10])),
        "unassigned_count": unassigned.count(),
        "unassigned": decorate(list(unassigned.select_related(*LIST_RELATED).order_by("id")[:10])),
        "avg_response": _duration(avg) if avg is not None else None,
        "responded_today": len(waits),
    }


def _duration(seconds: float) -> str:
    minutes = max(0, round(seconds / 60))
    h, m = divmod(minutes, 60)
    return _("%(h)dh %(m)02dm") % {"h": h, "m": m} if h else _("%(m)d min") % {"m": m}


@login_required
@require_GET
def dashboard(request):
    if not _staff(request.user):
        raise Http404
    return render(request, "console/dashboard.html", {"d": dashboard_data(request.user)})
