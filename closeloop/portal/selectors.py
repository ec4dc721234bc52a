"""What the customer side may read. Only customer-public facts leave this module:
public timeline events, status, ETA, the engineer's display name — never internal
comments, notes on transitions, other organisations' data or staff details."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from closeloop.customers.models import Asset
from closeloop.workorders.lifecycle import OPEN_STATES, STATE_LABELS, S
from closeloop.workorders.models import Attachment, TimelineEvent, WorkOrder

#: Customer-facing progress: the steps of the road, in order.
PROGRESS = [S.NEW, S.ASSIGNED, S.ACCEPTED, S.EN_ROUTE, S.ON_SITE, S.IN_PROGRESS, S.RESOLVED, S.CONFIRMED]
PUBLIC_EVENT_KINDS = {"created", "transition", "comment", "attachment", "signature", "portal"}


@dataclass
class PublicEvent:
    at: datetime
    kind: str
    action: str
    to_state: str
    to_label: object
    text: str
    who: str


def progress_percent(wo: WorkOrder) -> int:
    status = wo.status
    if status in (S.WAITING_CUSTOMER, S.WAITING_PARTS):
        status = wo.resume_to or S.IN_PROGRESS
    if status in (S.INVOICED, S.CLOSED):
        return 100
    if status == S.CANCELLED:
        return 0
    i = PROGRESS.index(status) if status in PROGRESS else 0
    return round(100 * i / (len(PROGRESS) - 1))


def public_events(wo: WorkOrder) -> list[PublicEvent]:
    out = []
    qs = (TimelineEvent.objects.filter(work_order=wo, public=True, kind__in=PUBLIC_EVENT_KINDS)
          .select_related("actor").order_by("id"))
    for ev in qs:
        d = ev.data or {}
        text = ""
        if ev.kind == "comment":
            text = d.get("body", "")
        elif ev.kind == "attachment":
            text = d.get("name", "")
        elif ev.kind == "transition" and ev.action == "assign":
            text = d.get("assignee_name", "")
        elif ev.kind == "portal" and d.get("rating"):
            text = "★" * int(d["rating"]) + (f" {d['comment']}" if d.get("comment") else "")
        # Staff appear by display name and role only; customers by name.
        who = ""
        if ev.actor is not None:
            who = str(ev.actor) if ev.actor.role != "customer" else ""
        out.append(PublicEvent(ev.at, ev.kind, ev.action, ev.to_state, STATE_LABELS.get(ev.to_state, ""), text, who))
    return out


def eta(wo: WorkOrder) -> datetime | None:
    """The next promised time: arrival while nobody is on site, then resolution (SLA ledger)."""
    if wo.status not in OPEN_STATES or wo.status in (S.RESOLVED, S.CONFIRMED, S.INVOICED):
        return None
    from closeloop.sla.models import SLATarget

    wanted = ["arrival", "resolution"] if wo.arrived_at is None else ["resolution"]
    rows = {t.milestone: t for t in SLATarget.objects.filter(work_order=wo, milestone__in=wanted,
                                                              met_at__isnull=True, due_at__isnull=False)}
    for m in wanted:
        if m in rows:
            return rows[m].due_at
    return None


def public_attachments(wo: WorkOrder) -> QuerySet[Attachment]:
    return Attachment.objects.filter(work_order=wo, public=True).order_by("id")


@dataclass
class Passport:
    asset: Asset
    open_work: list[WorkOrder]
    last_service: WorkOrder | None
    next_planned: dict | None  # {"date", "title"} of the next planned maintenance; None = "none planned"


def passport(asset: Asset, *, customer_id: int | None = None) -> Passport:
    qs = WorkOrder.objects.filter(asset=asset).select_related("assignee", "wo_type")
    open_work = list(qs.filter(status__in=[s for s in OPEN_STATES if s not in (S.INVOICED,)])
                     .exclude(status__in=[S.CONFIRMED]).order_by("-id")[:10])
    last = qs.filter(resolved_at__isnull=False).exclude(status=S.CANCELLED).order_by("-resolved_at").first()
    return Passport(asset, open_work, last, _next_planned(asset))


def _next_planned(asset: Asset) -> dict | None:
    """The next planned maintenance: the soonest occurrence of the asset's maintenance plans
    (closeloop.maintenance), else an open preventive work order on it. None -> "none planned"."""
    from closeloop.maintenance.selectors import next_for_asset

    nxt = next_for_asset(asset)
    if nxt is not None:
        return {"date": nxt["due"], "title": nxt["title"]}
    wo = (WorkOrder.objects.filter(asset=asset, wo_type__kind="preventive", status__in=OPEN_STATES)
          .order_by("created_at").first())
    return {"date": timezone.localdate(wo.created_at), "title": wo.title} if wo is not None else None
