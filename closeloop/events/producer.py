"""Producing events: a listener on the timeline and on the SLA ledger's state changes.

Hot-path cost: one cache read per appended batch (the set of event types some active
subscription wants, cached for CACHE_SECONDS and dropped on every subscription write);
nothing else when no subscription wants the event. When one does: one INSERT of one
`events.fan_out` outbox row per appended batch, in the change's own transaction. The worker
turns it into one delivery per matching subscription (delivery.fan_out)."""

import uuid

from django.core.cache import cache
from django.db import transaction

from closeloop.outbox import services as outbox
from closeloop.workorders import timeline
from closeloop.workorders.models import TimelineEvent, WorkOrder

from . import catalogue

CACHE_KEY = "events:subscribed-types:v1"
CACHE_SECONDS = 30
FAN_OUT_KIND = "events.fan_out"

_WO = TimelineEvent._meta.get_field("work_order")
_ACTOR = TimelineEvent._meta.get_field("actor")


def subscribed_types() -> frozenset[str]:
    """Event types some active subscription wants ("*" for all); cached."""
    value = cache.get(CACHE_KEY)
    if value is None:
        from .models import Subscription

        types: set[str] = set()
        for events in Subscription.objects.filter(active=True).values_list("events", flat=True):
            types.update(events or [])
        value = frozenset(types)
        cache.set(CACHE_KEY, value, CACHE_SECONDS)
    return value


def forget() -> None:
    """After a subscription write (now and again at commit, so no reader caches the old set)."""
    cache.delete(CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(CACHE_KEY))


def wanted(types: frozenset[str], event_type: str) -> bool:
    return catalogue.ALL in types or event_type in types or any(a in types for a in catalogue.aliases(event_type))


def _wo_facts(ev: TimelineEvent) -> tuple[str, int | None]:
    if _WO.is_cached(ev) and ev.work_order is not None:
        return ev.work_order.code, ev.work_order.version
    return "", None


def on_timeline(events: list[TimelineEvent]) -> None:
    types = subscribed_types()
    if not types:
        return
    rows = []
    for ev in events:
        event_type = catalogue.type_of(ev.kind, ev.action, ev.data)
        if event_type is None or not wanted(types, event_type):
            continue
        code, version = _wo_facts(ev)
        actor = ev.actor.username if _ACTOR.is_cached(ev) and ev.actor is not None else None
        rows.append((f"events:fan:{uuid.uuid4().hex}", {
            "type": event_type, "work_order": ev.work_order_id, "code": code, "version": version,
            "timeline_id": ev.pk, "kind": ev.kind, "action": ev.action, "from_state": ev.from_state,
            "to_state": ev.to_state, "actor": actor, "actor_id": ev.actor_id, "at": ev.at.isoformat(),
            "public": ev.public, "data": ev.data or {}}))
    if rows:
        outbox.enqueue_many(FAN_OUT_KIND, rows)


def on_sla_state(wo: WorkOrder, milestone: str, old: str | None, new: str, due_at, at) -> None:
    event_type = {"warning": "sla.warning", "breached": "sla.breach"}.get(new)
    if event_type is None:
        return
    types = subscribed_types()
    if not types or not wanted(types, event_type):
        return
    outbox.enqueue_many(FAN_OUT_KIND, [(f"events:fan:{uuid.uuid4().hex}", {
        "type": event_type, "work_order": wo.pk, "code": wo.code, "version": wo.version, "timeline_id": None,
        "kind": "sla", "action": new, "from_state": "", "to_state": "", "actor": None, "actor_id": None,
        "at": at.isoformat(), "public": False,
        "data": {"milestone": milestone, "previous": old, "state": new,
                 "due_at": due_at.isoformat() if due_at else None}})])


_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from closeloop.sla import hooks as sla_hooks

    timeline.register_listener(on_timeline)
    sla_hooks.state_listeners.append(on_sla_state)
    _installed = True
