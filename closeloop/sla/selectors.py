"""Reads of the SLA app. Work order visibility is workorders.selectors' job: these
take a work order the caller may already see."""

from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet

from closeloop.core.clock import now
from closeloop.core.compiled import Compiled

from .models import BusinessCalendar, Escalation, SLAPolicy, SLATarget, TargetState

RUNNING = (TargetState.ON_TRACK, TargetState.WARNING)


_WO = -7_000_000_000_001  # stands for the work order's id in the compiled ledger query
_ledger: dict[str, Compiled] = {}


def ledger_for(wo) -> list[SLATarget]:
    """The work order's targets in milestone order (the query is compiled once per process:
    every API get and work order page reads it)."""
    order = {"response": 0, "arrival": 1, "resolution": 2, "closure": 3}
    compiled = _ledger.get(connection.vendor)
    if compiled is None:
        compiled = _ledger[connection.vendor] = Compiled(
            SLATarget.objects.filter(work_order_id=_WO).select_related("policy", "calendar").order_by(), _WO)
    return sorted(compiled.all(wo.pk), key=lambda r: order.get(r.milestone, 9))


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


def policies_list() -> QuerySet[SLAPolicy]:
    return SLAPolicy.objects.select_related("calendar").order_by("order", "id")


def calendar_years(cal: BusinessCalendar) -> dict[int, dict]:
    """Per year the calendar has dates for: its own holidays and extra working days."""
    out: dict[int, dict] = {}
    for name in ("holidays", "workdays"):
        for d in cal.holidays if name == "holidays" else cal.workdays:
            out.setdefault(int(d[:4]), {"holidays": [], "workdays": []})[name].append(d)
    return out


def has_holiday_data(cal: BusinessCalendar, year: int) -> bool:
    """A 24x7 calendar needs none; a China calendar has the bundled data or dates filled in for the year;
    a working-hours calendar has its own holidays for the year."""
    from .calendars import china_covers

    if cal.kind == BusinessCalendar.Kind.ALWAYS:
        return True
    if cal.kind == BusinessCalendar.Kind.CHINA and china_covers(year):
        return True
    prefix = f"{year:04d}-"
    return any(d.startswith(prefix) for d in list(cal.holidays or []) + list(cal.workdays or []))


def holiday_gaps(at: datetime | None = None) -> list[dict]:
    """Calendars used by an active SLA policy without holiday data for the current or next year (in the
    calendar's own time zone): [{"calendar": cal, "years": [2027]}]. The set-up checklist, the SLA pages
    and `closeloop check` (sla.checks) warn about them."""
    from zoneinfo import ZoneInfo

    at = at or now()
    out = []
    used = BusinessCalendar.objects.filter(pk__in=SLAPolicy.objects.filter(active=True).values("calendar_id"))
    for cal in used.order_by("name"):
        try:
            this_year = at.astimezone(ZoneInfo(cal.tz)).year
        except Exception:  # noqa: BLE001 - a bad zone name is the calendar form's problem, not this warning's
            this_year = at.year
        missing = [y for y in (this_year, this_year + 1) if not has_holiday_data(cal, y)]
        if missing:
            out.append({"calendar": cal, "years": missing})
    return out
