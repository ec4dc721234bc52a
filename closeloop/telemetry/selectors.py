"""Telemetry reads. The first four are the public interface other apps (maintenance) use;
docs/telemetry.md describes them. None checks permissions: they answer about assets, and
the caller decides who sees the answer (the console pages and the API check roles)."""

from __future__ import annotations

from datetime import datetime, timedelta

from closeloop.core import conditions as cel
from closeloop.core.clock import now

from . import variables
from .models import AlarmEvent, Condition, Gateway, Meter, Reading


def alarm_counts(*, kind: str, since: datetime, until: datetime, asset_ids=None) -> dict[int, int]:
    """asset id → number of `kind` alarms with since < at <= until (assets without any are
    absent). One GROUP BY query."""
    return variables.alarm_counts(kind, since, until, asset_ids)


def meter_values(*, kind: str, asset_ids=None, at: datetime | None = None) -> dict[int, float]:
    """asset id → the latest `kind` reading at or before `at` (default now): a cumulative
    meter's count (running_hours, cycles) or a gauge's last value. Assets without a reading
    are absent. One query."""
    return variables.latest_values(kind, at or now(), asset_ids)


def condition_contexts(expression: str, *, at: datetime, asset_ids=None, trim: bool = False) -> list[tuple[int, dict]]:
    """(asset id, the variables the condition sees) for each asset (all, or `asset_ids`);
    trim: only the asset fields the expression names."""
    ref_list = variables.refs(expression)
    computed = variables.compute(ref_list, at, asset_ids)
    fields = variables.asset_fields(expression) if trim else None
    return [(row["id"], variables.context_for(row, ref_list, computed, at, fields))
            for row in variables.asset_rows(asset_ids)]


def assets_matching(condition: Condition | str, *, at: datetime, asset_ids=None) -> set[int]:
    """The ids of the assets (all, or those in `asset_ids`) for which the condition holds at
    `at`. A few GROUP BY queries for every asset at once, then CEL per asset; an evaluation
    error for one asset (a reading it never had) is "does not hold" for it."""
    expression = condition.expression if isinstance(condition, Condition) else condition
    prog = cel.compile_condition(expression)
    out = set()
    # The contexts are plain data built here from bounded columns (no user-sized values), so
    # they go to CEL without core.conditions.clip, which would cost more than the evaluation.
    Context = type(cel.make_context({}))
    for aid, ctx in condition_contexts(expression, at=at, asset_ids=asset_ids, trim=True):
        try:
            if prog.execute(Context(ctx)) is True:
                out.add(aid)
        except (KeyError, ValueError, TypeError, RuntimeError, OverflowError, ZeroDivisionError):
            continue
    return out


# ---- the backtest ----------------------------------------------------------------------------------

MAX_BACKTEST_ASSETS = 200
MAX_BACKTEST_ROWS = 200_000
MAX_STEPS = 2200


def _series(ref_list, start: datetime, end: datetime, asset_ids: list[int]) -> dict:
    """(asset id, source, kind) → Series over [start - longest window, end], plus for readings
    the last value before that (what `last` needs)."""
    longest = max((r.window for r in ref_list if r.window), default=timedelta(0))
    since = start - longest
    out: dict[tuple, variables.Series] = {}
    alarm_kinds = {r.kind for r in ref_list if r.source == "alarms"}
    reading_kinds = {r.kind for r in ref_list if r.source == "reading"}
    if alarm_kinds:
        qs = AlarmEvent.objects.filter(asset_id__in=asset_ids, kind__in=alarm_kinds, at__gt=since, at__lte=end)
        for aid, kind, at in qs.order_by("asset_id", "kind", "at").values_list("asset_id", "kind", "at")[
                :MAX_BACKTEST_ROWS]:
            s = out.setdefault((aid, "alarms", kind), variables.Series([], []))
            s.times.append(at)
            s.values.append(None)
    for kind in sorted(reading_kinds):
        before = variables._edge_values(kind, None, since, asset_ids, "MAX")
        for aid, (at, value) in before.items():
            out[(aid, "reading", kind)] = variables.Series([variables._key_at(at)], [value])
        qs = Reading.objects.filter(asset_id__in=asset_ids, kind=kind, at__gt=since, at__lte=end)
        for aid, at, value in qs.order_by("asset_id", "at").values_list("asset_id", "at", "value")[
                :MAX_BACKTEST_ROWS]:
            s = out.setdefault((aid, "reading", kind), variables.Series([], []))
            s.times.append(at)
            s.values.append(value)
    return out


def backtest(expression: str, *, start: datetime, end: datetime, asset_ids: list[int]) -> dict:
    """When the condition would have fired between `start` and `end`: it is evaluated every
    step (an hour, longer for long periods) and at each alarm's own time, and each change
    from false to true is one firing. Returns {"fired": n, "firings": [{"asset_id", "at"}],
    "step_hours", "assets"}. At most MAX_BACKTEST_ASSETS assets."""
    ref_list = variables.refs(expression)
    prog = cel.compile_condition(expression)
    asset_ids = list(asset_ids)[:MAX_BACKTEST_ASSETS]
    rows = variables.asset_rows(asset_ids)
    series = _series(ref_list, start, end, asset_ids)
    hours = max(1, int((end - start).total_seconds() // 3600 // MAX_STEPS) + 1)
    step = timedelta(hours=hours)
    ticks = []
    t = start
    while t <= end:
        ticks.append(t)
        t += step
    firings = []
    for row in rows:
        aid = row["id"]
        mine = {(src, kind): s for (a, src, kind), s in series.items() if a == aid}
        moments = set(ticks)
        for (src, _kind), s in mine.items():
            if src == "alarms":
                moments.update(x for x in s.times if start <= x <= end)
        was = None
        for at in sorted(moments):
            ctx = variables.context_from_series(row, ref_list, mine, at)
            try:
                holds = prog.execute(cel.make_context(ctx)) is True
            except (KeyError, ValueError, TypeError, RuntimeError, OverflowError, ZeroDivisionError):
                holds = False
            if holds and was is False:
                firings.append({"asset_id": aid, "at": at})
            was = holds
    firings.sort(key=lambda f: (f["at"], f["asset_id"]))
    return {"fired": len(firings), "firings": firings, "step_hours": hours, "assets": len(rows)}


# ---- lists for pages and the API ---------------------------------------------------------------------

def gateways():
    return Gateway.objects.select_related("customer").order_by("-active", "name", "id")


def conditions():
    return Condition.objects.order_by("name")


def meters_of(asset):
    return Meter.objects.filter(asset=asset).order_by("kind")


def recent_readings(asset, *, kind: str | None = None, limit: int = 100):
    qs = Reading.objects.filter(asset=asset)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-at")[:limit]


def recent_alarms(asset, *, kind: str | None = None, limit: int = 100):
    qs = AlarmEvent.objects.filter(asset=asset)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-at")[:limit]
