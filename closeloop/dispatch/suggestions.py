"""Dispatch suggestions: who should do this work, and why. Scores the facts
(dispatch.facts) with dispatch.engine and explains each part in words: the skills, the
roster, the load, the distance, the estimated start and finish (`eta`). Used by the
work order's suggestions card and API, the rules' dispatch action and dispatch.services.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from django.utils.translation import gettext as _

from closeloop.core.clock import now
from closeloop.parts import selectors as parts_selectors
from closeloop.roster.models import Leave, Shift
from closeloop.workorders.models import WorkOrder

from . import engine
from .facts import (
    TRAVEL_KMH,
    build_jobs,
    db_datetime,
    load_candidates,
    raw_sql,
    requirements_for,
    setting_rows,
    settings_for,
)

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
    a, b = db_datetime(at), db_datetime(at + ETA_HORIZON)
    rows = raw_sql(f"duty{len(user_ids)}", lambda t: (
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


def suggestion_row(s: engine.Scores, cands, j: int, c: int, req: dict, at: datetime, est: float,
                windows: dict | None = None) -> dict:
    km = float(s.dist_km[j, c])
    parts = []
    if req:
        parts.append(_("skills %(m)d/%(n)d") % {"m": len(req), "n": len(req)})
    dist_pts = engine.W_DIST * float(s.dist[j, c])
    if np.isnan(km):
        parts.append(_("distance unknown"))
    else:
        nearest = float(s.nearest_km[j])
        rel = "" if np.isnan(nearest) or km <= nearest + 0.5 else \
            "; " + _("nearest %(km)s km") % {"km": f"{nearest:,.0f}"}
        parts.append(_("%(km)s km (distance %(pts)s of %(w)s points%(rel)s)") % {
            "km": f"{km:,.0f}", "pts": f"{dist_pts:.1f}", "w": f"{engine.W_DIST:.0f}", "rel": rel})
    late_h = float(s.late_hours[j, c])
    if late_h > 0:
        parts.append(_("cannot be there within %(window)s h (about %(h)s h): −%(pts)s points") % {
            "window": f"{float(s.arrival_hours[j, c]) - late_h:g}", "h": f"{float(s.arrival_hours[j, c]):.0f}",
            "pts": f"{float(s.late[j, c]):.0f}"})
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
            "distance": round(dist_pts, 1),
            "load": round(engine.W_LOAD * float(s.load[c]), 1),
            "history": round(engine.W_HIST * float(s.hist[j, c]), 1),
            "shift": round(engine.W_SHIFT * float(s.shift[c]), 1),
            "late": -round(float(s.late[j, c]), 1),
        },
        "arrival_hours": round(float(s.arrival_hours[j, c]), 1), "late": late_h > 0,
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
            cands: engine.Candidates | None = None, parts: bool = False) -> Suggestions:
    """Ranked candidates for `wo` with reasons, and the engineers left out, with why. With
    `parts` (the card and the API), each row also says which needed parts (the work order's
    reservations) the engineer's van lacks: `parts_missing`, `parts_warning`."""
    at = at or now()
    req = requirements_for(wo)
    rows = setting_rows()
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
    out = [suggestion_row(s, cands, 0, c, req, at, st.estimated_hours, windows) for c in shown]
    if parts:
        parts_selectors.annotate_suggestions(wo, out, [int(cands.ids[c]) for c in shown])
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


