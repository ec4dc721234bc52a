"""Dispatch: who should do this work, and why. Loads the facts (skills, rosters,
leave, open work, locations, customer history) in a handful of queries, scores them
with dispatch.engine, explains each part, and assigns through the work order's own
`assign` transition (so every guard, effect and timeline event of assign applies).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.db import connection, transaction
from django.db.models import Case, Count, IntegerField, Max, Q, Value, When
from django.utils.translation import gettext as _

from closeloop.accounts.models import EngineerSkill, Role, User
from closeloop.core.clock import now
from closeloop.core.errors import Conflict, FieldProblem, Forbidden, ValidationFailed
from closeloop.workorders import permissions
from closeloop.workorders.lifecycle import TRANSITIONS, S
from closeloop.workorders.models import TimelineEvent, WorkOrder
from closeloop.workorders.services import do_transition

from . import engine
from .models import DispatchSetting, EngineerProfile, Leave, Mode, Shift, SkillRequirement

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


def settings_for(wo: WorkOrder, _cache: dict | None = None) -> Settings:
    rows = _cache if _cache is not None else {
        (r.team_id, r.wo_type_id): r for r in DispatchSetting.objects.all()}
    row = next((r for (team, _t), r in rows.items() if team and team == wo.team_id), None) or next(
        (r for (_team, t), r in rows.items() if t and t == wo.wo_type_id), None)
    if row is None:
        return Settings(Mode.SUGGEST, DEFAULT_HOURS, 5)
    return Settings(row.mode, float(row.estimated_hours), row.top_n)


def requirements_for(wo: WorkOrder, rows: list[SkillRequirement] | None = None) -> dict[int, tuple[str, int]]:
    """tag id → (tag name, minimum level) that this work needs."""
    if rows is None:
        rows = list(SkillRequirement.objects.select_related("tag"))
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
        out[r.tag_id] = (r.tag.name, max(prev, r.min_level))
    return out


def _hours_by_type() -> dict[int, float]:
    return {r.wo_type_id: float(r.estimated_hours) for r in DispatchSetting.objects.filter(wo_type__isnull=False)}


def _raw(qs) -> list[tuple]:
    """A values_list queryset's rows straight from the driver: no per-value Django
    converters (numbers come back as float or Decimal, both fine for float())."""
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def load_candidates(at: datetime, tag_ids: list[int], user_ids: list[int] | None = None) -> engine.Candidates:
    """Every active engineer (or `user_ids`) as engine arrays. Seven queries whatever C is."""
    users = User.objects.filter(role=Role.ENGINEER, is_active=True)
    if user_ids is not None:
        users = users.filter(pk__in=user_ids)
    rows = _raw(users.order_by("pk").values_list("pk", "username", "display_name", "first_name", "last_name",
                                                 "home_latitude", "home_longitude"))
    n = len(rows)
    index = {r[0]: i for i, r in enumerate(rows)}
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    lat = np.array([float(r[5]) if r[5] is not None else np.nan for r in rows], dtype=float)
    lng = np.array([float(r[6]) if r[6] is not None else np.nan for r in rows], dtype=float)
    day = np.full(n, 8.0)
    # Only profiles that change something: a fresh location or a day other than the default.
    profiles = EngineerProfile.objects.filter(Q(located_at__gte=at - LOCATION_FRESH) | ~Q(day_hours=8))
    for uid, dh, plat, plng, fresh in _raw(profiles.order_by().annotate(
            fresh=Case(When(located_at__gte=at - LOCATION_FRESH, then=Value(1)), default=Value(0),
                       output_field=IntegerField())).values_list("user_id", "day_hours", "latitude", "longitude",
                                                                 "fresh")):
        i = index.get(uid)
        if i is None:
            continue
        day[i] = float(dh)
        if plat is not None and plng is not None and fresh:
            lat[i], lng[i] = float(plat), float(plng)
    shift = np.full(n, engine.NO_ROSTER, dtype=np.int64)
    # One grouped query: 2 = on a shift now, 1 = on call now, 0 = rostered around now but off.
    now_state = Max(Case(When(starts_at__lte=at, ends_at__gt=at, kind=Shift.Kind.SHIFT, then=Value(2)),
                         When(starts_at__lte=at, ends_at__gt=at, then=Value(1)), default=Value(0),
                         output_field=IntegerField()))
    for uid, state in _raw(Shift.objects.filter(starts_at__lt=at + ROSTER_WINDOW, ends_at__gt=at - ROSTER_WINDOW)
                           .order_by().values_list("user_id").annotate(state=now_state)):
        i = index.get(uid)
        if i is not None:
            shift[i] = {2: engine.ON_SHIFT, 1: engine.ON_CALL}.get(state, engine.OFF)
    on_leave = np.zeros(n, dtype=bool)
    reasons = [""] * n
    for uid, reason in _raw(Leave.objects.filter(starts_at__lte=at, ends_at__gt=at).order_by()
                            .values_list("user_id", "reason")):
        i = index.get(uid)
        if i is not None:
            on_leave[i] = True
            reasons[i] = reason
    hours = _hours_by_type()
    count = np.zeros(n, dtype=np.int64)
    open_hours = np.zeros(n)
    for uid, type_id, c in _raw(WorkOrder.objects.filter(status__in=ACTIVE_STATES, assignee__isnull=False)
                                .values_list("assignee_id", "wo_type_id").annotate(c=Count("id")).order_by()):
        i = index.get(uid)
        if i is not None:
            count[i] += c
            open_hours[i] += c * hours.get(type_id, DEFAULT_HOURS)
    levels = np.zeros((n, len(tag_ids)), dtype=np.int64)
    if tag_ids:
        col = {t: k for k, t in enumerate(tag_ids)}
        for uid, tag_id, level in _raw(EngineerSkill.objects.filter(tag_id__in=tag_ids).order_by().values_list(
                "user_id", "tag_id", "level")):
            i = index.get(uid)
            if i is not None:
                levels[i, col[tag_id]] = level
    return engine.Candidates(
        ids=ids, usernames=[r[1] for r in rows],
        names=[r[2] or " ".join(x for x in (r[3], r[4]) if x) or r[1] for r in rows],
        lat=lat, lng=lng, shift=shift, on_leave=on_leave, leave_reason=reasons, open_count=count,
        open_hours=open_hours, day_hours=day, levels=levels, tags=list(tag_ids))


def _history(customer_ids: list[int | None], cands: engine.Candidates) -> np.ndarray:
    out = np.zeros((len(customer_ids), len(cands)), dtype=np.int64)
    wanted = {c for c in customer_ids if c}
    if not wanted:
        return out
    index = {int(uid): i for i, uid in enumerate(cands.ids)}
    per: dict[int, dict[int, int]] = {}
    for cust, uid, c in _raw(WorkOrder.objects.filter(customer_id__in=wanted, status__in=DONE_STATES,
                                                      assignee__isnull=False)
                             .values_list("customer_id", "assignee_id").annotate(c=Count("id")).order_by()):
        per.setdefault(cust, {})[uid] = c
    for j, cust in enumerate(customer_ids):
        for uid, c in per.get(cust, {}).items():
            i = index.get(uid)
            if i is not None:
                out[j, i] = c
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


def _suggestion(s: engine.Scores, cands, j: int, c: int, req: dict, at: datetime, est: float) -> dict:
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
    start = at + timedelta(hours=float(cands.open_hours[c]) + travel)
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
        "estimated_start": start, "estimated_finish": start + timedelta(hours=est),
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
    st = settings_for(wo)
    tag_ids = list(req)
    if cands is None or cands.tags != tag_ids:
        cands = load_candidates(at, tag_ids)
    jobs = build_jobs([wo], tag_ids, [req], [st.estimated_hours], cands)
    s = engine.score(jobs, cands)
    order = np.argsort(-s.total[0], kind="stable")
    eligible = s.eligible[0]
    limit = limit or st.top_n
    good = [int(c) for c in order if eligible[c]][:limit]
    out = [_suggestion(s, cands, 0, c, req, at, st.estimated_hours) for c in good]
    excluded, counts = [], {}
    for c in order:
        if eligible[c]:
            continue
        code = engine.exclusion(s, cands, 0, int(c))
        counts[code] = counts.get(code, 0) + 1
        if len(excluded) < excluded_limit:
            words = _exclusion_words(code, cands, int(c), req, st.estimated_hours)
            excluded.append({"username": cands.usernames[c], "name": cands.names[c], "reason": code,
                             "explanation": f"{cands.names[c]}: {words}"})
    return Suggestions(wo, {name: level for name, level in req.values()}, st.estimated_hours, st.mode, out,
                       excluded, counts)


# ---- assigning ---------------------------------------------------------------------------------------

def _record(wo: WorkOrder, actor: User, at: datetime, data: dict) -> TimelineEvent:
    return TimelineEvent.objects.create(work_order=wo, at=at, actor=actor, kind=EVENT_DISPATCH, data=data)


def do_dispatch_work_order(*, actor: User, wo: WorkOrder, assignee: str | None = None, reason: str = "",
                           mode: str = "best") -> WorkOrder:
    """Assign `wo` to the best suggestion (mode "best"), the next in the team's round
    robin (mode "round_robin"), or to `assignee` (an override when it is not the best,
    which needs a `reason`). The reasons go on the timeline with the assign."""
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
    data = {"mode": mode if not override else "override", "assignee": assignee,
            "explanation": (chosen or excluded or {}).get("explanation", assignee),
            "score": (chosen or {}).get("score"), "parts": (chosen or {}).get("parts"),
            "suggested": [x["explanation"] for x in sug.suggestions[:3]],
            "excluded": [x["explanation"] for x in sug.excluded[:5]]}
    if override:
        data.update(override=True, reason=reason, best=best["username"] if best else None)
    if chosen and chosen.get("estimated_start"):
        data["estimated_start"] = chosen["estimated_start"].isoformat()
        data["estimated_finish"] = chosen["estimated_finish"].isoformat()
    note = reason if override else data["explanation"]
    with transaction.atomic():
        _record(wo, actor, at, data)
        do_transition(actor=actor, wo=wo, action="assign", data={"assignee": assignee, "note": note[:2000]})
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
    """What a work order's dispatch setting asks for on arrival: assign the best, round
    robin, or nothing (suggest: the dispatcher decides)."""
    st = settings_for(wo)
    if st.mode == Mode.AUTO:
        return do_dispatch_work_order(actor=actor, wo=wo, mode="best")
    if st.mode == Mode.ROUND_ROBIN:
        return do_dispatch_work_order(actor=actor, wo=wo, mode="round_robin")
    return None


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
    rows = list(SkillRequirement.objects.select_related("tag"))
    cache = {(r.team_id, r.wo_type_id): r for r in DispatchSetting.objects.all()}
    reqs = [requirements_for(w, rows) for w in wos]
    hours = [settings_for(w, cache).estimated_hours for w in wos]
    tag_ids = sorted({t for r in reqs for t in r})
    cands = load_candidates(at, tag_ids)
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
            _record(wo, actor, at, {"mode": "batch", "assignee": item["assignee"],
                                    "explanation": item.get("explanation", "")[:500]})
            do_transition(actor=actor, wo=wo, action="assign",
                          data={"assignee": item["assignee"], "note": _("Batch assignment")})
            done.append(wo)
    return done


def unassigned_backlog(user, limit: int = BATCH_MAX) -> list[WorkOrder]:
    from closeloop.workorders.selectors import visible_work_orders

    return list(visible_work_orders(user).filter(Q(status=S.NEW), assignee__isnull=True)
                .select_related("wo_type", "site", "asset", "customer", "team").order_by("id")[:limit])
