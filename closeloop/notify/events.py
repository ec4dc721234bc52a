"""Work order events that notify on their own (lifecycle effects, inside the event's
transaction): the new assignee hears "assigned to you"; watchers hear every status change
(except the one who made it)."""

from closeloop.outbox.services import enqueue
from closeloop.workorders.models import WorkOrderWatcher


def on_assign(ctx) -> None:
    wo, actor = ctx.wo, ctx.actor
    if not wo.assignee_id or (actor is not None and actor.pk == wo.assignee_id):
        return
    enqueue("notify", f"wo.assigned:{wo.pk}:v{wo.version}:{wo.assignee_id}",
            {"event": "work_order.assigned", "work_order": wo.code,
             "recipients": [{"user": wo.assignee.username}]})


def on_transition(ctx) -> None:
    wo, actor = ctx.wo, ctx.actor
    if ctx.from_state == ctx.to_state or not WorkOrderWatcher.objects.filter(work_order=wo).exists():
        return
    enqueue("notify", f"wo.watched:{wo.pk}:v{wo.version}:{ctx.transition.action}",
            {"event": "work_order.watched", "work_order": wo.code, "recipients": [{"watchers": True}],
             "exclude": [actor.username] if actor is not None else [],
             "context": {"actor": str(actor) if actor is not None else ""}})
