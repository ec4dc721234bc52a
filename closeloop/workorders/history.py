"""Historical work orders: work finished before closeloop, brought in from a ledger (the
ledgers app checks the rows and calls these functions), so the lookup, an asset's history,
repeat detection and the analytics know it.

An imported work order is created already closed (or cancelled) at the dates the ledger
gives, with a code of its own from the day it was reported (WD20240315…), its old number as
an external reference (system `ledger`, found by the lookup), and two timeline events:
reported and closed, both marked `imported`. No rules, SLA, dispatch, approvals or
notifications run: the work is over.
"""

from datetime import datetime

from django.db import transaction
from django.db.models import Count

from closeloop.accounts.models import User

from . import timeline
from .lifecycle import S
from .models import ExternalRef, TimelineEvent, WorkOrder, WorkOrderType
from .services import next_code, search_document_for

#: The external reference system an imported work order's old number is kept under.
SYSTEM = "ledger"
#: The states a historical work order may be imported in.
FINAL_STATES = (S.CLOSED, S.CANCELLED)


def imported_ids(old_numbers: set[str]) -> dict[str, int]:
    """old number -> work order id, for the numbers already imported."""
    return dict(ExternalRef.objects.filter(system=SYSTEM, external_id__in=old_numbers)
                .values_list("external_id", "work_order_id"))


def do_import_history(*, actor: User, rows: list[dict]) -> list[int]:
    """Create one closed or cancelled work order per row, in one transaction; returns their ids.

    Each row is already checked (ledgers): old_number, wo_type_id, title, status (closed or
    cancelled), reported_at and closed_at (aware datetimes), and optionally description,
    priority, customer_id, site_id, asset_id, assignee_id, fault_code, resolution, rating.
    """
    types = WorkOrderType.objects.in_bulk({r["wo_type_id"] for r in rows})
    teams = dict(User.objects.filter(id__in={r["assignee_id"] for r in rows if r.get("assignee_id")})
                 .values_list("id", "team_id"))
    ids = []
    with transaction.atomic():
        for r in rows:
            wo_type = types[r["wo_type_id"]]
            start: datetime = r["reported_at"]
            end: datetime = max(r.get("closed_at") or start, start)
            status = r["status"]
            assert status in FINAL_STATES, status
            wo = WorkOrder(
                code=next_code(wo_type.prefix, start), wo_type=wo_type, title=r["title"],
                description=r.get("description", ""), priority=r.get("priority") or "normal",
                status=status, customer_id=r.get("customer_id"), site_id=r.get("site_id"),
                asset_id=r.get("asset_id"), assignee_id=r.get("assignee_id"),
                team_id=teams.get(r.get("assignee_id")), fault_code=r.get("fault_code", ""),
                resolution=r.get("resolution", ""), rating=r.get("rating"), created_by=actor,
                created_at=start, updated_at=end,
                resolved_at=end if status == S.CLOSED else None, closed_at=end if status == S.CLOSED else None,
                cancelled_at=end if status == S.CANCELLED else None,
            )
            wo.search_document = search_document_for(wo, refs=[r["old_number"]])
            wo.save()
            ExternalRef.objects.create(work_order=wo, system=SYSTEM, external_id=r["old_number"], created_at=end)
            timeline.append_events([
                timeline.new_event(wo, TimelineEvent.Kind.CREATED, actor=actor, at=start, to_state=S.NEW,
                                   public=True, data={"title": wo.title, "priority": wo.priority,
                                                      "type": wo_type.key, "imported": True,
                                                      "external_refs": [{"system": SYSTEM,
                                                                         "id": r["old_number"]}]}),
                timeline.new_event(wo, TimelineEvent.Kind.TRANSITION, actor=actor, at=end, from_state=S.NEW,
                                   to_state=status, public=True,
                                   action="close" if status == S.CLOSED else "cancel", data={"imported": True}),
            ])
            ids.append(wo.id)
    return ids


def in_use_since_import(ids: list[int]) -> int | None:
    """The first of `ids` that anyone touched after its import (a new version, a timeline
    event, a link), or None."""
    changed = WorkOrder.objects.filter(id__in=ids).exclude(version=1).values_list("id", flat=True).first()
    if changed is not None:
        return changed
    busy = (TimelineEvent.objects.filter(work_order_id__in=ids).values("work_order_id")
            .annotate(n=Count("id")).filter(n__gt=2).order_by("work_order_id").values_list("work_order_id", flat=True)
            .first())
    if busy is not None:
        return busy
    for rel in WorkOrder._meta.related_objects:
        if rel.related_model in (TimelineEvent, ExternalRef):
            continue
        hit = (rel.related_model._base_manager.filter(**{f"{rel.field.name}__in": ids})
               .values_list(rel.field.name, flat=True).first())
        if hit is not None:
            return hit
    return None


def do_remove_imported(ids: list[int]) -> None:
    """Delete imported work orders with their two events and their old number (a rolled-back
    import). The caller checked in_use_since_import() in the same transaction."""
    with transaction.atomic():
        timeline.discard_imported(ids)
        ExternalRef.objects.filter(work_order_id__in=ids).delete()
        WorkOrder.objects.filter(id__in=ids).delete()
