"""What the staff console reads: saved queues, the board's columns, live changes, the
universal lookup and the dispatcher dashboard.

Every read of work orders starts from workorders.selectors.visible_work_orders, so a
customer or an engineer sees on the board, in live updates, counts and lookups exactly
what the list shows them.
"""

import re
from collections import defaultdict
from datetime import datetime

from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role, person_label
from closeloop.core.clock import now
from closeloop.core.compiled import CompiledRows
from closeloop.core.validation import compact_phone
from closeloop.customers.models import Asset, Contact, Customer
from closeloop.workorders import permissions
from closeloop.workorders import selectors as wo_selectors
from closeloop.workorders.lifecycle import OPEN_STATES, STATE_LABELS, WAIT_REASONS, S
from closeloop.workorders.models import ExternalRef, TimelineEvent, WorkOrder
from closeloop.workorders.rows import Person, Ref, Row

from .models import Queue

BOARD_STATES = list(OPEN_STATES)
BOARD_LIMIT = 40
BOARD_COUNT_CAP = 1000
CHANGES_MAX = 200
LIST_RELATED = wo_selectors.LIST_RELATED


def is_staff(user) -> bool:
    """Dispatch roles: the dashboard, bulk actions, team queues of every team."""
    return user.is_superuser or user.role in (Role.ADMIN, Role.MANAGER, Role.DISPATCHER)


def watches_the_dashboard(user) -> bool:
    """Who lands on the dashboard after logging in: managers and admins."""
    return user.is_superuser or user.role in (Role.ADMIN, Role.MANAGER)


# ---- queues -------------------------------------------------------------------------------------

def queues_for(user) -> list[Queue]:
    """Queues `user` may apply: their own, shared ones (no team, no owner), their team's;
    dispatch roles see every team's."""
    cond = Q(owner=user) | Q(team__isnull=True, owner__isnull=True)
    if user.team_id:
        cond |= Q(team_id=user.team_id, owner__isnull=True)
    if is_staff(user):
        cond |= Q(team__isnull=False, owner__isnull=True)
    return list(Queue.objects.filter(cond).select_related("team"))


def access_queue_by_id(user, queue_id) -> Queue | None:
    """The queue if `user` may apply it (None for anything else, including bad ids)."""
    if not queue_id or not str(queue_id).isdigit():
        return None
    return next((q for q in queues_for(user) if q.pk == int(queue_id)), None)


def saved_queue_filter(user, params):
    """workorders.listing saved_filter: the queue named by ?queue= (staff only)."""
    if user.role == Role.CUSTOMER:
        return None, None
    queue = access_queue_by_id(user, params.get("queue"))
    return (queue.filters or {}, queue) if queue is not None else (None, None)


def filter_from(params, queue: Queue | None) -> wo_selectors.WorkOrderFilter:
    """Filters from a saved queue, else from the query string (same names as the list)."""
    return wo_selectors.filter_from(params if queue is None else (queue.filters or {}))


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
    """Sets `wo.sla_due` (the SLA badge) on each; also the list page's decorate hook."""
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


def _moves_key(uid, customer_id, wo) -> tuple:
    """What moves_for reads of a card: cards with the same key get the same moves (permissions:
    the state, the type's stages and close steps, whether the user, `uid`, is the assignee or their
    organisation, `customer_id`, the customer, whether anyone is assigned, where a pause resumes
    to). console/tests/test_board_columns.py compares with moves_for on every card."""
    return (wo.status, wo.wo_type_id, wo.assignee_id == uid, wo.assignee_id is None,
            customer_id is not None and wo.customer_id == customer_id, wo.resume_to)


class BoardCard(Row):
    """A board card's columns (BOARD_FIELDS) without model instances: what console_cards.card_html
    and moves_for read (a full board is ~440 cards; as work orders with their customer, site and
    assignee they were ~1,800 model instances, most of the page's time)."""

    __slots__ = ("id", "code", "title", "priority", "status", "version", "resume_to", "wo_type_id", "team_id",
                 "created_by_id", "customer_id", "assignee_id", "customer", "site", "assignee", "sla_due", "moves")

    def __init__(self, row):
        (self.id, self.code, self.title, self.priority, self.status, self.version, self.resume_to, self.wo_type_id,
         self.team_id, self.created_by_id, self.customer_id, customer_name, site_id, site_name, self.assignee_id,
         username, display_name, first_name, last_name) = row
        self.customer = Ref(self.customer_id, None, customer_name) if self.customer_id else None
        self.site = Ref(site_id, None, site_name) if site_id else None
        self.assignee = (Person(self.assignee_id, username,
                                person_label(display_name, first_name, last_name, username))
                         if self.assignee_id else None)
        self.sla_due, self.moves = None, {}


BOARD_FIELDS = ("id", "code", "title", "priority", "status", "version", "resume_to", "wo_type_id", "team_id",
                "created_by_id", "customer_id", "customer__name", "site_id", "site__name", "assignee_id",
                "assignee__username", "assignee__display_name", "assignee__first_name", "assignee__last_name")


def board_columns(user, f: wo_selectors.WorkOrderFilter) -> list[dict]:
    """The open columns, newest BOARD_LIMIT cards each (BoardCard), with each column's count, SLA
    badges and the moves the user may make with each card (computed once per distinct _moves_key).
    The columns' query differs only in the state: compiled once, run per column."""
    visible = wo_selectors.filter_work_orders(user, f)
    states = [s for s in BOARD_STATES if not f.status or s in f.status]
    cards = CompiledRows(visible.filter(status=_STATE).values_list(*BOARD_FIELDS).order_by("-id")[:BOARD_LIMIT],
                         _STATE)
    # A column that shows fewer cards than it could holds just those; a full one is counted up to
    # BOARD_COUNT_CAP ("1000+" beyond: counting 200,000 open work orders took 30-50 ms at 1M).
    counted = CompiledRows(visible.filter(status=_STATE).order_by().values("id")[:BOARD_COUNT_CAP], _STATE)
    cols = []
    all_items = []
    for s in states:
        items = [BoardCard(r) for r in cards.rows(s)]
        all_items += items
        count = len(items) if len(items) < BOARD_LIMIT else counted.count(s)
        cols.append({"state": s, "label": STATE_LABELS[s], "items": items, "count": count,
                     "capped": count >= BOARD_COUNT_CAP})
    decorate(all_items)
    moves: dict[tuple, dict] = {}
    uid, customer_id = user.pk, user.customer_id
    for wo in all_items:
        key = _moves_key(uid, customer_id, wo)
        if key not in moves:
            moves[key] = moves_for(user, wo)
        wo.moves = moves[key]
    return cols


_STATE = "\x00state"  # stands for the column's state in the compiled SQL (core.compiled.CompiledRows)


# ---- live changes -----------------------------------------------------------------------------------

def last_event_id() -> int:
    """The live cursor: the newest timeline event id (pages poll for what came after it)."""
    return TimelineEvent.objects.aggregate(m=Max("id"))["m"] or 0


def changed_since(user, since_id: int, f: wo_selectors.WorkOrderFilter) -> tuple[list[WorkOrder], set[int]]:
    """Work orders `user` may see with a timeline event after `since_id` (newest first, at
    most CHANGES_MAX), and the ids of those matching `f`."""
    ids = list(TimelineEvent.objects.filter(id__gt=since_id).order_by("-id")
               .values_list("work_order_id", flat=True)[:CHANGES_MAX * 5])
    ids = list(dict.fromkeys(ids))[:CHANGES_MAX]
    visible = list(wo_selectors.visible_work_orders(user).filter(pk__in=ids)
                   .select_related(*LIST_RELATED).order_by("-id"))
    matching = set(wo_selectors.filter_work_orders(user, f).filter(pk__in=[w.pk for w in visible])
                   .values_list("pk", flat=True)) if visible else set()
    decorate(visible)
    return visible, matching


# ---- universal lookup -----------------------------------------------------------------------------------

CODE_RE = re.compile(r"^[A-Z]{1,4}\d{13,15}$")
PHONE_RE = re.compile(r"^\+?\d{5,20}$")


def lookup_results(user, q: str) -> dict:
    """Everything linked to one id: work order code, external reference, asset serial or
    phone number. Exact matches on indexed columns only (well under a second at 1M)."""
    q = (q or "").strip()[:100]
    visible = wo_selectors.visible_work_orders(user)
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
    refs = list(ExternalRef.objects.filter(external_id=q, work_order__in=wo_selectors.apply_search(visible, q))
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
    phone = compact_phone(q)
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
        ids = wo_selectors.visible_work_orders(user).exclude(customer__isnull=True).values("customer_id")
        if qs.model is Customer:
            return qs.filter(pk__in=ids)
        return qs.filter(customer_id__in=ids)
    return scope


# ---- dashboard -----------------------------------------------------------------------------------------------

def dashboard_data(user) -> dict:
    from closeloop.sla import selectors as sla_selectors
    from closeloop.sla.models import SLATarget

    t = now()
    visible = wo_selectors.visible_work_orders(user)
    open_qs = visible.filter(status__in=list(OPEN_STATES))
    rows = open_qs.values_list("status", "team__name").annotate(n=Count("id"))
    by_team: dict = defaultdict(lambda: defaultdict(int))
    totals: dict = defaultdict(int)
    for status, team, n in rows:
        by_team[team or "—"][status] += n
        totals[status] += n
    states = list(OPEN_STATES)
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
