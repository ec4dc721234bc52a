"""Keeping the analytics tables current: the worker step (`analytics.refresh`, incremental,
from the timeline) and the full rebuild (`closeloop analytics_rebuild`). Both compute each
work order's rows with `facts.compute` and each rollup row with the same aggregates
(`DAILY` / `STATE`), so the incremental result equals the rebuilt one (tested).

The step reads the timeline after its cursor, recomputes the facts and intervals of the work
orders those events belong to, then the rollup rows of the days those work orders were and
are counted in. Events committed late with a lower id than the cursor (PostgreSQL commits out of id
order) are caught by looking back `LOOKBACK` ids for events newer than their work order's
fact, and open work orders whose running SLA target has since been flagged as breached
(the SLA worker writes no timeline event for it) are recomputed on each step.
"""

from django.db import connection, transaction
from django.db.models import Count, FloatField, IntegerField, Max, Q, Sum, Value
from django.db.models.functions import Coalesce

from closeloop.core.clock import now
from closeloop.workorders.lifecycle import TERMINAL, S
from closeloop.workorders.models import TimelineEvent, WorkOrder

from . import facts
from .models import BreakdownRollup, Cursor, DailyRollup, StateInterval, StateRollup, WorkOrderFact

BATCH = 2000
LOOKBACK = 500
CHUNK = 500
CURSOR = "timeline"

DAILY_KEY = ("day", "team_id", "wo_type_id", "priority")
STATE_KEY = ("day", "state", "team_id", "assignee_id", "wo_type_id", "priority")


def _n(q: Q):
    return Count("pk", filter=q)


def _s(col, q: Q | None = None, out=FloatField):
    return Coalesce(Sum(col, filter=q), Value(0), output_field=out())


#: DailyRollup's columns as aggregates of WorkOrderFact (one definition for both paths).
DAILY = {
    "created": Count("pk"),
    "open": _n(~Q(status__in=TERMINAL)),
    "resolved": _n(Q(resolved=True)),
    "reopened": _n(Q(reopens__gt=0)),
    "responded": _n(Q(response_s__isnull=False)),
    "response_s": _s("response_s"),
    "updated": _n(Q(first_update_s__isnull=False)),
    "first_update_s": _s("first_update_s"),
    "sla_targets": _n(Q(sla_response__gt=0)) + _n(Q(sla_arrival__gt=0)) + _n(Q(sla_resolution__gt=0))
    + _n(Q(sla_closure__gt=0)),
    "sla_met": _n(Q(sla_response=2)) + _n(Q(sla_arrival=2)) + _n(Q(sla_resolution=2)) + _n(Q(sla_closure=2)),
    "sla_breached": _n(Q(sla_response=3)) + _n(Q(sla_arrival=3)) + _n(Q(sla_resolution=3))
    + _n(Q(sla_closure=3)),
    "response_targets": _n(Q(sla_response__in=(2, 3))),
    "response_met": _n(Q(sla_response=2)),
    "handovers": _s("handovers", out=IntegerField),
    "handover3": _n(Q(handovers__gte=3)),
    "executed": _n(Q(execution_s__isnull=False)),
    "execution_s": _s("execution_s"),
    "travelled": _n(Q(travel_s__isnull=False)),
    "travel_s": _s("travel_s"),
    "ftf": _n(Q(first_time_fix=True)),
    "ftf_base": _n(Q(first_time_fix__isnull=False)),
    "repeats": _n(Q(repeat=True)),
    "rated": _n(Q(rating__isnull=False)),
    "rating_sum": _s("rating", out=IntegerField),
    "satisfied": _n(Q(rating__gte=4)),
    "waiting_invoice": _n(Q(status=S.CONFIRMED)),
    "invoiced": _n(Q(invoice_s__isnull=False)),
    "invoice_s": _s("invoice_s"),
    "approvals": _s("approvals", out=IntegerField),
    "approvals_auto": _s("approvals_auto", out=IntegerField),
    "approvals_bypassed": _s("approvals_bypassed", out=IntegerField),
}

#: BreakdownRollup's dimensions: name -> WorkOrderFact column.
BREAKDOWNS = {"channel": "channel", "type": "wo_type_id", "customer": "customer_id", "site": "site_id",
              "assignee": "assignee_id"}


def breakdown_rows(facts_qs) -> list:
    """BreakdownRollup rows (unsaved) for these facts: one per day × dimension value × team × type × priority."""
    out = []
    for dim, col in BREAKDOWNS.items():
        group = DAILY_KEY if col in DAILY_KEY else DAILY_KEY + (col,)
        for r in grouped(facts_qs, group, {"created": Count("pk")}):
            key = r[col] if col in DAILY_KEY else r.pop(col)
            out.append(BreakdownRollup(dim=dim, key=str(key), **r))
    return out

def _interval_seconds_expr():
    """Seconds of a closed interval, in SQL (the rollups sum it)."""
    from django.db.models import ExpressionWrapper
    from django.db.models.expressions import RawSQL

    if connection.vendor == "postgresql":
        return RawSQL("EXTRACT(EPOCH FROM (ended_at - started_at))", ())
    return ExpressionWrapper(RawSQL("(julianday(ended_at) - julianday(started_at)) * 86400.0", ()),
                             output_field=FloatField())


def state_aggregates() -> dict:
    """StateRollup's columns as aggregates of the closed StateIntervals."""
    return {"count": Count("pk"), "seconds": Coalesce(Sum(_interval_seconds_expr()), Value(0.0),
                                                       output_field=FloatField())}


def grouped(qs, group, aggs: dict) -> list[dict]:
    """`qs.values(*group).annotate(**aggs)` (or `.aggregate` without a group) as plain dicts,
    under aliases so that an aggregate may share its name with the column it sums."""
    aliased = {f"agg__{k}": v for k, v in aggs.items()}
    if not group:
        r = qs.aggregate(**aliased)
        return [{k[5:]: v for k, v in r.items()}]
    out = []
    for r in qs.values(*group).annotate(**aliased).order_by(*group):
        out.append({(k[5:] if k.startswith("agg__") else k): v for k, v in r.items()})
    return out


# ---- computing one batch of work orders -----------------------------------------------------------

def _rows_for(wo_ids: list[int], people: facts.People):
    wos = {w.pk: w for w in WorkOrder.objects.filter(pk__in=wo_ids)}
    events: dict[int, list] = {pk: [] for pk in wos}
    for ev in TimelineEvent.objects.filter(work_order_id__in=list(wos)).order_by("id").only(
            "id", "work_order_id", "at", "actor_id", "kind", "action", "from_state", "to_state", "data", "public"):
        events[ev.work_order_id].append(ev)
    targets: dict[int, list] = {pk: [] for pk in wos}
    from closeloop.sla.models import SLATarget

    for t in SLATarget.objects.filter(work_order_id__in=list(wos)):
        targets[t.work_order_id].append(t)
    out_facts, out_intervals = [], []
    for pk, wo in wos.items():
        if not events[pk]:
            continue
        fact, intervals = facts.compute(wo, events[pk], targets[pk], people)
        out_facts.append(WorkOrderFact(work_order_id=pk, **fact))
        out_intervals += [StateInterval(work_order_id=pk, **iv) for iv in intervals]
    return out_facts, out_intervals


def _write_rollups(daily_days: set, state_days: set) -> None:
    """Recompute the rollup rows of these days from the facts and intervals: delete the days'
    rows, insert the days' aggregates (by the day index; a day is a few thousand facts at 1M)."""
    for days, model, source, names, aggs in (
            (daily_days, DailyRollup, WorkOrderFact.objects.all(), DAILY_KEY, DAILY),
            (state_days, StateRollup, StateInterval.objects.filter(ended_at__isnull=False), STATE_KEY,
             state_aggregates())):
        days = sorted(days)
        for i in range(0, len(days), 50):
            part = days[i:i + 50]
            model.objects.filter(day__in=part).delete()
            model.objects.bulk_create([model(**r) for r in grouped(source.filter(day__in=part), names, aggs)])
            if model is DailyRollup:
                BreakdownRollup.objects.filter(day__in=part).delete()
                BreakdownRollup.objects.bulk_create(breakdown_rows(source.filter(day__in=part)))


def refresh_work_orders(wo_ids) -> int:
    """Recompute the facts, intervals and rollups of these work orders (in the caller's transaction)."""
    wo_ids = sorted(set(wo_ids))
    if not wo_ids:
        return 0
    people = facts.People.load()
    done = 0
    daily_days: set = set()
    state_days: set = set()
    for i in range(0, len(wo_ids), CHUNK):
        ids = wo_ids[i:i + CHUNK]
        old_daily = set(WorkOrderFact.objects.filter(work_order_id__in=ids).values_list("day", flat=True))
        old_state = set(StateInterval.objects.filter(work_order_id__in=ids).values_list("day", flat=True))
        new_facts, new_intervals = _rows_for(ids, people)
        WorkOrderFact.objects.filter(work_order_id__in=ids).delete()
        StateInterval.objects.filter(work_order_id__in=ids).delete()
        WorkOrderFact.objects.bulk_create(new_facts)
        StateInterval.objects.bulk_create(new_intervals)
        daily_days |= old_daily | {f.day for f in new_facts}
        state_days |= old_state | {iv.day for iv in new_intervals}
        done += len(new_facts)
    _write_rollups(daily_days, state_days)
    return done


# ---- the worker step -----------------------------------------------------------------------------

def _cursor(lock: bool) -> Cursor:
    Cursor.objects.get_or_create(name=CURSOR)
    qs = Cursor.objects.filter(name=CURSOR)
    if lock and connection.vendor == "postgresql":
        return qs.select_for_update(skip_locked=True).first()
    return qs.first()


def step(worker_id: str = "") -> bool:
    """Fold the next events of the timeline into the analytics tables; True if more are waiting."""
    with transaction.atomic():
        cur = _cursor(lock=True)
        if cur is None:  # another worker holds it
            return False
        batch = list(TimelineEvent.objects.filter(id__gt=cur.last_event_id).order_by("id")
                     .values_list("id", "work_order_id")[:BATCH])
        wo_ids = {w for _i, w in batch}
        # Late commits: events at or below the cursor that their work order's fact has not seen.
        late = list(TimelineEvent.objects.filter(id__gt=max(cur.last_event_id - LOOKBACK, 0),
                                                 id__lte=cur.last_event_id).values_list("id", "work_order_id"))
        if late:
            seen = dict(WorkOrderFact.objects.filter(work_order_id__in={w for _i, w in late})
                        .values_list("work_order_id", "last_event_id"))
            wo_ids |= {w for i, w in late if seen.get(w, 0) < i}
        refresh_work_orders(wo_ids | _breached_since())
        if batch:
            cur.last_event_id = batch[-1][0]
        more = len(batch) == BATCH
        if not more:
            cur.refreshed_at = now()
        cur.save()
    return more


def _breached_since() -> set[int]:
    """Open work orders whose running SLA target the SLA worker has since flagged as breached
    (it writes no timeline event for that): their facts are recomputed too."""
    from django.db.models import Exists, OuterRef

    from closeloop.sla.models import SLATarget

    q = Q()
    for m in ("response", "arrival", "resolution", "closure"):
        q |= Q(**{f"sla_{m}": 1}) & Exists(SLATarget.objects.filter(
            work_order_id=OuterRef("work_order_id"), milestone=m, breached=True))
    return set(WorkOrderFact.objects.exclude(status__in=TERMINAL).filter(q)
               .values_list("work_order_id", flat=True)[:BATCH])


def next_at():
    """Due now when the timeline has events past the cursor, else in a minute (late commits)."""
    from datetime import timedelta

    cur = Cursor.objects.filter(name=CURSOR).first()
    last = cur.last_event_id if cur else 0
    if TimelineEvent.objects.filter(id__gt=last).exists():
        return now()
    return now() + timedelta(seconds=60)


def catch_up() -> None:
    """Run the step until the timeline is folded in (tests, the demo, the bench)."""
    while step("catch-up"):
        pass


def freshness() -> dict:
    """When the figures were last brought up to date and how many events wait (pages say it)."""
    cur = Cursor.objects.filter(name=CURSOR).first()
    last = cur.last_event_id if cur else 0
    pending = TimelineEvent.objects.filter(id__gt=last).count()
    return {"refreshed_at": cur.refreshed_at if cur else None, "pending": pending, "last_event_id": last}


# ---- the rebuild -----------------------------------------------------------------------------------

def rebuild() -> dict:
    """Throw the analytics tables away and compute them again from the whole timeline."""
    with transaction.atomic():
        last = TimelineEvent.objects.aggregate(m=Max("id"))["m"] or 0
        for model in (StateRollup, BreakdownRollup, DailyRollup, StateInterval, WorkOrderFact):
            model.objects.all().delete()
        people = facts.People.load()
        ids = list(WorkOrder.objects.order_by("id").values_list("id", flat=True))
        n = 0
        for i in range(0, len(ids), CHUNK):
            new_facts, new_intervals = _rows_for(ids[i:i + CHUNK], people)
            WorkOrderFact.objects.bulk_create(new_facts)
            StateInterval.objects.bulk_create(new_intervals)
            n += len(new_facts)
        DailyRollup.objects.bulk_create(
            [DailyRollup(**r) for r in grouped(WorkOrderFact.objects.all(), DAILY_KEY, DAILY)], batch_size=1000)
        BreakdownRollup.objects.bulk_create(breakdown_rows(WorkOrderFact.objects.all()), batch_size=1000)
        StateRollup.objects.bulk_create(
            [StateRollup(**r) for r in grouped(StateInterval.objects.filter(ended_at__isnull=False), STATE_KEY,
                                               state_aggregates())], batch_size=1000)
        Cursor.objects.update_or_create(name=CURSOR, defaults={"last_event_id": last, "refreshed_at": now()})
    return {"work_orders": n, "last_event_id": last}
