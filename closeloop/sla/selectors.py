"""Reads of the SLA app. Work order visibility is workorders.selectors' job: these
take a work order the caller may already see."""

from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, QuerySet

from closeloop.core.clock import now

from .models import BusinessCalendar, Escalation, SLAPolicy, SLATarget, TargetState

RUNNING = (TargetState.ON_TRACK, TargetState.WARNING)


def ledger_for(wo) -> list[SLATarget]:
    order = {"response": 0, "arrival": 1, "resolution": 2, "closure": 3}
    rows = list(SLATarget.objects.filter(work_order=wo).select_related("policy", "calendar"))
    return sorted(rows, key=lambda r: order.get(r.milestone, 9))


def escalations_for(wo) -> QuerySet[Escalation]:
    return Escalation.objects.filter(work_order=wo).select_related("policy").order_by("id")


def only_breached(qs: QuerySet) -> QuerySet:
    """Work orders with a breached target (used by the list filter `breached`)."""
    return qs.filter(Exists(SLATarget.objects.filter(work_order=OuterRef("pk"), breached=True)))


def due_within(qs: QuerySet, seconds: int, at: datetime | None = None) -> QuerySet:
    """Work orders with a running target due in the next `seconds` (filter `due_within`)."""
    at = at or now()
    return qs.filter(Exists(SLATarget.objects.filter(
        work_order=OuterRef("pk"), met_at__isnull=True, state__in=RUNNING, due_at__gt=at,
        due_at__lte=at + timedelta(seconds=seconds))))


def narrow_work_orders(qs: QuerySet, f) -> QuerySet:
    """The SLA fields of a work order list filter (workorders.selectors.WorkOrderFilter)."""
    if f.breached:
        qs = only_breached(qs)
    elif f.breached is False:
        qs = qs.exclude(pk__in=only_breached(qs.model.objects.all()).values("pk"))
    if f.due_within is not None:
        qs = due_within(qs, f.due_within)
    return qs


def working_time_test(key: str):
    """core.worktime's lookup: calendar `key`'s "is this instant working time?", or None."""
    from .calendars import elapsed_business_time

    cal = BusinessCalendar.objects.filter(key=key).first()
    if cal is None:
        return None
    spec = cal.spec()
    return lambda at: elapsed_business_time(at, at + timedelta(seconds=60), spec) > 0


def page_context(request, wo) -> dict:
    """What the work order page's SLA card reads."""
    targets = ledger_for(wo)
    running = any(t.state in ("on_track", "warning", "breached") and t.met_at is None for t in targets)
    return {"sla_targets": targets, "sla_running": running}


def policies() -> QuerySet[SLAPolicy]:
    return SLAPolicy.objects.select_related("calendar").order_by("order", "id")


def calendars() -> QuerySet[BusinessCalendar]:
    return BusinessCalendar.objects.order_by("name")
