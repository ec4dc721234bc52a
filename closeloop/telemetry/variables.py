"""What a telemetry condition sees, per asset, at a moment T (docs/telemetry.md):

    asset.{id, name, serial, model, manufacturer, category, batch, customer, site,
           install_date, age_days, age_years}
    alarms.<kind>.count_<N>h | count_<N>d      alarms of that kind in (T - window, T]
    reading.<kind>.last                          the latest value at or before T
    reading.<kind>.rate_per_hour                 (last - first) / hours, over the last 24 h
    reading.<kind>.rate_per_hour_<N>h|d          the same over another window
    reading.<kind>.{min,max,avg,count,delta}_<N>h|d   over (T - window, T]

Only what the expression names is computed: `refs(expression)` reads the references, then
`compute()` runs a few GROUP BY queries for all assets at once (SQL), and `series_*` /
`values_from_series()` compute the same numbers from in-memory series for the backtest.
A reading statistic without data is absent (a comparison with it is false); an alarm
count without alarms is 0.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import Avg, Count, Max, Min
from django.utils.translation import gettext as _

from closeloop.core.errors import FieldProblem, ValidationFailed

from .models import AlarmEvent, Reading

KIND = r"[a-z][a-z0-9_]{0,39}"
KIND_RE = re.compile(rf"^{KIND}$")
MAX_WINDOW = timedelta(days=400)
DEFAULT_RATE_WINDOW = timedelta(hours=24)
READING_AGGS = ("min", "max", "avg", "count", "delta", "rate_per_hour")
_ALARM_REF = re.compile(rf"\balarms\s*\.\s*({KIND})\s*\.\s*([a-z0-9_]+)")
_READING_REF = re.compile(rf"\breading\s*\.\s*({KIND})\s*\.\s*([a-z0-9_]+)")
_WINDOWED = re.compile(r"^(min|max|avg|count|delta|rate_per_hour)_(\d{1,4})([hd])$")
ASSET_FIELDS = ("id", "name", "serial", "model", "manufacturer", "category", "batch", "customer", "site",
                "install_date", "age_days", "age_years")


@dataclass(frozen=True)
class Ref:
    source: str  # "alarms" | "reading"
    kind: str
    stat: str  # the name in the expression: count_30d, last, max_7d, rate_per_hour ...
    agg: str  # count | last | min | max | avg | delta | rate_per_hour
    window: timedelta | None


def parse_stat(source: str, stat: str) -> tuple[str, timedelta | None] | None:
    if source == "reading" and stat == "last":
        return "last", None
    if source == "reading" and stat == "rate_per_hour":
        return "rate_per_hour", DEFAULT_RATE_WINDOW
    m = _WINDOWED.match(stat)
    if not m or (source == "alarms" and m.group(1) != "count"):
        return None
    n = int(m.group(2))
    window = timedelta(hours=n) if m.group(3) == "h" else timedelta(days=n)
    if n <= 0 or window > MAX_WINDOW:
        return None
    return m.group(1), window


def refs(expression: str, *, field: str = "expression") -> list[Ref]:
    """The telemetry references in an expression; ValidationFailed naming `field` for one
    this module cannot compute (an unknown statistic or a window over 400 days)."""
    out: dict[tuple, Ref] = {}
    for pattern, source in ((_ALARM_REF, "alarms"), (_READING_REF, "reading")):
        for m in pattern.finditer(expression or ""):
            kind, stat = m.group(1), m.group(2)
            parsed = parse_stat(source, stat)
            if parsed is None:
                if source == "alarms":
                    hint = _("alarms.<kind>.count_<N>d or count_<N>h (at most 400 days)")
                else:
                    hint = _("reading.<kind>.last, rate_per_hour, or min/max/avg/count/delta/rate_per_hour_<N>d "
                             "(at most 400 days)")
                raise ValidationFailed(FieldProblem(field, _("%(ref)s is not something a condition can use; "
                                                             "use %(hint)s.") % {"ref": m.group(0), "hint": hint},
                                                    "unknown_variable"))
            out[(source, kind, stat)] = Ref(source, kind, stat, parsed[0], parsed[1])
    return list(out.values())


# ---- assets -------------------------------------------------------------------------------------

def asset_rows(asset_ids=None) -> list[dict]:
    from closeloop.customers.models import Asset

    qs = Asset.objects.order_by()
    if asset_ids is not None:
        qs = qs.filter(pk__in=list(asset_ids))
    return list(qs.values("id", "name", "serial_number", "model", "manufacturer", "category", "batch",
                          "install_date", "customer__code", "site__code"))


_ASSET_REF = re.compile(r"\basset\b(\s*\.\s*([a-z_]+))?")


def asset_fields(expression: str) -> frozenset[str]:
    """The asset fields an expression names (all of them when it uses `asset` other than as
    asset.<field>): a smaller context is most of the cost of evaluating over many assets."""
    names = set()
    for m in _ASSET_REF.finditer(expression or ""):
        if m.group(2) is None:
            return frozenset(ASSET_FIELDS)
        names.add(m.group(2))
    return frozenset(names)


def asset_vars(row: dict, at: datetime, fields: frozenset | None = None) -> dict:
    out = {"id": row["id"], "name": row["name"], "serial": row["serial_number"], "model": row["model"],
           "manufacturer": row["manufacturer"], "category": row["category"], "batch": row["batch"],
           "customer": row["customer__code"] or "", "site": row["site__code"] or "",
           "install_date": row["install_date"].isoformat() if row["install_date"] else ""}
    if row["install_date"]:
        days = (at.date() - row["install_date"]).days
        out["age_days"] = days
        out["age_years"] = round(days / 365.25, 4)
    if fields is not None:
        return {k: v for k, v in out.items() if k in fields}
    return out


# ---- SQL: many assets at one moment ---------------------------------------------------------------

def _prep(dt):
    return Reading._meta.get_field("at").get_db_prep_value(dt, connection)


def _in_assets(qs, asset_ids):
    return qs if asset_ids is None else qs.filter(asset_id__in=list(asset_ids))


def alarm_counts(kind: str, since: datetime, until: datetime, asset_ids=None) -> dict[int, int]:
    qs = _in_assets(AlarmEvent.objects.filter(kind=kind, at__gt=since, at__lte=until), asset_ids)
    return dict(qs.order_by().values_list("asset_id").annotate(n=Count("id")).values_list("asset_id", "n"))


def _edge_values(kind: str, since: datetime | None, until: datetime, asset_ids, which: str) -> dict[int, tuple]:
    """asset id → (at, value) of the first (which="MIN") or last ("MAX") reading of `kind` in
    (since, until] (since None: all before). One query (a join on the grouped edge times)."""
    table = Reading._meta.db_table
    where = ["kind = %s", "at <= %s"]
    params: list = [kind, _prep(until)]
    if since is not None:
        where.append("at > %s")
        params.append(_prep(since))
    if asset_ids is not None:
        ids = [int(i) for i in asset_ids]
        if not ids:
            return {}
        where.append(f"asset_id IN ({', '.join(['%s'] * len(ids))})")
        params.extend(ids)
    sql = (f"SELECT r.asset_id, r.at, r.value FROM {table} r JOIN "
           f"(SELECT asset_id, {which}(at) AS t FROM {table} WHERE {' AND '.join(where)} GROUP BY asset_id) e "
           f"ON r.asset_id = e.asset_id AND r.at = e.t WHERE r.kind = %s")
    params.append(kind)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return {aid: (at, value) for aid, at, value in cur.fetchall()}


def latest_values(kind: str, at: datetime, asset_ids=None) -> dict[int, float]:
    return {aid: v for aid, (_t, v) in _edge_values(kind, None, at, asset_ids, "MAX").items()}


def _key_at(t) -> datetime:
    """A time from raw SQL as an aware datetime (SQLite gives the stored text back)."""
    if isinstance(t, str):
        t = datetime.fromisoformat(t)
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def _hours(a, b) -> float:
    return (_key_at(b) - _key_at(a)).total_seconds() / 3600


def compute(ref_list: list[Ref], at: datetime, asset_ids=None) -> dict[tuple[str, str, str], dict[int, object]]:
    """(source, kind, stat) → {asset id: value} at `at`, a few queries per reference."""
    out: dict[tuple[str, str, str], dict[int, object]] = {}
    window_aggs: dict[tuple, dict] = {}
    for ref in ref_list:
        key = (ref.source, ref.kind, ref.stat)
        if ref.source == "alarms":
            out[key] = alarm_counts(ref.kind, at - ref.window, at, asset_ids)
        elif ref.agg == "last":
            out[key] = latest_values(ref.kind, at, asset_ids)
        elif ref.agg in ("min", "max", "avg", "count"):
            wk = (ref.kind, ref.window)
            if wk not in window_aggs:
                qs = _in_assets(Reading.objects.filter(kind=ref.kind, at__gt=at - ref.window, at__lte=at), asset_ids)
                window_aggs[wk] = {r["asset_id"]: r for r in qs.order_by().values("asset_id").annotate(
                    min=Min("value"), max=Max("value"), avg=Avg("value"), count=Count("id"))}
            out[key] = {aid: r[ref.agg] for aid, r in window_aggs[wk].items()}
        else:  # delta, rate_per_hour: first and last in the window
            first = _edge_values(ref.kind, at - ref.window, at, asset_ids, "MIN")
            last = _edge_values(ref.kind, at - ref.window, at, asset_ids, "MAX")
            vals = {}
            for aid, (t1, v1) in first.items():
                t2, v2 = last[aid]
                if ref.agg == "delta":
                    vals[aid] = v2 - v1
                else:
                    hours = _hours(t1, t2)
                    if hours > 0:
                        vals[aid] = (v2 - v1) / hours
            out[key] = vals
    return out


def context_for(asset_row: dict, ref_list: list[Ref], computed: dict, at: datetime,
                fields: frozenset | None = None) -> dict:
    alarms: dict[str, dict] = {}
    reading: dict[str, dict] = {}
    aid = asset_row["id"]
    for ref in ref_list:
        value = computed[(ref.source, ref.kind, ref.stat)].get(aid)
        if ref.source == "alarms":
            alarms.setdefault(ref.kind, {})[ref.stat] = value or 0
        else:
            d = reading.setdefault(ref.kind, {})
            if value is not None:
                d[ref.stat] = value
    return {"asset": asset_vars(asset_row, at, fields), "alarms": alarms, "reading": reading}


def sample_context() -> dict:
    return {"asset": {k: "" for k in ASSET_FIELDS if k not in ("id", "age_days", "age_years")}
            | {"id": 0, "age_days": 0, "age_years": 0.0}, "alarms": {}, "reading": {}}


# ---- in memory: one asset's series, for the backtest ------------------------------------------------

@dataclass
class Series:
    times: list  # sorted datetimes
    values: list  # floats (readings) or None (alarms)


def value_at(ref: Ref, s: Series | None, at: datetime):
    """The same number compute() gives, from a series sorted by time."""
    if s is None or not s.times:
        return 0 if ref.source == "alarms" else None
    hi = bisect_right(s.times, at)
    if ref.source == "alarms":
        return hi - bisect_right(s.times, at - ref.window)
    if ref.agg == "last":
        return s.values[hi - 1] if hi else None
    lo = bisect_right(s.times, at - ref.window)
    if lo >= hi:
        return None
    vals = s.values[lo:hi]
    if ref.agg == "min":
        return min(vals)
    if ref.agg == "max":
        return max(vals)
    if ref.agg == "avg":
        return sum(vals) / len(vals)
    if ref.agg == "count":
        return len(vals)
    if ref.agg == "delta":
        return vals[-1] - vals[0]
    hours = (s.times[hi - 1] - s.times[lo]).total_seconds() / 3600
    return (vals[-1] - vals[0]) / hours if hours > 0 else None


def context_from_series(asset_row: dict, ref_list: list[Ref], series: dict[tuple[str, str], Series],
                        at: datetime) -> dict:
    alarms: dict[str, dict] = {}
    reading: dict[str, dict] = {}
    for ref in ref_list:
        value = value_at(ref, series.get((ref.source, ref.kind)), at)
        if ref.source == "alarms":
            alarms.setdefault(ref.kind, {})[ref.stat] = value
        else:
            d = reading.setdefault(ref.kind, {})
            if value is not None:
                d[ref.stat] = value
    return {"asset": asset_vars(asset_row, at), "alarms": alarms, "reading": reading}
