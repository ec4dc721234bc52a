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

import time

from django.db import connection, models, transaction
from django.db.models import Count, F, FloatField, IntegerField, Max, Q, Sum, Value
from django.db.models.functions import Coalesce

from closeloop.core.clock import now
from closeloop.workorders.lifecycle import TERMINAL, S
from closeloop.workorders.models import TimelineEvent, WorkOrder

from . import bulk, facts
from .models import (
    RUNNING,
    BreakdownRollup,
    Cursor,
    DailyRollup,
    Episode,
    OpenStayRollup,
    StateInterval,
    StateRollup,
    WorkOrderFact,
)

BATCH = 2000
LOOKBACK = 500
CHUNK = 500
REBUILD_CHUNK = 2000
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
    "update15": _n(Q(first_update_s__lte=15 * 60)),
    "update30": _n(Q(first_update_s__lte=30 * 60)),
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


def insert_breakdowns(facts_qs) -> None:
    """Insert the BreakdownRollup rows of these facts: one per day × dimension value × team × type × priority."""
    from django.db.models.functions import Cast

    for dim, col in BREAKDOWNS.items():
        qs = facts_qs.annotate(bd_dim=Value(dim, output_field=models.CharField()),
                               bd_key=Cast(col, output_field=models.CharField()))
        bulk.insert_select(BreakdownRollup, qs, ("bd_dim", "bd_key") + DAILY_KEY, {"created": Count("pk")},
                           rename={"bd_dim": "dim", "bd_key": "key"})


def _interval_seconds_expr():
    """Seconds of a closed interval, in SQL (the rollups sum it)."""
    from django.db.models import ExpressionWrapper
    from django.db.models.expressions import RawSQL

    if connection.vendor == "postgresql":
        return RawSQL("EXTRACT(EPOCH FROM (ended_at - started_at))", ())
    return ExpressionWrapper(RawSQL("(julianday(ended_at) - julianday(started_at)) * 86400.0", ()),
                             output_field=FloatField())


def _epoch_expr():
    """A stay's start as epoch seconds, in SQL (OpenStayRollup sums it)."""
    from django.db.models.expressions import RawSQL

    if connection.vendor == "postgresql":
        return RawSQL("EXTRACT(EPOCH FROM started_at)::double precision", (), output_field=FloatField())
    return RawSQL("(julianday(started_at) - 2440587.5) * 86400.0", (), output_field=FloatField())


def waiting_stays():
    """The stays still open in a state work waits in (closed and cancelled left out, term by
    term as the partial index an_interval_waiting says it)."""
    qs = StateInterval.objects.filter(ended_at__isnull=True)
    for s in sorted(TERMINAL):
        qs = qs.exclude(state=s)
    return qs


def open_aggregates() -> dict:
    """OpenStayRollup's columns as aggregates of the waiting stays."""
    return {"count": Count("pk"), "started_s": Coalesce(Sum(_epoch_expr()), Value(0.0), output_field=FloatField())}


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
#
# Plain rows, no model instances: the work orders, events and SLA targets are read as tuples
# (`.values_list`) into slotted records `facts.compute` reads by attribute, and the facts and
# stays it gives are written as tuples (`bulk.insert`: executemany on SQLite, COPY on
# PostgreSQL). The worker step and the rebuild both go through `_compute` and `_store`.

WO_COLS = ("id", "created_at", "team_id", "wo_type_id", "priority", "customer_id", "site_id", "asset_id",
           "fault_code", "created_by_id", "status", "assignee_id", "rating")
EV_COLS = ("id", "work_order_id", "at", "actor_id", "kind", "action", "from_state", "to_state", "data", "public")
TARGET_COLS = ("work_order_id", "milestone", "breached", "met_at", "elapsed_seconds")


class _Rec:
    """A row read as a tuple, its columns as attributes (what `facts.compute` reads)."""

    def __init__(self, names, values):
        self.__dict__.update(zip(names, values, strict=True))

    @property
    def pk(self):
        return self.__dict__["id"]


def _read(wo_qs, events_qs, targets_qs):
    """{wo id: (work order, [events in id order], [SLA targets])} of these querysets."""
    got = {}
    for row in wo_qs.values_list(*WO_COLS):
        got[row[0]] = (_Rec(WO_COLS, row), [], [])
    for row in events_qs.order_by("work_order_id", "id").values_list(*EV_COLS):
        g = got.get(row[1])
        if g is not None:
            g[1].append(_Rec(EV_COLS, row))
    for row in targets_qs.values_list(*TARGET_COLS):
        g = got.get(row[0])
        if g is not None:
            g[2].append(_Rec(TARGET_COLS, row))
    return got


def _compute(got: dict, people: facts.People):
    """(fact rows, stay rows, episode rows) as tuples in the tables' column order, and the days
    the facts and stays touch."""
    fact_rows, stay_rows, episode_rows, fact_days, stay_days = [], [], [], set(), set()
    fact_row, stay_row = bulk.row_maker(WorkOrderFact), bulk.row_maker(StateInterval)
    episode_row = bulk.row_maker(Episode)
    for pk, (wo, events, targets) in got.items():
        if not events:
            continue
        fact, intervals = facts.compute(wo, events, targets, people)
        fact["work_order_id"] = pk
        fact_rows.append(fact_row(fact))
        fact_days.add(fact["day"])
        for iv in intervals:
            iv["work_order_id"] = pk
            stay_rows.append(stay_row(iv))
            stay_days.add(iv["day"])
        for ep in facts.episodes(wo, events, people):
            ep["work_order_id"] = pk
            episode_rows.append(episode_row(ep))
    return fact_rows, (stay_rows, episode_rows), fact_days, stay_days


def _rows_for(wo_ids: list[int], people: facts.People):
    from closeloop.sla.models import SLATarget

    return _compute(_read(WorkOrder.objects.filter(pk__in=wo_ids),
                          TimelineEvent.objects.filter(work_order_id__in=wo_ids),
                          SLATarget.objects.filter(work_order_id__in=wo_ids)), people)


def _store(fact_rows, more) -> None:
    stay_rows, episode_rows = more
    bulk.insert(WorkOrderFact, fact_rows)
    bulk.insert(StateInterval, stay_rows)
    bulk.insert(Episode, episode_rows)


def _write_rollups(daily_days: set, state_days: set) -> None:
    """Recompute the rollup rows of these days from the facts and intervals: delete the days'
    rows, insert the days' aggregates (by the day index; a day is a few thousand facts at 1M);
    then move the month rows of those days by the difference between the days' old and new rows
    (`_MonthDelta`): a month's day rows are read again only by the rebuild. At 1M work orders
    recomputing a month from its day rows took ~0.8 s per step, all of it inside the step's write
    transaction (on SQLite every web write waited behind it)."""
    for days, model, source, names, aggs in (
            (daily_days, DailyRollup, WorkOrderFact.objects.all(), DAILY_KEY, DAILY),
            (state_days, StateRollup, StateInterval.objects.filter(ended_at__isnull=False), STATE_KEY,
             state_aggregates()),
            (state_days, OpenStayRollup, waiting_stays(), STATE_KEY, open_aggregates())):
        days = sorted(days)
        deltas = [_MonthDelta(m) for m in ((DailyRollup, BreakdownRollup) if model is DailyRollup else (model,))]
        for i in range(0, len(days), 50):
            part = days[i:i + 50]
            for d in deltas:
                d.take(part, -1)
            model.objects.filter(span="d", day__in=part).delete()
            bulk.insert_select(model, source.filter(day__in=part), names, aggs)
            if model is DailyRollup:
                BreakdownRollup.objects.filter(span="d", day__in=part).delete()
                insert_breakdowns(source.filter(day__in=part))
            write_folded_days(part, [d.model for d in deltas])
            for d in deltas:
                d.take(part, +1)
        for d in deltas:
            d.apply()


#: Per rollup table: the key columns a month row keeps (type and priority are folded) and its sums.
MONTH_KEYS = {
    DailyRollup: ("team_id",),
    BreakdownRollup: ("dim", "key", "team_id"),
    StateRollup: ("state", "team_id", "assignee_id"),
    OpenStayRollup: ("state", "team_id", "assignee_id"),
}


def _month_sums(model) -> dict:
    if model is DailyRollup:
        return {k: Sum(k) for k in DAILY}
    if model is BreakdownRollup:
        return {"created": Sum("created")}
    if model is OpenStayRollup:
        return {"count": Sum("count"), "started_s": Sum("started_s")}
    return {"count": Sum("count"), "seconds": Sum("seconds")}


def _month_of_day():
    """The first day of a rollup row's month, in the database's own SQL (Django's TruncMonth runs a
    Python function per row on SQLite: ~70 ms for the ~30,000 day rows a step reads at 1M)."""
    from django.db.models import DateField
    from django.db.models.expressions import RawSQL

    if connection.vendor == "postgresql":
        return RawSQL("date_trunc('month', day)::date", (), output_field=DateField())
    return RawSQL("date(day, 'start of month')", (), output_field=DateField())


def _write_folded(model, rows, span: str, day) -> None:
    """Insert `rows` (day rows of `model`) folded into rows of `span`: type and priority folded
    together, grouped by `day` (a column or an expression) and the month rows' keys."""
    qs = rows.annotate(f_day=day, f_span=Value(span), f_type=Value(0), f_priority=Value(""))
    bulk.insert_select(model, qs, ("f_span", "f_day", "f_type", "f_priority") + MONTH_KEYS[model],
                       _month_sums(model), rename={"f_span": "span", "f_day": "day", "f_type": "wo_type_id",
                                                   "f_priority": "priority"})


ROLLUPS = (DailyRollup, BreakdownRollup, StateRollup, OpenStayRollup)


def write_months(months, models_=ROLLUPS) -> None:
    """Recompute the month rows ("M") of these months (their first days; None: every month) from the day rows."""
    for model in models_:
        rows = model.objects.filter(span="d")
        old = model.objects.filter(span="M")
        if months is not None:
            months = sorted(months)
            if not months:
                continue
            q = Q()
            for m in months:
                q |= Q(day__gte=m, day__lt=_next_month(m))
            rows, old = rows.filter(q), old.filter(day__in=months)
        old.delete()
        _write_folded(model, rows, "M", _month_of_day())


def write_folded_days(days, models_=ROLLUPS) -> None:
    """Recompute the folded day rows ("D": one day with type and priority folded, the month rows'
    keys) of these days (None: every day) from the day rows. A period's days outside its whole
    months read these: at 1M work orders a day has ~4,800 state rows but ~700 folded ones."""
    for model in models_:
        rows, old = model.objects.filter(span="d"), model.objects.filter(span="D")
        if days is not None:
            days = sorted(days)
            if not days:
                continue
            rows, old = rows.filter(day__in=days), old.filter(day__in=days)
        old.delete()
        _write_folded(model, rows, "D", F("day"))


class _MonthDelta:
    """The change a step makes to one rollup table's month rows: the sums of the day rows it
    rewrites, per month and month key, taken before (−1) and after (+1), then added to the month
    rows (a row whose count comes to 0 is deleted, one for a new key inserted), so that the month
    rows stay what `write_months` would compute from the day rows (tested against the rebuild)."""

    def __init__(self, model):
        self.model = model
        self.keys = MONTH_KEYS[model]
        self.sums = list(_month_sums(model))
        self.count = self.sums.index("created" if "created" in self.sums else "count")
        self.delta: dict[tuple, list] = {}

    def take(self, days, sign: int) -> None:
        aliased = {f"agg__{k}": Sum(k) for k in self.sums}
        qs = (self.model.objects.filter(span="d", day__in=days).annotate(m_day=_month_of_day())
              .values("m_day", *self.keys).annotate(**aliased).order_by()
              .values_list("m_day", *self.keys, *aliased))
        n = 1 + len(self.keys)
        for row in qs:
            acc = self.delta.setdefault(row[:n], [0] * len(self.sums))
            for j, v in enumerate(row[n:]):
                acc[j] += sign * (v or 0)

    def apply(self) -> None:
        changed = {k: v for k, v in self.delta.items() if any(v)}
        self.delta = {}
        if not changed:
            return
        model, n = self.model, 1 + len(self.keys)
        existing = {row[:n]: (row[n], row[n + 1:]) for row in model.objects.filter(
            span="M", day__in={k[0] for k in changed}).values_list("day", *self.keys, "id", *self.sums)}
        updates, deletes, inserts = [], [], []
        for key, delta in changed.items():
            if key in existing:
                pk, old = existing[key]
                new = [a + b for a, b in zip(old, delta, strict=True)]
                if new[self.count] <= 0:
                    deletes.append(pk)
                else:
                    updates.append((*new, pk))
            elif delta[self.count] > 0:
                row = {"span": "M", "day": key[0], "wo_type_id": 0, "priority": "",
                       **dict(zip(self.keys, key[1:], strict=True)), **dict(zip(self.sums, delta, strict=True))}
                inserts.append(bulk.row_maker(model)(row))
        if deletes:
            model.objects.filter(pk__in=deletes).delete()
        if updates:
            qn = connection.ops.quote_name
            sets = ", ".join(f"{qn(model._meta.get_field(c).column)} = %s" for c in self.sums)
            with connection.cursor() as cur:
                cur.executemany(f"UPDATE {qn(model._meta.db_table)} SET {sets} WHERE {qn('id')} = %s", updates)
        bulk.insert(model, inserts)


def _next_month(d):
    return d.replace(year=d.year + 1, month=1) if d.month == 12 else d.replace(month=d.month + 1)


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
        fact_rows, more, fact_days, stay_days = _rows_for(ids, people)
        WorkOrderFact.objects.filter(work_order_id__in=ids).delete()
        StateInterval.objects.filter(work_order_id__in=ids).delete()
        Episode.objects.filter(work_order_id__in=ids).delete()
        _store(fact_rows, more)
        daily_days |= old_daily | fact_days
        state_days |= old_state | stay_days
        done += len(fact_rows)
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
    # RUNNING first, as its own term: the partial index an_fact_running covers exactly those facts
    return set(WorkOrderFact.objects.filter(RUNNING).filter(q).exclude(status__in=TERMINAL)
               .values_list("work_order_id", flat=True)[:BATCH])


#: When the worker last ran the step in this process (time.monotonic()), for `worker_step`.
_last_run: list[float] = []


def _interval() -> float:
    from django.conf import settings

    return float(getattr(settings, "ANALYTICS_INTERVAL", 10.0))


def _pending(cur: Cursor | None, at_least: int = 1) -> bool:
    last = cur.last_event_id if cur else 0
    return TimelineEvent.objects.filter(id__gt=last).order_by("id")[at_least - 1:at_least].exists()


def worker_step(worker_id: str) -> bool:
    """The step as `closeloop worker` runs it: at most every `ANALYTICS_INTERVAL` seconds
    (CLOSELOOP_ANALYTICS_INTERVAL, default 10) while it keeps up, back to back while a whole batch
    waits. Each step holds SQLite's only write lock for its transaction (at 1M work orders
    0.2–0.8 s, whatever its batch): run after every few events it made web writes wait most of
    the time. The figures are at most that much older (the pages say how fresh they are)."""
    if _last_run and time.monotonic() - _last_run[-1] < _interval():
        if not _pending(Cursor.objects.filter(name=CURSOR).first(), BATCH):
            return False
    try:
        return step(worker_id)
    finally:
        _last_run[:] = [time.monotonic()]


def next_at():
    """Due when the timeline has events past the cursor (once the interval since this process's
    last step has passed), else in a minute (late commits)."""
    from datetime import timedelta

    if not _pending(Cursor.objects.filter(name=CURSOR).first()):
        return now() + timedelta(seconds=60)
    if not _last_run:
        return now()
    return now() + timedelta(seconds=max(0.0, _interval() - (time.monotonic() - _last_run[-1])))


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

def rebuild(chunk: int = REBUILD_CHUNK) -> dict:
    """Throw the analytics tables away and compute them again from the whole timeline, streamed
    in keyset chunks of work orders (ids ascending; each chunk's events and SLA targets read by
    the id range), written as plain rows, the rollups by INSERT … SELECT."""
    from closeloop.sla.models import SLATarget

    with transaction.atomic():
        last = TimelineEvent.objects.aggregate(m=Max("id"))["m"] or 0
        for model in (OpenStayRollup, StateRollup, BreakdownRollup, DailyRollup, Episode, StateInterval,
                      WorkOrderFact):
            model.objects.all().delete()
        people = facts.People.load()
        n, after = 0, 0
        while True:
            ids = list(WorkOrder.objects.filter(id__gt=after).order_by("id").values_list("id", flat=True)[:chunk])
            if not ids:
                break
            lo, hi = ids[0], ids[-1]
            fact_rows, more, _d, _s = _compute(_read(
                WorkOrder.objects.filter(id__gte=lo, id__lte=hi),
                TimelineEvent.objects.filter(work_order_id__gte=lo, work_order_id__lte=hi, id__lte=last),
                SLATarget.objects.filter(work_order_id__gte=lo, work_order_id__lte=hi)), people)
            _store(fact_rows, more)
            n += len(fact_rows)
            after = hi
        bulk.insert_select(DailyRollup, WorkOrderFact.objects.all(), DAILY_KEY, DAILY)
        insert_breakdowns(WorkOrderFact.objects.all())
        bulk.insert_select(StateRollup, StateInterval.objects.filter(ended_at__isnull=False), STATE_KEY,
                           state_aggregates())
        bulk.insert_select(OpenStayRollup, waiting_stays(), STATE_KEY, open_aggregates())
        write_months(None)
        write_folded_days(None)
        Cursor.objects.update_or_create(name=CURSOR, defaults={"last_event_id": last, "refreshed_at": now()})
    return {"work_orders": n, "last_event_id": last}
