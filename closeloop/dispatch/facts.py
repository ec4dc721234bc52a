"""Dispatch facts: what the suggestions are computed from, loaded in a handful of queries
(the dispatch settings and skill requirements that apply, each engineer's skills, roster,
leave, open work, location and customer history) and shaped for dispatch.engine. Read by
dispatch.suggestions (one work order) and dispatch.services (the batch preview).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.db import connection

from closeloop.accounts.models import EngineerSkill, Role, SkillTag, User
from closeloop.core import refcache
from closeloop.roster.models import Leave, Shift
from closeloop.workorders.lifecycle import ENGINEER_STATES, S
from closeloop.workorders.models import WorkOrder

from . import engine
from .models import DispatchSetting, EngineerProfile, Mode, SkillRequirement

#: Assigned work that takes an engineer's time today.
#: Work that counts as customer history (the engineer did the job).
DONE_STATES = (S.RESOLVED, S.CONFIRMED, S.INVOICED, S.CLOSED)
DEFAULT_HOURS = 2.0
LOCATION_FRESH = timedelta(hours=12)
ROSTER_WINDOW = timedelta(days=1)  # rostered: has a shift or duty within a day of now
TRAVEL_KMH = engine.TRAVEL_KMH

# ---- facts -------------------------------------------------------------------------------------

@dataclass
class Settings:
    mode: str
    estimated_hours: float
    top_n: int


_settings = refcache.RefCache("dispatch.settings", "dispatch.DispatchSetting")


def setting_rows() -> dict:
    """(team id, type id) → (mode, estimated hours, top N), in one small query (per process for
    core.refcache's few seconds: every create asks). Read it, never change it."""
    def load():
        return {(team, wtype): (mode, float(hours), top_n) for team, wtype, mode, hours, top_n in raw_sql(
            "settings", lambda t: f"SELECT team_id, wo_type_id, mode, estimated_hours, top_n FROM {t(DispatchSetting)}")}

    return _settings.get("rows", load)


def settings_for(wo: WorkOrder, _cache: dict | None = None) -> Settings:
    """The team's setting wins over the type's; without either, suggest with 2 h."""
    rows = _cache if _cache is not None else setting_rows()
    row = next((r for (team, _t), r in rows.items() if team and team == wo.team_id), None) or next(
        (r for (_team, t), r in rows.items() if t and t == wo.wo_type_id), None)
    if row is None:
        return Settings(Mode.SUGGEST, DEFAULT_HOURS, 5)
    if isinstance(row, DispatchSetting):
        return Settings(row.mode, float(row.estimated_hours), row.top_n)
    return Settings(*row)


@dataclass
class _Req:
    wo_type_id: int | None
    asset_category: str
    asset_model: str
    fault_code_prefix: str
    tag_id: int
    tag_name: str
    min_level: int


def requirement_rows() -> list[_Req]:
    return [_Req(*r) for r in raw_sql("requirements", lambda t: (
        f"SELECT r.wo_type_id, r.asset_category, r.asset_model, r.fault_code_prefix, r.tag_id, g.name, r.min_level "
        f"FROM {t(SkillRequirement)} r JOIN {t(SkillTag)} g ON g.id = r.tag_id ORDER BY r.id"))]


def requirements_for(wo: WorkOrder, rows: list | None = None) -> dict[int, tuple[str, int]]:
    """tag id → (tag name, minimum level) that this work needs."""
    if rows is None:
        rows = requirement_rows()
    asset = wo.asset if wo.asset_id else None
    out: dict[int, tuple[str, int]] = {}
    for r in rows:
        if r.wo_type_id and r.wo_type_id != wo.wo_type_id:
            continue
        if r.asset_category and (asset is None or asset.category != r.asset_category):
            continue
        if r.asset_model and (asset is None or asset.model != r.asset_model):
            continue
        if r.fault_code_prefix and not (wo.fault_code or "").startswith(r.fault_code_prefix):
            continue
        prev = out.get(r.tag_id, ("", 0))[1]
        name = r.tag_name if isinstance(r, _Req) else r.tag.name
        out[r.tag_id] = (name, max(prev, r.min_level))
    return out


def _hours_by_type(rows: dict | None = None) -> dict[int, float]:
    rows = rows if rows is not None else setting_rows()
    return {wtype: r[1] for (team, wtype), r in rows.items() if wtype and not team}


# The hot queries of a suggestion, as SQL text built once per process (Django's query
# compiler cost more than the queries themselves). Each is one indexed scan or GROUP BY.
_SQL: dict[tuple[str, str], str] = {}
_F = "DOUBLE PRECISION"  # decimals read as floats: the driver's Decimal conversion cost more than the query


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def raw_sql(key: str, build, params: tuple | list = ()) -> list[tuple]:
    sql = _SQL.get((connection.vendor, key))
    if sql is None:
        sql = _SQL[(connection.vendor, key)] = build(_table)
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _raw(qs) -> list[tuple]:
    """A values_list queryset's rows straight from the driver: no per-value Django
    converters (numbers come back as float or Decimal, both fine for float())."""
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _locate(ids: np.ndarray, uids) -> tuple[np.ndarray, np.ndarray]:
    """Positions of `uids` in the sorted `ids`, and which of them are there at all."""
    uids = np.asarray(uids, dtype=np.int64)
    if not len(ids) or not len(uids):
        return np.zeros(0, dtype=np.int64), np.zeros(len(uids), dtype=bool)
    pos = np.minimum(np.searchsorted(ids, uids), len(ids) - 1)
    ok = ids[pos] == uids
    return pos[ok], ok


def db_datetime(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def open_work(user_ids: np.ndarray | None = None, hours: dict[int, float] | None = None):
    """Active work per engineer (count and estimated hours) from one GROUP BY over the partial
    index wo_open_work. Returns (uids, counts, hours) arrays."""
    hours = _hours_by_type() if hours is None else hours
    # The states written out as the index's condition is (same list, same order): a database uses
    # a partial index only when the query's condition implies its own, which SQLite does not see
    # through parameters. SQLite is also told to use it: without statistics (nothing here runs
    # ANALYZE) it takes the (status, id) index and reads the table for every open work order.
    states = ", ".join(f"'{s}'" for s in ENGINEER_STATES)
    rows = raw_sql("open_work", lambda t: (
        f"SELECT assignee_id, wo_type_id, COUNT(*) FROM {t(WorkOrder)}"
        f"{' INDEXED BY wo_open_work' if connection.vendor == 'sqlite' else ''} WHERE status IN ({states}) "
        f"AND assignee_id IS NOT NULL GROUP BY assignee_id, wo_type_id"), [])
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    arr = np.array(rows, dtype=np.int64)
    types, inverse = np.unique(arr[:, 1], return_inverse=True)
    per_type = np.array([hours.get(int(x), DEFAULT_HOURS) for x in types])
    return arr[:, 0], arr[:, 2], arr[:, 2] * per_type[inverse]


def load_candidates(at: datetime, tag_ids: list[int], user_ids: list[int] | None = None,
                    settings_rows: dict | None = None) -> engine.Candidates:
    """Every active engineer (or `user_ids`) as engine arrays. Seven queries whatever C is."""
    if user_ids is None:
        rows = raw_sql("engineers", lambda t: (
            f"SELECT id, username, display_name, first_name, last_name, CAST(home_latitude AS {_F}), "
            f"CAST(home_longitude AS {_F}) "
            f"FROM {t(User)} WHERE role = %s AND is_active = %s ORDER BY id"), (Role.ENGINEER, True))
    else:
        rows = _raw(User.objects.filter(role=Role.ENGINEER, is_active=True, pk__in=user_ids).order_by("pk")
                    .values_list("pk", "username", "display_name", "first_name", "last_name", "home_latitude",
                                 "home_longitude"))
    n = len(rows)
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    lat = np.array([np.nan if r[5] is None else float(r[5]) for r in rows], dtype=float)
    lng = np.array([np.nan if r[6] is None else float(r[6]) for r in rows], dtype=float)
    day = np.full(n, 8.0)
    fresh_since = db_datetime(at - LOCATION_FRESH)
    # Only profiles that change something: a fresh location or a day other than the default.
    prof = raw_sql("profiles", lambda t: (
        f"SELECT user_id, CAST(day_hours AS {_F}), CAST(latitude AS {_F}), CAST(longitude AS {_F}), "
        f"CASE WHEN located_at >= %s THEN 1 ELSE 0 END "
        f"FROM {t(EngineerProfile)} WHERE located_at >= %s OR day_hours <> 8"), (fresh_since, fresh_since))
    if prof:
        pos, ok = _locate(ids, [r[0] for r in prof])
        vals = np.array([(float(r[1]), np.nan if r[2] is None or not r[4] else float(r[2]),
                          np.nan if r[3] is None or not r[4] else float(r[3])) for r in prof], dtype=float)[ok]
        day[pos] = vals[:, 0]
        here = ~np.isnan(vals[:, 1]) & ~np.isnan(vals[:, 2])
        lat[pos[here]], lng[pos[here]] = vals[here, 1], vals[here, 2]
    shift = np.full(n, engine.NO_ROSTER, dtype=np.int64)
    # One grouped query: 2 = on a shift now, 1 = on call now, 0 = rostered around now but off.
    a = db_datetime(at)
    state_rows = raw_sql("shifts", lambda t: (
        f"SELECT user_id, MAX(CASE WHEN starts_at <= %s AND ends_at > %s AND kind = %s THEN 2 "
        f"WHEN starts_at <= %s AND ends_at > %s THEN 1 ELSE 0 END) FROM {t(Shift)} "
        f"WHERE starts_at < %s AND ends_at > %s GROUP BY user_id"),
        (a, a, Shift.Kind.SHIFT.value, a, a, db_datetime(at + ROSTER_WINDOW), db_datetime(at - ROSTER_WINDOW)))
    if state_rows:
        arr = np.array(state_rows, dtype=np.int64)
        pos, ok = _locate(ids, arr[:, 0])
        shift[pos] = np.array([engine.OFF, engine.ON_CALL, engine.ON_SHIFT])[arr[ok, 1]]
    on_leave = np.zeros(n, dtype=bool)
    reasons = [""] * n
    leave_rows = raw_sql("leave", lambda t: (
        f"SELECT user_id, reason FROM {t(Leave)} WHERE starts_at <= %s AND ends_at > %s"), (a, a))
    if leave_rows:
        pos, ok = _locate(ids, [r[0] for r in leave_rows])
        on_leave[pos] = True
        for p, (_uid, reason) in zip(pos, (r for r, k in zip(leave_rows, ok, strict=True) if k), strict=True):
            reasons[p] = reason
    count = np.zeros(n, dtype=np.int64)
    open_hours = np.zeros(n)
    uids, counts, hrs = open_work(hours=_hours_by_type(settings_rows))
    if len(uids):
        pos, ok = _locate(ids, uids)
        np.add.at(count, pos, counts[ok])
        np.add.at(open_hours, pos, hrs[ok])
    levels = np.zeros((n, len(tag_ids)), dtype=np.int64)
    if tag_ids:
        marks = ", ".join(["%s"] * len(tag_ids))
        skill_rows = raw_sql(f"skills{len(tag_ids)}", lambda t: (
            f"SELECT user_id, tag_id, level FROM {t(EngineerSkill)} WHERE tag_id IN ({marks})"), list(tag_ids))
        if skill_rows:
            arr = np.array(skill_rows, dtype=np.int64)
            pos, ok = _locate(ids, arr[:, 0])
            col = {t: k for k, t in enumerate(tag_ids)}
            cols = np.array([col[int(x)] for x in arr[ok, 1]], dtype=np.int64)
            levels[pos, cols] = arr[ok, 2]
    return engine.Candidates(
        ids=ids, usernames=[r[1] for r in rows],
        names=[r[2] or " ".join(x for x in (r[3], r[4]) if x) or r[1] for r in rows],
        lat=lat, lng=lng, shift=shift, on_leave=on_leave, leave_reason=reasons, open_count=count,
        open_hours=open_hours, day_hours=day, levels=levels, tags=list(tag_ids))


def _history(customer_ids: list[int | None], cands: engine.Candidates) -> np.ndarray:
    out = np.zeros((len(customer_ids), len(cands)), dtype=np.int64)
    wanted = sorted({c for c in customer_ids if c})
    if not wanted:
        return out
    marks = ", ".join(["%s"] * len(wanted))
    states = ", ".join(["%s"] * len(DONE_STATES))
    rows = raw_sql(f"history{len(wanted)}", lambda t: (
        f"SELECT customer_id, assignee_id, COUNT(*) FROM {t(WorkOrder)} WHERE customer_id IN ({marks}) "
        f"AND status IN ({states}) AND assignee_id IS NOT NULL GROUP BY customer_id, assignee_id"),
        [*wanted, *DONE_STATES])
    if not rows:
        return out
    arr = np.array(rows, dtype=np.int64)
    pos, ok = _locate(cands.ids, arr[:, 1])
    arr = arr[ok]
    row_of: dict[int, list[int]] = {}
    for j, cust in enumerate(customer_ids):
        if cust:
            row_of.setdefault(cust, []).append(j)
    for (cust, _uid, c), p in zip(arr.tolist(), pos.tolist(), strict=True):
        for j in row_of.get(cust, ()):
            out[j, p] = c
    return out


def _site(wo: WorkOrder) -> tuple[float, float]:
    site = wo.site if wo.site_id else None
    if site is None or site.latitude is None or site.longitude is None:
        return np.nan, np.nan
    return float(site.latitude), float(site.longitude)


def build_jobs(wos: list[WorkOrder], tag_ids: list[int], reqs: list[dict], hours: list[float],
               cands: engine.Candidates) -> engine.Jobs:
    col = {t: k for k, t in enumerate(tag_ids)}
    required = np.zeros((len(wos), len(tag_ids)), dtype=np.int64)
    for j, req in enumerate(reqs):
        for tag_id, (_name, level) in req.items():
            required[j, col[tag_id]] = level
    sites = [_site(w) for w in wos]
    return engine.Jobs(ids=[w.pk for w in wos], lat=np.array([s[0] for s in sites], dtype=float),
                       lng=np.array([s[1] for s in sites], dtype=float), required=required,
                       est_hours=np.array(hours, dtype=float),
                       history=_history([w.customer_id for w in wos], cands),
                       window_hours=np.array([engine.RESPONSE_HOURS.get(w.priority, np.inf) for w in wos],
                                             dtype=float))


