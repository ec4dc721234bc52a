"""Dispatch writes: assigning work (by hand, by the dispatch setting on its own, in a batch)
through the work order's public `assign` transition (so every guard, effect and timeline
event of assign applies), and the dispatch settings managers keep. Suggestions are in
dispatch.suggestions, the facts they come from in dispatch.facts.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.db import transaction
from django.db.models import Max, Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from closeloop.accounts.models import Role, User
from closeloop.audit.services import record_change
from closeloop.core.clock import now
from closeloop.core.errors import Conflict, FieldProblem, Forbidden, ValidationFailed
from closeloop.workorders import mainline, permissions, timeline
from closeloop.workorders.lifecycle import TRANSITIONS, S
from closeloop.workorders.models import WorkOrder
from closeloop.workorders.services import apply_transition, do_transition

from . import engine
from .facts import (
    DEFAULT_HOURS,
    build_jobs,
    load_candidates,
    requirement_rows,
    requirements_for,
    setting_rows,
    settings_for,
)
from .models import DispatchSetting, Mode
from .suggestions import Suggestions, suggest, suggestion_row

EVENT_DISPATCH = "dispatch"  # TimelineEvent.kind written here
REASON_MAX = 500


def may_dispatch(user) -> bool:
    return user.is_superuser or user.role in TRANSITIONS["assign"].actors



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


#: The dispatch settings that assign on their own when work arrives (suggest leaves it to people).
ACTING_MODES = (Mode.AUTO, Mode.ROUND_ROBIN)


def dispatch_on_arrival(*, actor: User, wo: WorkOrder, at: datetime, trigger: str) -> str | None:
    """The dispatch setting acting on its own, when unassigned work arrives (created, or
    back to new when reopened without an assignee). Runs inside the event's transaction,
    after the rules (which may have assigned it already: then nothing happens).

    auto assigns the best, round_robin the next in the team; suggest leaves the choice to
    the dispatcher. Nobody available: a dispatch event says why and the work stays
    unassigned; it never makes the event itself fail. Returns the assignee's username."""
    from closeloop.core.errors import DomainError

    from .facts import setting_rows

    if not any(row[0] in ACTING_MODES for row in setting_rows().values()):
        return None  # no setting acts on its own (the common case: suggest): nothing to read
    fresh = WorkOrder.objects.filter(pk=wo.pk).values("status", "assignee_id", "team_id", "version").first()
    if fresh is None or fresh["status"] != S.NEW or fresh["assignee_id"]:
        return None
    wo.status, wo.assignee_id, wo.team_id, wo.version = (fresh["status"], fresh["assignee_id"], fresh["team_id"],
                                                         fresh["version"])
    if not mainline.wo_uses(wo, "dispatch"):
        return None  # the type's main line has no smart dispatch: people and rules assign it
    st = settings_for(wo)
    if st.mode not in ACTING_MODES:
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
    rows = requirement_rows()
    cache = setting_rows()
    reqs = [requirements_for(w, rows) for w in wos]
    hours = [settings_for(w, cache).estimated_hours for w in wos]
    tag_ids = sorted({t for r in reqs for t in r})
    cands = load_candidates(at, tag_ids, settings_rows=cache)
    jobs = build_jobs(wos, tag_ids, reqs, hours, cands)
    plan, total, s = engine.assign_batch(jobs, cands)
    items = []
    for j, (w, c) in enumerate(zip(wos, plan, strict=True)):
        if c >= 0:
            sug = suggestion_row(s, cands, j, c, reqs[j], at, hours[j])
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
                "mode": "batch", "assignee": item["assignee"], "explanation": (item.get("explanation") or "")[:500]})
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
