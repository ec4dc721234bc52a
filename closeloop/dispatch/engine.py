"""Dispatch scoring, pure and vectorised (numpy): no database here.

One function scores J jobs × C candidates; a single suggestion is the J = 1 case and
the batch is the same matrix fed to scipy's linear_sum_assignment, so the dispatcher's
list and the batch plan can never disagree.

Score (0..100) = distance 40 + load 20 + shift 15 + skill levels 15 + customer history 10,
minus a lateness penalty.
Skills are first a threshold (below a required minimum level: excluded); among those who
qualify, closeness weighs most, so the work goes to the nearest qualified person who is
free, unless they are much busier or much less experienced. The distance part is half
absolute (exp(-km / 100)) and half relative to the nearest qualified candidate
((nearest + 25) / (km + 25)), so 712 km still clearly beats 1,084 km when nobody is close.
An engineer who cannot arrive within the priority's response window (work queued ahead +
travel at TRAVEL_KMH; urgent 4 h, high 8 h, normal 24 h, low 72 h) loses LATE_BASE points
plus LATE_PER_HOUR per hour late: anyone in time beats everyone late, and among the late
the earliest arrival wins.
Excluded (never suggested, never assigned): on leave, off shift (for engineers with a
roster), missing a required skill or below its minimum level, no capacity left today.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

W_SKILL, W_DIST, W_LOAD, W_HIST, W_SHIFT = 15.0, 40.0, 20.0, 10.0, 15.0
DIST_SCALE_KM = 100.0  # absolute half = exp(-km / scale): 1 next door, 0.61 at 50 km, 0.37 at 100 km
DIST_RELATIVE_KM = 25.0  # relative half = (nearest + this) / (km + this)
TRAVEL_KMH = 40.0
#: Hours from now within which someone should be on site, by priority (the lateness check).
RESPONSE_HOURS = {"urgent": 4.0, "high": 8.0, "normal": 24.0, "low": 72.0}
LATE_BASE, LATE_PER_HOUR, LATE_CAP_HOURS = 100.0, 5.0, 150.0
UNKNOWN_DIST_PART = 0.3
HISTORY_CAP = 5

# exclusion codes (explained in words by dispatch.services)
LEAVE, OFF_SHIFT, SKILL, FULL = "leave", "off_shift", "skill", "full"
EXCLUSIONS = (LEAVE, OFF_SHIFT, SKILL, FULL)  # exclusion_codes() index into this
# shift states
ON_SHIFT, ON_CALL, NO_ROSTER, OFF = 0, 1, 2, 3
SHIFT_PART = {ON_SHIFT: 1.0, ON_CALL: 0.6, NO_ROSTER: 0.5, OFF: 0.0}
_SHIFT_PARTS = np.array([SHIFT_PART[k] for k in range(4)])


@dataclass
class Candidates:
    """C engineers as parallel arrays (built by dispatch.facts.load_candidates)."""

    ids: np.ndarray  # int
    usernames: list[str]
    names: list[str]
    lat: np.ndarray  # float, nan when unknown
    lng: np.ndarray
    shift: np.ndarray  # int: ON_SHIFT / ON_CALL / NO_ROSTER / OFF
    on_leave: np.ndarray  # bool
    leave_reason: list[str]
    open_count: np.ndarray  # int
    open_hours: np.ndarray  # float
    day_hours: np.ndarray  # float
    levels: np.ndarray  # C × T int skill levels (0 = none) for the tags in `tags`
    tags: list[int] = field(default_factory=list)  # tag ids, columns of `levels`

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Jobs:
    """J work orders: site, required levels per tag column, estimate, history."""

    ids: list[int]
    lat: np.ndarray
    lng: np.ndarray
    required: np.ndarray  # J × T int minimum levels (0 = not required)
    est_hours: np.ndarray  # float
    history: np.ndarray  # J × C int: earlier work for this customer by each candidate
    window_hours: np.ndarray | None = None  # J float: response window (inf / None: no lateness check)


@dataclass
class Scores:
    total: np.ndarray  # J × C float, 0..100
    skill: np.ndarray  # J × C 0..1
    dist_km: np.ndarray  # J × C km (nan unknown)
    dist: np.ndarray
    load: np.ndarray  # C (0..1) before this job
    hist: np.ndarray  # J × C 0..1
    shift: np.ndarray  # C 0..1
    arrival_hours: np.ndarray  # J × C: work queued ahead + travel (nan distance: no travel counted)
    late_hours: np.ndarray  # J × C: hours past the response window (0 = in time)
    late: np.ndarray  # J × C: the penalty points subtracted (0 in time)
    nearest_km: np.ndarray  # J: the nearest qualified candidate's distance (nan unknown)
    skill_ok: np.ndarray  # J × C bool
    fits: np.ndarray  # J × C bool: capacity for this job today
    eligible: np.ndarray  # J × C bool


def haversine_km(lat1, lng1, lat2, lng2):
    lat1, lng1, lat2, lng2 = (np.radians(np.asarray(x, dtype=float)) for x in (lat1, lng1, lat2, lng2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lng2 - lng1) / 2) ** 2
    return 6371.0088 * 2 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def score(jobs: Jobs, cands: Candidates) -> Scores:
    req = jobs.required  # J × T
    lv = cands.levels  # C × T
    if req.shape[1]:
        needed = req[:, None, :] > 0  # J × 1 × T
        skill_ok = np.all((lv[None, :, :] >= req[:, None, :]) | ~needed, axis=2)
        n_req = needed.sum(axis=2)  # J × 1
        skill = np.where(n_req > 0, (np.minimum(lv[None, :, :], 5) / 5.0 * needed).sum(axis=2) / np.maximum(n_req, 1),
                         1.0)
    else:
        skill_ok = np.ones((len(jobs.ids), len(cands)), dtype=bool)
        skill = np.ones((len(jobs.ids), len(cands)))
    dist_km = haversine_km(jobs.lat[:, None], jobs.lng[:, None], cands.lat[None, :], cands.lng[None, :])
    day = np.maximum(cands.day_hours, 0.1)
    load = np.clip(1.0 - cands.open_hours / day, 0.0, 1.0)
    hist = np.minimum(jobs.history, HISTORY_CAP) / HISTORY_CAP
    shift = _SHIFT_PARTS[cands.shift]
    fits = (cands.open_hours[None, :] + jobs.est_hours[:, None]) <= cands.day_hours[None, :] + 1e-9
    available = (~cands.on_leave) & (cands.shift != OFF)
    eligible = skill_ok & fits & available[None, :]
    known = ~np.isnan(dist_km)
    with np.errstate(all="ignore"):
        near_ok = np.where(known & eligible, dist_km, np.inf).min(axis=1, initial=np.inf)
        near_any = np.where(known, dist_km, np.inf).min(axis=1, initial=np.inf)
    nearest = np.where(np.isfinite(near_ok), near_ok, near_any)  # J
    km = np.nan_to_num(dist_km)
    rel = (np.nan_to_num(nearest, posinf=0.0)[:, None] + DIST_RELATIVE_KM) / (km + DIST_RELATIVE_KM)
    dist = np.where(known, 0.5 * np.exp(-km / DIST_SCALE_KM) + 0.5 * np.minimum(rel, 1.0), UNKNOWN_DIST_PART)
    arrival = cands.open_hours[None, :] + km / TRAVEL_KMH
    window = (np.full(len(jobs.ids), np.inf) if jobs.window_hours is None
              else np.asarray(jobs.window_hours, dtype=float))
    late_hours = np.maximum(arrival - window[:, None], 0.0)
    late = np.where(late_hours > 0, LATE_BASE + LATE_PER_HOUR * np.minimum(late_hours, LATE_CAP_HOURS), 0.0)
    total = (W_SKILL * skill + W_DIST * dist + W_LOAD * load[None, :] + W_HIST * hist + W_SHIFT * shift[None, :]
             - late)
    return Scores(total=total, skill=skill, dist_km=dist_km, dist=dist, load=load, hist=hist, shift=shift,
                  arrival_hours=arrival, late_hours=late_hours, late=late,
                  nearest_km=np.where(np.isfinite(nearest), nearest, np.nan),
                  skill_ok=skill_ok, fits=fits, eligible=eligible)


def exclusion(s: Scores, cands: Candidates, j: int, c: int) -> str | None:
    """Why candidate c cannot take job j (first reason), or None."""
    if cands.on_leave[c]:
        return LEAVE
    if cands.shift[c] == OFF:
        return OFF_SHIFT
    if not s.skill_ok[j, c]:
        return SKILL
    if not s.fits[j, c]:
        return FULL
    return None


def exclusion_codes(s: Scores, cands: Candidates, j: int) -> np.ndarray:
    """exclusion() for every candidate of job j at once: an index into EXCLUSIONS, -1 if eligible."""
    return np.select([cands.on_leave, cands.shift == OFF, ~s.skill_ok[j], ~s.fits[j]], [0, 1, 2, 3], -1)


# ---- batch --------------------------------------------------------------------------------------

UNASSIGNED_COST = 10000.0  # worse than any feasible assignment: assign as many as possible first
SLOT_LOAD_STEP = 5.0  # each further job for the same engineer in one batch costs this much more


def slot_count(cands: Candidates, est_hours: float, cap: int) -> np.ndarray:
    """How many more jobs of `est_hours` each engineer can take today (capped)."""
    free = np.maximum(cands.day_hours - cands.open_hours, 0.0)
    slots = np.floor(free / max(est_hours, 0.1) + 1e-9).astype(int)
    slots[cands.on_leave | (cands.shift == OFF)] = 0
    return np.minimum(slots, cap)


def batch_cost(jobs: Jobs, cands: Candidates, max_slots: int | None = None):
    """The cost matrix (J × (slots + J dummies)) and the column → candidate index map
    (-1 for "leave unassigned"). Cost = 100 - score + slot penalty; ineligible = inf."""
    s = score(jobs, cands)
    n_jobs = len(jobs.ids)
    cap = n_jobs if max_slots is None else max_slots
    est = float(np.max(jobs.est_hours)) if n_jobs else 1.0
    slots = slot_count(cands, est, cap)
    col_cand = np.repeat(np.arange(len(cands)), slots)
    col_slot = np.concatenate([np.arange(k) for k in slots]) if len(slots) and slots.sum() else np.zeros(0, int)
    base = 100.0 - s.total  # J × C
    cost = base[:, col_cand] + SLOT_LOAD_STEP * col_slot[None, :]
    cost = np.where(s.eligible[:, col_cand], cost, np.inf)
    dummy = np.full((n_jobs, n_jobs), UNASSIGNED_COST)
    return np.hstack([cost, dummy]), np.concatenate([col_cand, np.full(n_jobs, -1)]), s


def assign_batch(jobs: Jobs, cands: Candidates, max_slots: int | None = None) -> tuple[list[int], float, Scores]:
    """Optimal plan: for each job the candidate index, or -1; and the total cost."""
    from scipy.optimize import linear_sum_assignment

    if not len(jobs.ids):
        return [], 0.0, score(jobs, cands)
    cost, col_cand, s = batch_cost(jobs, cands, max_slots)
    finite = np.where(np.isinf(cost), 1e9, cost)  # scipy wants a feasible finite matrix
    rows, cols = linear_sum_assignment(finite)
    plan = [-1] * len(jobs.ids)
    total = 0.0
    for r, c in zip(rows, cols, strict=True):
        plan[r] = int(col_cand[c])
        total += float(finite[r, c])
    return plan, total, s


def plan_cost(plan: list[int], jobs: Jobs, cands: Candidates, s: Scores) -> float:
    """The objective of a plan (job → candidate or -1), as batch_cost defines it; inf
    when it breaks eligibility or capacity. For checking the optimum."""
    est = float(np.max(jobs.est_hours)) if len(jobs.ids) else 1.0
    slots = slot_count(cands, est, len(jobs.ids))
    used: dict[int, int] = {}
    total = 0.0
    for j, c in enumerate(plan):
        if c < 0:
            total += UNASSIGNED_COST
            continue
        if not s.eligible[j, c]:
            return float("inf")
        k = used.get(c, 0)
        if k >= slots[c]:
            return float("inf")
        used[c] = k + 1
        total += 100.0 - float(s.total[j, c]) + SLOT_LOAD_STEP * k
    return total
