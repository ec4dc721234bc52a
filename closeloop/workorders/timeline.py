"""The one way to write to a work order's timeline.

Every app appends its events through `append_event` (one event) or `append_events`
(several in one INSERT, built with `new_event`); nothing else creates `TimelineEvent`
rows. The timeline is append-only (the model refuses updates and deletes; the one
exception is `discard_imported`, for a rolled-back import of historical work orders), so
this is the whole write API:

    from closeloop.workorders import timeline

    timeline.append_event(wo, "dispatch", actor=actor, at=t, data={"mode": "suggest", ...})
    timeline.append_events([timeline.new_event(wo_id, "notification", at=t, data=...) for ...])

`kind` is a `TimelineEvent.Kind` value (each app names its kind in a constant); `public`
events are what a customer contact sees (status changes, public comments, portal and
signature events), everything else is internal. `at` defaults to `core.clock.now()`;
pass the transaction's own time when the event belongs to a change made at that time.
Call it inside the caller's transaction: the event is part of the change it records.
"""

from collections.abc import Callable, Iterable
from datetime import datetime

from django.conf import settings
from django.utils import translation

from closeloop.core.clock import now

from .models import TimelineEvent, WorkOrder

ACTION_MAX = TimelineEvent._meta.get_field("action").max_length

#: fn(events) called with the events just appended, inside the appending transaction (events:
#: the outgoing event subscriptions). A listener must be cheap when it has nothing to do.
_listeners: list[Callable[[list[TimelineEvent]], None]] = []


def register_listener(fn: Callable[[list[TimelineEvent]], None]) -> None:
    if fn not in _listeners:
        _listeners.append(fn)


def _appended(events: list[TimelineEvent]) -> None:
    for fn in _listeners:
        fn(events)


def new_event(wo: WorkOrder | int, kind: str, *, actor=None, at: datetime | None = None, data: dict | None = None,
              public: bool = False, action: str = "", from_state: str = "", to_state: str = "") -> TimelineEvent:
    """An unsaved event for `append_events`; `wo` is a work order or its id."""
    ref = {"work_order_id": wo} if isinstance(wo, int) else {"work_order": wo}
    actor_ref = {"actor_id": actor} if isinstance(actor, int) else {"actor": actor}
    return TimelineEvent(**ref, **actor_ref, kind=kind, at=at or now(), data=data or {}, public=public,
                         action=(action or "")[:ACTION_MAX], from_state=from_state, to_state=to_state)


def append_event(wo: WorkOrder | int, kind: str, *, actor=None, at: datetime | None = None, data: dict | None = None,
                 public: bool = False, action: str = "", from_state: str = "", to_state: str = "") -> TimelineEvent:
    """Append one event to `wo`'s timeline and return it."""
    ev = new_event(wo, kind, actor=actor, at=at, data=data, public=public, action=action, from_state=from_state,
                   to_state=to_state)
    ev.save()
    if _listeners:
        _appended([ev])
    return ev


def append_events(events: Iterable[TimelineEvent], *, batch_size: int | None = None) -> list[TimelineEvent]:
    """Append several events (from `new_event`) in one INSERT (or one per `batch_size`), in order."""
    events = list(events)
    if events:
        TimelineEvent.objects.bulk_create(events, batch_size=batch_size)
        if _listeners:
            _appended(events)
    return events


def discard_imported(work_order_ids: list[int]) -> None:
    """The one exception to append-only: the events of historical work orders whose import is
    rolled back go with them (workorders.history.do_remove_imported, which first makes sure
    nobody touched those work orders since)."""
    from django.db.models import QuerySet

    QuerySet.delete(TimelineEvent.objects.filter(work_order_id__in=work_order_ids))


def text(fn: Callable[[], str]) -> str:
    """A sentence stored in an event's data, in the deployment's language (a timeline is written in
    one language whoever's request caused the event): `timeline.text(lambda: _("Sent to %(who)s") % ...)`."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(fn())
