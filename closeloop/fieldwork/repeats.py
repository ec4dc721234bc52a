"""Repeats: a new work order for the same customer and asset, or the same customer and
fault code, within 30 days of an earlier one links to it as a repeat."""

from contextvars import ContextVar
from datetime import timedelta

from django.db.models import Q

from closeloop.workorders import timeline
from closeloop.workorders.models import LinkKind, TimelineEvent, WorkOrder, WorkOrderLink

REPEAT_WINDOW = timedelta(days=30)
#: Set while field work creates a follow-up work order (linked as a child, not a repeat).
SUPPRESS: ContextVar[bool] = ContextVar("fieldwork_suppress_repeats", default=False)


def link_repeats(ctx) -> None:
    wo = ctx.wo
    if SUPPRESS.get() or not wo.customer_id or not (wo.asset_id or wo.fault_code):
        return
    # The newest earlier work order by asset and by fault code, one indexed query each
    # (wo_asset_created, wo_fault_created; an OR of both scanned every work order of the asset),
    # and the newer of the two.
    conds = [Q(asset_id=wo.asset_id)] if wo.asset_id else []
    if wo.fault_code:
        conds.append(Q(fault_code=wo.fault_code))
    found = [row for cond in conds if (row := (
        WorkOrder.objects.filter(cond, customer_id=wo.customer_id, created_at__gte=ctx.at - REPEAT_WINDOW)
        .exclude(pk=wo.pk).exclude(status="cancelled").order_by("-created_at", "-id")
        # what the link and its two events use (events.producer reads code and version)
        .only("id", "code", "version", "asset_id", "created_at").first())) is not None]
    if not found:
        return
    earlier = max(found, key=lambda w: (w.created_at, w.pk))
    WorkOrderLink.objects.create(source=wo, target=earlier, kind=LinkKind.REPEAT, created_at=ctx.at,
                                 created_by=None)
    reason = "asset" if wo.asset_id and earlier.asset_id == wo.asset_id else "fault_code"
    timeline.append_events([  # one INSERT
        timeline.new_event(on, TimelineEvent.Kind.LINK, at=ctx.at, data=data)
        for on, data in ((wo, {"kind": LinkKind.REPEAT, "target": earlier.code, "reason": reason}),
                         (earlier, {"kind": LinkKind.REPEAT, "source": wo.code, "reason": reason}))])
