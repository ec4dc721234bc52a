"""Work order events that notify on their own (lifecycle effects, inside the event's
transaction): the new assignee hears "assigned to you"; watchers hear every status change
(except the one who made it)."""

from django.apps import apps

from closeloop.outbox.services import enqueue


def on_assign(ctx) -> None:
    wo, actor = ctx.wo, ctx.actor
    if not wo.assignee_id or (actor is not None and actor.pk == wo.assignee_id):
        return
    enqueue("notify", f"wo.assigned:{wo.pk}:v{wo.version}:{wo.assignee_id}",
            {"event": "work_order.assigned", "work_order": wo.code,
             "recipients": [{"user": wo.assignee.username}]})


def _has_watchers(wo) -> bool:
    try:
        model = apps.get_model("workorders", "WorkOrderWatcher")
    except LookupError:
        return False
    return model.objects.filter(work_order=wo).exists()


def on_transition(ctx) -> None:
    wo, actor = ctx.wo, ctx.actor
    if ctx.from_state == ctx.to_state or not _has_watchers(wo):
        return
    enqueue("notify", f"wo.watched:{wo.pk}:v{wo.version}:{ctx.transition.action}",
            {"event": "work_order.watched", "work_order": wo.code, "recipients": [{"watchers": True}],
             "exclude": [actor.username] if actor is not None else [],
             "context": {"actor": str(actor) if actor is not None else ""}})
