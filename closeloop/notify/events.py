"""Work order events that notify on their own (lifecycle effects, inside the event's
transaction): the new assignee hears "assigned to you"; watchers hear every status change
(except the one who made it)."""

from closeloop.workorders.models import WorkOrderWatcher

from .services import notify


def on_assign(ctx) -> None:
    wo, actor = ctx.wo, ctx.actor
    if not wo.assignee_id or (actor is not None and actor.pk == wo.assignee_id):
        return
    notify(key=f"wo.assigned:{wo.pk}:v{wo.version}:{wo.assignee_id}", event="work_order.assigned",
           work_order=wo, recipients=[{"user": wo.assignee.username}])


def on_transition(ctx) -> None:
    wo, actor = ctx.wo, ctx.actor
    if ctx.from_state == ctx.to_state or not WorkOrderWatcher.objects.filter(work_order=wo).exists():
        return
    notify(key=f"wo.watched:{wo.pk}:v{wo.version}:{ctx.transition.action}", event="work_order.watched",
           work_order=wo, recipients=[{"watchers": True}], exclude=[actor.username] if actor is not None else None,
           context={"actor": str(actor) if actor is not None else ""})
