"""Every write of maintenance plans: create, update, delete (one transaction each, audited).

Input uses public keys (docs/maintenance.md): `asset` is a serial number, `type` a work order
type key, `team` a team code, `assignee` a username, `calendar` a business calendar key,
`parts` a list of {"part_id", "quantity"}.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role, Team, User
from closeloop.audit.services import record_change
from closeloop.core.clock import now
from closeloop.core.errors import FieldProblem, Forbidden, PreconditionFailed, ValidationFailed
from closeloop.customers.models import Asset
from closeloop.workorders.models import Priority, WorkOrderType

from . import engine, sources
from .models import AgeBasis, Anchor, OnOpen, Plan, Scope, Trigger, Unit

MANAGE_ROLES = {Role.ADMIN, Role.MANAGER, Role.DISPATCHER}
MAX_CHECKLIST, MAX_PARTS, STEP_MAX = 50, 50, 200
FIELDS = {
    "name",
    "enabled",
    "scope",
    "asset",
    "model",
    "batch",
    "trigger",
    "every",
    "unit",
    "rrule",
    "anchor",
    "start_date",
    "calendar",
    "lead_days",
    "meter_kind",
    "meter_every",
    "condition",
    "alarm_kind",
    "alarm_count",
    "window_days",
    "age_years",
    "age_basis",
    "type",
    "title",
    "checklist",
    "custom",
    "parts",
    "priority",
    "team",
    "assignee",
    "on_open",
}


def may_manage(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.role in MANAGE_ROLES))


may_read = may_manage


def _require(actor) -> None:
    if not may_manage(actor):
        raise Forbidden(_("Only dispatchers, managers and administrators maintain maintenance plans."))


def snapshot(plan: Plan) -> dict:
    return {
        "name": plan.name,
        "enabled": plan.enabled,
        "scope": plan.scope,
        "asset": plan.asset.serial_number if plan.asset_id else None,
        "model": plan.asset_model,
        "batch": plan.batch,
        "trigger": plan.trigger,
        "every": plan.every,
        "unit": plan.unit,
        "rrule": plan.rrule,
        "anchor": plan.anchor,
        "start_date": plan.start_date.isoformat() if plan.start_date else None,
        "calendar": plan.calendar_key,
        "lead_days": plan.lead_days,
        "meter_kind": plan.meter_kind,
        "meter_every": plan.meter_every,
        "condition": plan.condition_id,
        "alarm_kind": plan.alarm_kind,
        "alarm_count": plan.alarm_count,
        "window_days": plan.window_days,
        "age_years": plan.age_years,
        "age_basis": plan.age_basis,
        "type": plan.wo_type.key,
        "title": plan.title_template,
        "checklist": list(plan.checklist),
        "parts": list(plan.parts),
        "custom": dict(plan.custom),
        "priority": plan.priority,
        "team": plan.team.code if plan.team_id else None,
        "assignee": plan.assignee.username if plan.assignee_id else None,
        "on_open": plan.on_open,
    }


def _text(problems, data, name, *, max_len, required=False) -> str:
    v = data.get(name, "")
    if v is None:
        v = ""
    if not isinstance(v, str):
        problems.append(FieldProblem(name, _("Must be text.")))
        return ""
    v = v.strip()
    if required and not v:
        problems.append(FieldProblem(name, _("This field is required."), "required"))
    elif len(v) > max_len:
        problems.append(FieldProblem(name, _("At most %(n)d characters.") % {"n": max_len}))
    return v


def _int(problems, data, name, *, lo, hi, required=False) -> int | None:
    v = data.get(name)
    if v in (None, ""):
        if required:
            problems.append(FieldProblem(name, _("This field is required."), "required"))
        return None
    if isinstance(v, bool) or not isinstance(v, int | str):
        problems.append(FieldProblem(name, _("A whole number from %(lo)d to %(hi)d.") % {"lo": lo, "hi": hi}))
        return None
    try:
        n = int(v)
    except ValueError:
        n = None
    if n is None or not lo <= n <= hi:
        problems.append(FieldProblem(name, _("A whole number from %(lo)d to %(hi)d.") % {"lo": lo, "hi": hi}))
        return None
    return n


def _choice(problems, data, name, choices, default) -> str:
    v = data.get(name) or default
    if v not in choices.values:
        problems.append(FieldProblem(name, _("Must be one of: %(c)s.") % {"c": ", ".join(choices.values)}))
        return default
    return v


def _apply(problems: list, plan: Plan, data: dict) -> None:
    """Validate `data` (a complete plan) onto `plan`."""
    from datetime import date

    unknown = set(data) - FIELDS
    problems.extend(FieldProblem(k, _("Unknown field."), "unknown") for k in sorted(unknown))
    plan.name = _text(problems, data, "name", max_len=100, required=True)
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(FieldProblem("enabled", _("Must be true or false.")))
    plan.enabled = bool(enabled)
    plan.scope = _choice(problems, data, "scope", Scope, Scope.ASSET)
    plan.asset = None
    plan.asset_model = _text(problems, data, "model", max_len=100)
    plan.batch = _text(problems, data, "batch", max_len=100)
    if plan.scope == Scope.ASSET:
        serial = _text(problems, data, "asset", max_len=100, required=True)
        if serial:
            plan.asset = Asset.objects.filter(serial_number=serial).first()
            if plan.asset is None:
                problems.append(FieldProblem("asset", _("No asset %(s)s.") % {"s": serial}, "not_found"))
        plan.asset_model = plan.batch = ""
    elif plan.scope == Scope.MODEL:
        if not plan.asset_model:
            problems.append(FieldProblem("model", _("This field is required."), "required"))
        plan.batch = ""
    else:
        if not plan.batch:
            problems.append(FieldProblem("batch", _("This field is required."), "required"))
        plan.asset_model = ""
    plan.trigger = _choice(problems, data, "trigger", Trigger, Trigger.CALENDAR)
    plan.every = _int(problems, data, "every", lo=1, hi=3650)
    plan.unit = data.get("unit") or ""
    if plan.unit and plan.unit not in Unit.values:
        problems.append(FieldProblem("unit", _("Must be one of: %(c)s.") % {"c": ", ".join(Unit.values)}))
    plan.rrule = _text(problems, data, "rrule", max_len=300)
    if plan.rrule.upper().startswith("RRULE:"):
        plan.rrule = plan.rrule[6:]
    plan.anchor = _choice(problems, data, "anchor", Anchor, Anchor.FIXED)
    plan.start_date = None
    if data.get("start_date") not in (None, ""):
        try:
            plan.start_date = date.fromisoformat(str(data["start_date"]))
        except ValueError:
            problems.append(FieldProblem("start_date", _("A date, YYYY-MM-DD.")))
    plan.calendar_key = _text(problems, data, "calendar", max_len=40)
    if plan.calendar_key:
        from closeloop.sla.models import BusinessCalendar

        if not BusinessCalendar.objects.filter(key=plan.calendar_key).exists():
            problems.append(
                FieldProblem(
                    "calendar", _("No business calendar %(k)s.") % {"k": plan.calendar_key}, "not_found"
                )
            )
    plan.lead_days = _int(problems, data, "lead_days", lo=0, hi=365) or 0
    plan.meter_kind = _text(problems, data, "meter_kind", max_len=60)
    plan.meter_every = None
    if data.get("meter_every") not in (None, ""):
        try:
            plan.meter_every = float(data["meter_every"])
            if not 0 < plan.meter_every <= 1e9:
                raise ValueError
        except (TypeError, ValueError):
            problems.append(FieldProblem("meter_every", _("A number above 0.")))
            plan.meter_every = None
    plan.condition_id = _int(problems, data, "condition", lo=1, hi=2**31 - 1)
    plan.alarm_kind = _text(problems, data, "alarm_kind", max_len=60)
    plan.alarm_count = _int(problems, data, "alarm_count", lo=1, hi=100000)
    plan.window_days = _int(problems, data, "window_days", lo=1, hi=3650) or 30
    plan.age_years = _int(problems, data, "age_years", lo=1, hi=100)
    plan.age_basis = _choice(problems, data, "age_basis", AgeBasis, AgeBasis.INSTALL)
    # what each trigger needs
    if plan.trigger == Trigger.CALENDAR:
        if plan.rrule:
            err = engine.rrule_problem(plan.rrule)
            if err:
                problems.append(FieldProblem("rrule", _("Not a recurrence rule: %(e)s.") % {"e": err}))
            elif any(f in plan.rrule.upper() for f in ("FREQ=HOURLY", "FREQ=MINUTELY", "FREQ=SECONDLY")):
                problems.append(FieldProblem("rrule", _("Daily or less often.")))
        elif not plan.every or not plan.unit:
            problems.append(
                FieldProblem(
                    "every" if not plan.every else "unit",
                    _("Give every N days/weeks/months, or a recurrence rule."),
                    "required",
                )
            )
    elif plan.trigger == Trigger.METER:
        if not plan.meter_kind:
            problems.append(FieldProblem("meter_kind", _("This field is required."), "required"))
        if not plan.meter_every:
            problems.append(FieldProblem("meter_every", _("This field is required."), "required"))
    elif plan.trigger == Trigger.CONDITION:
        if plan.condition_id:
            if sources.telemetry_ready() and sources.condition(plan.condition_id) is None:
                problems.append(
                    FieldProblem(
                        "condition",
                        _("No telemetry condition %(id)s.") % {"id": plan.condition_id},
                        "not_found",
                    )
                )
        elif not (plan.alarm_kind and plan.alarm_count):
            problems.append(
                FieldProblem(
                    "alarm_kind" if not plan.alarm_kind else "alarm_count",
                    _("Give an alarm and how many within the window, or a telemetry condition."),
                    "required",
                )
            )
    elif plan.trigger == Trigger.AGE and not plan.age_years:
        problems.append(FieldProblem("age_years", _("This field is required."), "required"))
    # what it generates
    key = data.get("type")
    wo_type = WorkOrderType.objects.filter(key=key, active=True).first() if isinstance(key, str) else None
    if wo_type is not None:
        plan.wo_type = wo_type
    else:
        problems.append(
            FieldProblem(
                "type",
                _("No active work order type %(k)s.") % {"k": key or ""},
                "required" if not key else "not_found",
            )
        )
    plan.title_template = _text(problems, data, "title", max_len=200) or "{plan} · {asset}"
    checklist = data.get("checklist") or []
    if isinstance(checklist, str):
        checklist = [line.strip() for line in checklist.splitlines() if line.strip()]
    if (
        not isinstance(checklist, list)
        or len(checklist) > MAX_CHECKLIST
        or not all(isinstance(s, str) and 0 < len(s.strip()) <= STEP_MAX for s in checklist)
    ):
        problems.append(
            FieldProblem(
                "checklist",
                _("A list of at most %(n)d steps of at most %(m)d characters.")
                % {"n": MAX_CHECKLIST, "m": STEP_MAX},
            )
        )
        checklist = []
    plan.checklist = [s.strip() for s in checklist]
    plan.parts = _parts(problems, data.get("parts"))
    plan.custom = {}
    custom = data.get("custom") or {}
    if not isinstance(custom, dict):
        problems.append(FieldProblem("custom", _("Must be an object of field values.")))
    elif wo_type is not None:
        from closeloop.workorders.fields import clean_custom

        try:
            plan.custom = clean_custom(wo_type, custom)
        except ValidationFailed as e:
            problems.extend(e.problems)
    plan.priority = data.get("priority") or Priority.NORMAL
    if plan.priority not in Priority.values:
        problems.append(
            FieldProblem("priority", _("Must be one of: %(c)s.") % {"c": ", ".join(Priority.values)})
        )
    plan.team = None
    if data.get("team"):
        plan.team = Team.objects.filter(code=data["team"]).first() if isinstance(data["team"], str) else None
        if plan.team is None:
            problems.append(FieldProblem("team", _("No team %(c)s.") % {"c": data["team"]}, "not_found"))
    plan.assignee = None
    if data.get("assignee"):
        name = data["assignee"]
        plan.assignee = (
            User.objects.filter(username=name, role=Role.ENGINEER, is_active=True).first()
            if isinstance(name, str)
            else None
        )
        if plan.assignee is None:
            problems.append(FieldProblem("assignee", _("Only an active engineer can be assigned.")))
    plan.on_open = _choice(problems, data, "on_open", OnOpen, OnOpen.SKIP)


def _parts(problems: list, value) -> list[dict]:
    if value in (None, ""):
        return []
    if isinstance(value, str):  # the form's "part id × quantity" lines: "12 2"
        rows = []
        for i, line in enumerate(x for x in value.splitlines() if x.strip()):
            bits = line.replace("×", " ").replace("x", " ").replace(",", " ").split()
            if len(bits) != 2:
                problems.append(
                    FieldProblem("parts", _("Line %(n)d: a part id and a quantity.") % {"n": i + 1})
                )
                return []
            rows.append({"part_id": bits[0], "quantity": bits[1]})
        value = rows
    if not isinstance(value, list) or len(value) > MAX_PARTS:
        problems.append(FieldProblem("parts", _("A list of at most %(n)d parts.") % {"n": MAX_PARTS}))
        return []
    out = []
    for i, p in enumerate(value):
        try:
            if not isinstance(p, dict) or set(p) - {"part_id", "quantity"}:
                raise ValueError
            pid, qty = int(p["part_id"]), float(p["quantity"])
            if pid < 1 or not 0 < qty <= 1e6:
                raise ValueError
        except (KeyError, TypeError, ValueError):
            problems.append(FieldProblem(f"parts[{i}]", _("A part id and a quantity above 0.")))
            continue
        out.append({"part_id": pid, "quantity": int(qty) if qty == int(qty) else qty})
    return out


def do_create_plan(*, actor: User, data: dict) -> Plan:
    _require(actor)
    problems: list[FieldProblem] = []
    t = now()
    plan = Plan(owner=actor, created_at=t, updated_at=t)
    _apply(problems, plan, data)
    if problems:
        raise ValidationFailed(problems)
    with transaction.atomic():
        plan.next_check_at = t
        plan.save()
        record_change(actor=actor, kind="maintenance_plan", obj=plan, before=None, after=snapshot(plan))
    return plan


def do_update_plan(*, actor: User, plan: Plan, data: dict, expected_version: int | None = None) -> Plan:
    """`data` may be partial (API PATCH): it is laid over the plan's current values."""
    _require(actor)
    if expected_version is not None and expected_version != plan.version:
        raise PreconditionFailed(
            _("The plan changed since you loaded it (now version %(v)d).") % {"v": plan.version}
        )
    before = snapshot(plan)
    merged = {**before, **data}
    problems: list[FieldProblem] = []
    _apply(problems, plan, merged)
    if problems:
        raise ValidationFailed(problems)
    with transaction.atomic():
        t = now()
        plan.updated_at = t
        plan.next_check_at = t
        plan.save(
            update_fields=[
                f.name
                for f in Plan._meta.concrete_fields
                if f.name
                not in ("id", "owner", "version", "created_at", "leased_until", "last_run_at", "last_error")
            ]
        )
        Plan.objects.filter(pk=plan.pk).update(version=F("version") + 1)
        plan.version += 1
        record_change(actor=actor, kind="maintenance_plan", obj=plan, before=before, after=snapshot(plan))
    return plan


def do_delete_plan(*, actor: User, plan: Plan) -> None:
    """A plan that generated work is disabled rather than deleted (its history stays)."""
    _require(actor)
    with transaction.atomic():
        before = snapshot(plan)
        if plan.occurrences.exists():
            Plan.objects.filter(pk=plan.pk).update(enabled=False, updated_at=now(), version=F("version") + 1)
            record_change(
                actor=actor,
                kind="maintenance_plan",
                obj=plan,
                before=before,
                after={**before, "enabled": False},
            )
            return
        pk, label = plan.pk, str(plan)
        plan.delete()
        record_change(actor=actor, kind="maintenance_plan", obj_id=pk, label=label, before=before, after=None)
