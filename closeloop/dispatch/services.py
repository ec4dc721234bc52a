"""Dispatch: who should do this work, and why. Loads the facts (skills, rosters,
leave, open work, locations, customer history) in a handful of queries, scores them
with dispatch.engine, explains each part, and assigns through the work order's own
`assign` transition (so every guard, effect and timeline event of assign applies).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from closeloop.accounts.models import EngineerSkill, Role, SkillTag, User
from closeloop.audit.services import record_change
from closeloop.core.clock import now
from closeloop.core.errors import Conflict, FieldProblem, Forbidden, ValidationFailed
from closeloop.roster.models import Leave, Shift
from closeloop.workorders import permissions, timeline
from closeloop.workorders.lifecycle import TRANSITIONS, S
from closeloop.workorders.models import WorkOrder
from closeloop.workorders.services import apply_transition, do_transition

from . import engine
from .models import DispatchSetting, EngineerProfile, Mode, SkillRequirement

#: Assigned work that takes an engineer's time today.
ACTIVE_STATES = (S.ASSIGNED, S.ACCEPTED, S.EN_ROUTE, S.ON_SITE, S.IN_PROGRESS)
#: Work that counts as customer history (the engineer did the job).
DONE_STATES = (S.RESOLVED, S.CONFIRMED, S.INVOICED, S.CLOSED)
DEFAULT_HOURS = 2.0
LOCATION_FRESH = timedelta(hours=12)
ROSTER_WINDOW = timedelta(days=1)  # rostered: has a shift or duty within a day of now
TRAVEL_KMH = 40.0
EVENT_DISPATCH = "dispatch"  # TimelineEvent.kind written here
REASON_MAX = 500


def may_dispatch(user) -> bool:
    return user.is_superuser or user.role in TRANSITIONS["assign"].actors


# ---- facts -------------------------------------------------------------------------------------

@dataclass
class Settings:
    mode: str
    estimated_hours: float
    top_n: int


def _setting_rows() -> dict:
    """(team id, type id) → (mode, estimated hours, top N), in one small query."""
    return {(team, wtype): (mode, float(hours), top_n) for team, wtype, mode, hours, top_n in _sql(
        "settings", lambda t: f"SELECT team_id, wo_type_id, mode, estimated_hours, top_n FROM {t(DispatchSetting)}")}


def settings_for(wo: WorkOrder, _cache: dict | None = None) -> Settings:
    """The team's setting wins over the type's; without either, suggest with 2 h."""
    rows = _cache if _cache is not None else _setting_rows()
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


def _requirement_rows() -> list[_Req]:
    return [_Req(*r) for r in _sql("requirements", lambda t: (
        f"SELECT r.wo_type_id, r.asset_category, r.asset_model, r.fault_code_prefix, r.tag_id, g.name, r.min_level "
        f"FROM {t(SkillRequirement)} r JOIN {t(SkillTag)} g ON g.id = r.tag_id ORDER BY r.id"))]


def requirements_for(wo: WorkOrder, rows: list | None = None) -> dict[int, tuple[str, int]]:
    """tag id → (tag name, minimum level) that this work needs."""
    if rows is None:
        rows = _requirement_rows()
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
    rows = rows if rows is not None else _setting_rows()
    return {wtype: r[1] for (team, wtype), r in rows.items() if wtype and not team}


# The hot queries of a suggestion, as SQL text built once per process (Django's query
# compiler cost more than the queries themselves). Each is one indexed scan or GROUP BY.
_SQL: dict[tuple[str, str], str] = {}
_F = "DOUBLE PRECISION"  # decimals read as floats: the driver's Decimal conversion cost more than the query


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _sql(key: str, build, params: tuple | list = ()) -> list[tuple]:
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


def _dt(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def open_work(user_ids: np.ndarray | None = None, hours: dict[int, float] | None = None):
    """Active work per engineer (count and estimated hours) from one GROUP BY over the
    (status, assignee) index. Returns (uids, counts, hours) arrays."""
    hours = _hours_by_type() if hours is None else hours
    states = ", ".join(["%s"] * len(ACTIVE_STATES))
    rows = _sql("open_work", lambda t: (
        f"SELECT assignee_id, wo_type_id, COUNT(*) FROM {t(WorkOrder)} WHERE status IN ({states}) "
        f"AND assignee_id IS NOT NULL GROUP BY assignee_id, wo_type_id"), list(ACTIVE_STATES))
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
        rows = _sql("engineers", lambda t: (
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
    fresh_since = _dt(at - LOCATION_FRESH)
    # Only profiles that change something: a fresh location or a day other than the default.
    prof = _sql("profiles", lambda t: (
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
    a = _dt(at)
    state_rows = _sql("shifts", lambda t: (
        f"SELECT user_id, MAX(CASE WHEN starts_at <= %s AND ends_at > %s AND kind = %s THEN 2 "
        f"WHEN starts_at <= %s AND ends_at > %s THEN 1 ELSE 0 END) FROM {t(Shift)} "
        f"WHERE starts_at < %s AND ends_at > %s GROUP BY user_id"),
        (a, a, Shift.Kind.SHIFT.value, a, a, _dt(at + ROSTER_WINDOW), _dt(at - ROSTER_WINDOW)))
    if state_rows:
        arr = np.array(state_rows, dtype=np.int64)
        pos, ok = _locate(ids, arr[:, 0])
        shift[pos] = np.array([engine.OFF, engine.ON_CALL, engine.ON_SHIFT])[arr[ok, 1]]
    on_leave = np.zeros(n, dtype=bool)
    reasons = [""] * n
    leave_rows = _sql("leave", lambda t: (
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
        skill_rows = _sql(f"skills{len(tag_ids)}", lambda t: (
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
    rows = _sql(f"history{len(wanted)}", lambda t: (
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
                       history=_history([w.customer_id for w in wos], cands))


# ---- explanations -------------------------------------------------------------------------------

def _shift_word(state: int) -> str:
    return {engine.ON_SHIFT: _("on shift"), engine.ON_CALL: _("on call"), engine.NO_ROSTER: _("no roster"),
            engine.OFF: _("off shift")}[int(state)]


def _exclusion_words(code: str, cands, c: int, req: dict, est: float) -> str:
    if code == engine.LEAVE:
        reason = cands.leave_reason[c]
        return _("on leave") + (f" ({reason})" if reason else "")
    if code == engine.OFF_SHIFT:
        return _("off shift")
    if code == engine.SKILL:
        missing = [(name, level) for tag_id, (name, level) in req.items()
                   if cands.levels[c, cands.tags.index(tag_id)] < level]
        return _("lacks %(skills)s") % {"skills": ", ".join(
            _("%(tag)s level %(n)d") % {"tag": name, "n": level} for name, level in missing)}
    return _("fully booked (%(open)s of %(day)s h, needs %(est)s h)") % {
        "open": f"{cands.open_hours[c]:g}", "day": f"{cands.day_hours[c]:g}", "est": f"{est:g}"}


ETA_HORIZON = timedelta(days=8)


def _aware(v) -> datetime:
    """A datetime column read raw: SQLite gives naive UTC text, PostgreSQL an aware value."""
    if isinstance(v, str):
        v = datetime.fromisoformat(v)
    return v if v.tzinfo else v.replace(tzinfo=UTC)


def duty_windows(user_ids: list[int], at: datetime) -> dict[int, list[tuple[datetime, datetime]]]:
    """Each engineer's working time from now on (shifts and on-call duty, merged, minus
    leave), for the estimated start and finish. An engineer without any is not listed.
    One query for the few engineers shown."""
    if not user_ids:
        return {}
    marks = ", ".join(["%s"] * len(user_ids))
    a, b = _dt(at), _dt(at + ETA_HORIZON)
    rows = _sql(f"duty{len(user_ids)}", lambda t: (
        f"SELECT 0, user_id, starts_at, ends_at FROM {t(Shift)} WHERE user_id IN ({marks}) AND ends_at > %s "
        f"AND starts_at < %s UNION ALL SELECT 1, user_id, starts_at, ends_at FROM {t(Leave)} "
        f"WHERE user_id IN ({marks}) AND ends_at > %s AND starts_at < %s"),
        [*user_ids, a, b, *user_ids, a, b])
    spans: dict[int, list[list[datetime]]] = {}
    leave: dict[int, list[tuple[datetime, datetime]]] = {}
    for kind, uid, start, end in sorted((k, u, _aware(x), _aware(y)) for k, u, x, y in rows):
        if kind:
            leave.setdefault(uid, []).append((start, end))
            continue
        start = max(start, at)
        cur = spans.setdefault(uid, [])
        if cur and start <= cur[-1][1]:
            cur[-1][1] = max(cur[-1][1], end)
        else:
            cur.append([start, end])
    out = {}
    for uid, ws in spans.items():
        for la, lb in leave.get(uid, []):
            cut = []
            for a, b in ws:
                if lb <= a or la >= b:
                    cut.append([a, b])
                    continue
                if a < la:
                    cut.append([a, la])
                if lb < b:
                    cut.append([lb, b])
            ws = cut
        out[uid] = [(a, b) for a, b in ws]
    return out


def _advance(t: datetime, hours: float, windows: list[tuple[datetime, datetime]]) -> datetime:
    """The moment `hours` of working time after `t`, counting only inside `windows`
    (past the last one, time runs on)."""
    left = timedelta(hours=hours)
    for a, b in windows:
        if b <= t:
            continue
        t = max(t, a)
        if t + left <= b:
            return t + left
        left -= b - t
        t = b
    return t + left


def _next_working(t: datetime, windows: list[tuple[datetime, datetime]]) -> datetime:
    for a, b in windows:
        if t < b:
            return max(t, a)
    return t


def eta(at: datetime, ahead_hours: float, est_hours: float,
        windows: list[tuple[datetime, datetime]] | None) -> tuple[datetime, datetime]:
    """Estimated start and finish: after the work queued ahead (and the travel), in the
    engineer's working time when they have a roster (a queue that runs past the end of
    the shift continues at the next one); without a roster, straight from now."""
    if not windows:
        start = at + timedelta(hours=ahead_hours)
        return start, start + timedelta(hours=est_hours)
    start = _next_working(_advance(at, ahead_hours, windows), windows)
    return start, _advance(start, est_hours, windows)


def _suggestion(s: engine.Scores, cands, j: int, c: int, req: dict, at: datetime, est: float,
                windows: dict | None = None) -> dict:
    km = float(s.dist_km[j, c])
    parts = []
    if req:
        parts.append(_("skills %(m)d/%(n)d") % {"m": len(req), "n": len(req)})
    parts.append(_("distance unknown") if np.isnan(km) else _("%(km)s km") % {"km": f"{km:.0f}"})
    parts.append(_("%(n)d open") % {"n": int(cands.open_count[c])})
    hist = int(round(float(s.hist[j, c]) * engine.HISTORY_CAP))
    if hist:
        parts.append(_("%(n)d earlier jobs here") % {"n": hist})
    parts.append(_shift_word(cands.shift[c]))
    travel = 0.0 if np.isnan(km) else km / TRAVEL_KMH
    start, finish = eta(at, float(cands.open_hours[c]) + travel, est, (windows or {}).get(int(cands.ids[c])))
    return {
        "username": cands.usernames[c], "name": cands.names[c], "score": round(float(s.total[j, c]), 1),
        "parts": {
            "skill": round(engine.W_SKILL * float(s.skill[j, c]), 1),
            "distance": round(engine.W_DIST * float(s.dist[j, c]), 1),
            "load": round(engine.W_LOAD * float(s.load[c]), 1),
            "history": round(engine.W_HIST * float(s.hist[j, c]), 1),
            "shift": round(engine.W_SHIFT * float(s.shift[c]), 1),
        },
        "distance_km": None if np.isnan(km) else round(km, 1),
        "open_work": int(cands.open_count[c]), "open_hours": float(cands.open_hours[c]),
        "earlier_jobs": hist, "shift": ["on_shift", "on_call", "no_roster", "off"][int(cands.shift[c])],
        "estimated_start": start, "estimated_finish": finish,
        "explanation": f"{cands.names[c]}: " + ", ".join(parts),
    }


@dataclass
class Suggestions:
    work_order: WorkOrder
    required: dict
    estimated_hours: float
    mode: str
    suggestions: list[dict]
    excluded: list[dict]
    excluded_counts: dict[str, int]


def suggest(wo: WorkOrder, *, at: datetime | None = None, limit: int | None = None, excluded_limit: int = 20,
            cands: engine.Candidates | None = None) -> Suggestions:
    """Ranked candidates for `wo` with reasons, and the engineers left out, with why."""
    at = at or now()
    req = requirements_for(wo)
    rows = _setting_rows()
    st = settings_for(wo, rows)
    tag_ids = list(req)
    if cands is None or cands.tags != tag_ids:
        cands = load_candidates(at, tag_ids, settings_rows=rows)
    jobs = build_jobs([wo], tag_ids, [req], [st.estimated_hours], cands)
    s = engine.score(jobs, cands)
    order = np.argsort(-s.total[0], kind="stable")
    eligible = s.eligible[0][order]
    limit = limit or st.top_n
    shown = [int(c) for c in order[eligible][:limit]]
    windows = duty_windows([int(cands.ids[c]) for c in shown], at)
    out = [_suggestion(s, cands, 0, c, req, at, st.estimated_hours, windows) for c in shown]
    codes = engine.exclusion_codes(s, cands, 0)
    counts = {engine.EXCLUSIONS[k]: int(n) for k, n in enumerate(np.bincount(codes[codes >= 0],
                                                                             minlength=len(engine.EXCLUSIONS))) if n}
    excluded = []
    for c in order[~eligible][:excluded_limit]:
        c = int(c)
        code = engine.EXCLUSIONS[codes[c]]
        words = _exclusion_words(code, cands, c, req, st.estimated_hours)
        excluded.append({"username": cands.usernames[c], "name": cands.names[c], "reason": code,
                         "explanation": f"{cands.names[c]}: {words}"})
    return Suggestions(wo, {name: level for name, level in req.values()}, st.estimated_hours, st.mode, out,
                       excluded, counts)


# ---- assigning ---------------------------------------------------------------------------------------

def _dispatch_data(mode: str, assignee: str | None, chosen: dict | None, sug: Suggestions) -> dict:
    data = {"mode": mode, "assignee": assignee,
            "explanation": (chosen or {}).get("explanation", assignee or ""),
            "score": (chosen or {}).get("score"), "parts": (chosen or {}).get("parts"),
            "suggested": [x["explanation"] for x in sug.suggestions[:3]],
            "excluded": [x["explanation"] for x in sug.excluded[:5]]}
    if chosen and chosen.get("estimated_start"):
        data["estimated_start"] = chosen["estimated_start"].isoformat()
        data["estimated_finish"] = chosen["estimated_finish"].isoformat()
    return data


def do_dispatch_work_order(*, actor: User, wo: WorkOrder, assignee: str | None = None, reason: str = "",
                           mode: str = "best") -> WorkOrder:
    """Assign `wo` to the best suggestion (mode "best"), the next in the team's round
    robin (mode "round_robin"), or to `assignee` (an override when it is not the best,
    which needs a `reason`). The reasons go on the timeline with the assign, and the
    dispatch event's data is left on `wo.dispatch` (for the API's answer)."""
    if not permissions.may_take(actor, wo, TRANSITIONS["assign"]):
        raise Forbidden(_("You may not assign this work order."))
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX:
        raise ValidationFailed(FieldProblem("reason", _("At most %(n)d characters.") % {"n": REASON_MAX}))
    at = now()
    sug = suggest(wo, at=at, limit=50)
    best = sug.suggestions[0] if sug.suggestions else None
    if assignee:
        chosen = next((x for x in sug.suggestions if x["username"] == assignee), None)
        excluded = next((x for x in sug.excluded if x["username"] == assignee), None)
        override = best is None or best["username"] != assignee
        if override and not reason:
            raise ValidationFailed(FieldProblem("reason", _("Choosing someone other than the best suggestion "
                                                            "needs a reason."), "required"))
    elif mode == "round_robin":
        chosen = _round_robin(wo, sug)
        excluded, override = None, False
        if chosen is None:
            raise ValidationFailed(FieldProblem("assignee", _("Nobody in the team is available."), "unavailable"))
        assignee = chosen["username"]
    else:
        if best is None:
            raise ValidationFailed(FieldProblem("assignee", _("No engineer is available: %(why)s")
                                                % {"why": "; ".join(x["explanation"] for x in sug.excluded[:5])},
                                                "unavailable"))
        chosen, excluded, override, assignee = best, None, False, best["username"]
    data = _dispatch_data(mode if not override else "override", assignee, chosen, sug)
    if not chosen and excluded:
        data["explanation"] = excluded["explanation"]
    if override:
        data.update(override=True, reason=reason, best=best["username"] if best else None)
    note = reason if override else data["explanation"]
    with transaction.atomic():
        timeline.append_event(wo, EVENT_DISPATCH, actor=actor, at=at, data=data)
        do_transition(actor=actor, wo=wo, action="assign", data={"assignee": assignee, "note": note[:2000]})
    wo.dispatch = data
    return wo


def _round_robin(wo: WorkOrder, sug: Suggestions) -> dict | None:
    """The eligible team member assigned longest ago (never first)."""
    if not wo.team_id:
        return sug.suggestions[0] if sug.suggestions else None
    team = set(User.objects.filter(team_id=wo.team_id).values_list("username", flat=True))
    pool = [x for x in sug.suggestions if x["username"] in team]
    if not pool:
        return None
    last = dict(WorkOrder.objects.filter(assignee__username__in=[x["username"] for x in pool])
                .values_list("assignee__username").annotate(m=Max("assigned_at")).order_by())
    epoch = datetime.min.replace(tzinfo=now().tzinfo)
    return min(pool, key=lambda x: (last.get(x["username"]) or epoch, x["username"]))


def auto_dispatch(*, actor: User, wo: WorkOrder) -> WorkOrder | None:
    """What a work order's dispatch setting asks for (the rules' "dispatch by setting"
    action): assign the best, round robin, or nothing (suggest: the dispatcher decides)."""
    st = settings_for(wo)
    if st.mode == Mode.AUTO:
        return do_dispatch_work_order(actor=actor, wo=wo, mode="best")
    if st.mode == Mode.ROUND_ROBIN:
        return do_dispatch_work_order(actor=actor, wo=wo, mode="round_robin")
    return None


_REASON_WORDS = {engine.LEAVE: gettext_lazy("on leave"), engine.OFF_SHIFT: gettext_lazy("off shift"),
                 engine.SKILL: gettext_lazy("lacking a skill"), engine.FULL: gettext_lazy("fully booked")}


def unavailable_summary(counts: dict[str, int]) -> str:
    """"3 on leave, 12 lacking a skill": why nobody could take the work."""
    return ", ".join(f"{n} {_REASON_WORDS[code]}" for code, n in sorted(counts.items(), key=lambda kv: -kv[1])
                     if code in _REASON_WORDS) or _("no engineers")


def dispatch_on_arrival(*, actor: User, wo: WorkOrder, at: datetime, trigger: str) -> str | None:
    """The dispatch setting acting on its own, when unassigned work arrives (created, or
    back to new when reopened without an assignee). Runs inside the event's transaction,
    after the rules (which may have assigned it already: then nothing happens).

    auto assigns the best, round_robin the next in the team; suggest leaves the choice to
    the dispatcher. Nobody available: a dispatch event says why and the work stays
    unassigned; it never makes the event itself fail. Returns the assignee's username."""
    from closeloop.core.errors import DomainError

    fresh = WorkOrder.objects.filter(pk=wo.pk).values("status", "assignee_id", "team_id", "version").first()
    if fresh is None or fresh["status"] != S.NEW or fresh["assignee_id"]:
        return None
    wo.status, wo.assignee_id, wo.team_id, wo.version = (fresh["status"], fresh["assignee_id"], fresh["team_id"],
                                                         fresh["version"])
    st = settings_for(wo)
    if st.mode not in (Mode.AUTO, Mode.ROUND_ROBIN):
        return None
    sug = suggest(wo, at=at, limit=50)
    chosen = _round_robin(wo, sug) if st.mode == Mode.ROUND_ROBIN else (sug.suggestions[0] if sug.suggestions
                                                                          else None)
    data = _dispatch_data(str(st.mode), chosen["username"] if chosen else None, chosen, sug)
    data.update(automatic=True, trigger=trigger)
    if chosen is None:
        data.update(unavailable=True, excluded_counts=sug.excluded_counts,
                    explanation=_("Nobody available: %(why)s") % {"why": unavailable_summary(sug.excluded_counts)})
        timeline.append_event(wo, EVENT_DISPATCH, actor=None, at=at, data=data)
        return None
    user = User.objects.get(username=chosen["username"])
    try:
        with transaction.atomic():
            timeline.append_event(wo, EVENT_DISPATCH, actor=None, at=at, data=data)
            apply_transition(actor=actor, wo=wo, action="assign", at=at, data={
                "assignee": user, "note": (_("Dispatched automatically: %(why)s")
                                           % {"why": data["explanation"]})[:2000]})
    except DomainError as exc:  # a guard refused: say so, leave it unassigned
        data.update(assignee=None, unavailable=True, error=str(exc.message)[:300],
                    explanation=_("Could not assign %(who)s: %(why)s") % {"who": chosen["username"],
                                                                         "why": str(exc.message)[:300]})
        wo.refresh_from_db(fields=["status", "assignee", "team", "version"])
        timeline.append_event(wo, EVENT_DISPATCH, actor=None, at=at, data=data)
        return None
    return user.username


# ---- batch ---------------------------------------------------------------------------------------

BATCH_MAX = 2000


def _plan_id(items: list[tuple[str, int, str | None]]) -> str:
    raw = "|".join(f"{c}:{v}:{a or ''}" for c, v, a in items)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def preview_batch(*, actor: User, wos: list[WorkOrder], at: datetime | None = None) -> dict:
    """The optimal assignment of `wos` over the same scores as suggestions
    (scipy.optimize.linear_sum_assignment). Nothing is written."""
    if not may_dispatch(actor):
        raise Forbidden(_("You may not assign work."))
    if len(wos) > BATCH_MAX:
        raise ValidationFailed(FieldProblem("work_orders", _("At most %(n)d at once.") % {"n": BATCH_MAX}))
    at = at or now()
    rows = _requirement_rows()
    cache = _setting_rows()
    reqs = [requirements_for(w, rows) for w in wos]
    hours = [settings_for(w, cache).estimated_hours for w in wos]
    tag_ids = sorted({t for r in reqs for t in r})
    cands = load_candidates(at, tag_ids, settings_rows=cache)
    jobs = build_jobs(wos, tag_ids, reqs, hours, cands)
    plan, total, s = engine.assign_batch(jobs, cands)
    items = []
    for j, (w, c) in enumerate(zip(wos, plan, strict=True)):
        if c >= 0:
            sug = _suggestion(s, cands, j, c, reqs[j], at, hours[j])
            items.append({"code": w.code, "version": w.version, "assignee": sug["username"], "score": sug["score"],
                          "explanation": sug["explanation"]})
        else:
            items.append({"code": w.code, "version": w.version, "assignee": None, "score": None,
                          "explanation": _("nobody eligible with capacity left")})
    return {"plan_id": _plan_id([(i["code"], i["version"], i["assignee"]) for i in items]),
            "assigned": sum(1 for i in items if i["assignee"]), "unassigned": sum(1 for i in items if not i["assignee"]),
            "total_score": round(sum(i["score"] or 0 for i in items), 1), "items": items}


def do_apply_batch(*, actor: User, wos_by_code: dict[str, WorkOrder], items: list[dict]) -> list[WorkOrder]:
    """Apply a previewed plan, all or nothing: a work order that changed since the
    preview (version) makes the whole batch a 409, so the dispatcher previews again."""
    if not may_dispatch(actor):
        raise Forbidden(_("You may not assign work."))
    problems = []
    for i, item in enumerate(items):
        wo = wos_by_code.get(item.get("code", ""))
        if wo is None:
            problems.append(FieldProblem(f"items[{i}].code", _("No work order %(code)s.") % {"code": item.get("code")},
                                         "not_found"))
    if problems:
        raise ValidationFailed(problems)
    done = []
    at = now()
    with transaction.atomic():
        for item in items:
            if not item.get("assignee"):
                continue
            wo = wos_by_code[item["code"]]
            if item.get("version") is not None and item["version"] != wo.version:
                raise Conflict(_("%(code)s changed since the preview; preview again.") % {"code": wo.code},
                               work_order=wo.code, version=wo.version)
            timeline.append_event(wo, EVENT_DISPATCH, actor=actor, at=at, data={
                "mode": "batch", "assignee": item["assignee"], "explanation": item.get("explanation", "")[:500]})
            do_transition(actor=actor, wo=wo, action="assign",
                          data={"assignee": item["assignee"], "note": _("Batch assignment")})
            done.append(wo)
    return done


def unassigned_backlog(user, limit: int = BATCH_MAX) -> list[WorkOrder]:
    from closeloop.workorders.selectors import visible_work_orders

    return list(visible_work_orders(user).filter(Q(status=S.NEW), assignee__isnull=True)
                .select_related("wo_type", "site", "asset", "customer", "team").order_by("id")[:limit])


# ---- settings (managers and admins change them; dispatchers read them) --------------------------

MAX_HOURS = 24.0
MAX_TOP_N = 50


def may_manage_settings(user) -> bool:
    return bool(user.is_superuser or user.role in (Role.ADMIN, Role.MANAGER))


def may_read_settings(user) -> bool:
    return may_dispatch(user)


def _number(problems: list, field: str, value, lo: float, hi: float, *, integer: bool = False):
    if value in (None, ""):
        problems.append(FieldProblem(field, _("This field is required."), "required"))
        return None
    try:
        num = float(value)
        if integer and num != int(num):
            raise ValueError
    except (TypeError, ValueError):
        problems.append(FieldProblem(field, _("A whole number from %(lo)g to %(hi)g.") % {"lo": lo, "hi": hi}
                                     if integer else _("A number from %(lo)g to %(hi)g.") % {"lo": lo, "hi": hi}))
        return None
    if not lo <= num <= hi:
        problems.append(FieldProblem(field, _("A number from %(lo)g to %(hi)g.") % {"lo": lo, "hi": hi}))
        return None
    return int(num) if integer else round(num, 1)


def _clean_setting(problems: list, data: dict, where: str = "") -> dict:
    """One setting row from public keys: type key or team code (exactly one), mode,
    estimated hours and top N."""
    from closeloop.accounts.models import Team
    from closeloop.workorders.models import WorkOrderType

    p = f"{where}." if where else ""
    known = {"type", "team", "mode", "estimated_hours", "top_n"}
    for k in sorted(set(data) - known):
        problems.append(FieldProblem(f"{p}{k}", _("Unknown field."), "unknown"))
    out: dict = {"wo_type": None, "team": None}
    type_key, team_code = (data.get("type") or "").strip(), (data.get("team") or "").strip()
    if bool(type_key) == bool(team_code):
        problems.append(FieldProblem(f"{p}type", _("Give either a work order type or a team, not both."),
                                     "required"))
    elif type_key:
        out["wo_type"] = WorkOrderType.objects.filter(key=type_key).first()
        if out["wo_type"] is None:
            problems.append(FieldProblem(f"{p}type", _("No work order type %(k)s.") % {"k": type_key}, "not_found"))
    else:
        out["team"] = Team.objects.filter(code=team_code).first()
        if out["team"] is None:
            problems.append(FieldProblem(f"{p}team", _("No team %(k)s.") % {"k": team_code}, "not_found"))
    mode = data.get("mode") or Mode.SUGGEST
    if mode not in Mode.values:
        problems.append(FieldProblem(f"{p}mode", _("Must be one of: %(c)s.") % {"c": ", ".join(Mode.values)}))
    out["mode"] = mode
    out["estimated_hours"] = _number(problems, f"{p}estimated_hours", data.get("estimated_hours", DEFAULT_HOURS),
                                     0.5, MAX_HOURS)
    out["top_n"] = _number(problems, f"{p}top_n", data.get("top_n", 5), 1, MAX_TOP_N, integer=True)
    return out


def setting_dict(row: DispatchSetting) -> dict:
    return {"id": row.pk, "type": row.wo_type.key if row.wo_type_id else None,
            "team": row.team.code if row.team_id else None, "mode": row.mode,
            "estimated_hours": float(row.estimated_hours), "top_n": row.top_n}


def list_settings(user) -> list[DispatchSetting]:
    if not may_read_settings(user):
        raise Forbidden(_("You may not see dispatch settings."))
    return list(DispatchSetting.objects.select_related("wo_type", "team").order_by("team_id", "wo_type_id", "id"))


def do_save_setting(*, actor: User, data: dict, setting: DispatchSetting | None = None) -> DispatchSetting:
    """Create (or edit `setting`) one row; a type or team has at most one row."""
    if not may_manage_settings(actor):
        raise Forbidden(_("Only managers and administrators change dispatch settings."))
    problems: list[FieldProblem] = []
    clean = _clean_setting(problems, data)
    if not problems:
        clash = DispatchSetting.objects.filter(wo_type=clean["wo_type"]) if clean["wo_type"] else \
            DispatchSetting.objects.filter(team=clean["team"])
        if setting is not None:
            clash = clash.exclude(pk=setting.pk)
        if clash.exists():
            field = "type" if clean["wo_type"] else "team"
            problems.append(FieldProblem(field, _("This %(what)s already has a setting; edit that one.")
                                         % {"what": _("type") if clean["wo_type"] else _("team")}, "duplicate"))
    if problems:
        raise ValidationFailed(problems)
    row = setting or DispatchSetting()
    before = _setting_snapshot(setting) if setting is not None else None
    for k, v in clean.items():
        setattr(row, k, v)
    with transaction.atomic():
        row.save()
        record_change(actor=actor, kind="dispatch_setting", obj=row, label=_setting_label(row), before=before,
                      after=_setting_snapshot(row))
    return row


def _setting_label(row: DispatchSetting) -> str:
    return row.team.code if row.team_id else row.wo_type.key if row.wo_type_id else "-"


def _setting_snapshot(row: DispatchSetting) -> dict:
    return {k: v for k, v in setting_dict(row).items() if k != "id"}


def do_delete_setting(*, actor: User, setting: DispatchSetting) -> None:
    if not may_manage_settings(actor):
        raise Forbidden(_("Only managers and administrators change dispatch settings."))
    with transaction.atomic():
        record_change(actor=actor, kind="dispatch_setting", obj=setting, label=_setting_label(setting),
                      before=_setting_snapshot(setting), after=None)
        setting.delete()


def do_replace_settings(*, actor: User, rows: list[dict]) -> list[DispatchSetting]:
    """The whole list at once (API PUT): every row valid, no type or team twice, or
    nothing changes."""
    if not may_manage_settings(actor):
        raise Forbidden(_("Only managers and administrators change dispatch settings."))
    problems: list[FieldProblem] = []
    cleaned = [_clean_setting(problems, r if isinstance(r, dict) else {}, f"settings[{i}]")
               for i, r in enumerate(rows)]
    seen: set = set()
    for i, c in enumerate(cleaned):
        key = ("type", c["wo_type"].pk) if c["wo_type"] else ("team", c["team"].pk) if c["team"] else None
        if key is not None and key in seen:
            problems.append(FieldProblem(f"settings[{i}].{key[0]}", _("Listed twice."), "duplicate"))
        seen.add(key)
    if problems:
        raise ValidationFailed(problems)
    with transaction.atomic():
        before = [_setting_snapshot(r) for r in DispatchSetting.objects.select_related("wo_type", "team")
                  .order_by("team_id", "wo_type_id", "id")]
        DispatchSetting.objects.all().delete()
        rows = [DispatchSetting.objects.create(**c) for c in cleaned]
        record_change(actor=actor, kind="dispatch_setting", obj_id="*", label="*", action="replaced",
                      before={"settings": before}, after={"settings": [_setting_snapshot(r) for r in rows]})
        return rows
