"""Handoffs: when a work order changes hands (an action with a handoff requirement for its
type), the fields the next team needs must be filled; the handoff is recorded (timeline kind
"handoff"), the receiving team is told and may rate it. Lifecycle guard and effect (installed
by approvals.hooks), the rating, and the requirements managers keep. Approval flows and
requests are in approvals.services.
"""

from __future__ import annotations

import re

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from closeloop.accounts.models import Role, Team
from closeloop.audit.services import record_change, snapshot
from closeloop.core import refcache
from closeloop.core.clock import now
from closeloop.core.errors import Conflict, FieldProblem, Forbidden, ValidationFailed
from closeloop.notify import messages as texts
from closeloop.notify.services import notify
from closeloop.workorders import timeline
from closeloop.workorders.models import TimelineEvent, WorkOrderType

from .models import Handoff, HandoffRequirement
from .services import ACTION_KEY, COMMENT_MAX, may_design

HANDOFF_FIELDS = ("customer", "site", "asset", "contact", "fault_code", "description", "resolution",
                  "invoice_number", "asset.serial_number")
HANDOFF_REASONS = ("complete", "clear", "missing_info", "wrong_info", "late", "rework")
#: Fields that point at another record: recorded (and shown) by name, never by id.
_REFERENCES = ("customer", "site", "asset", "contact")


def field_label(key: str, labels: dict | None = None) -> str:
    """What people see for a handoff field key: the work order field's label, the custom
    field's label (its type's, when known), else the key."""
    from closeloop.workorders.models import WorkOrder

    if key == "asset.serial_number":
        return str(gettext_lazy("Serial number"))
    if key.startswith("custom."):
        return (labels or {}).get(key[7:]) or key[7:].replace("_", " ")
    try:
        return str(WorkOrder._meta.get_field(key).verbose_name).capitalize()
    except Exception:  # an unknown key (a field since removed) is shown as it is
        return key


#: Approval actions that are not lifecycle transitions (flows may name any key; these are the product's own).
OTHER_ACTIONS = {
    "purchase": gettext_lazy("Purchase request"),
    "purchase_part": gettext_lazy("Parts purchase"),
}


def action_label(action: str) -> str:
    """A lifecycle action's (or an approval action's) translated label, never its key; an action
    the product does not know (a flow's own key) is shown with spaces for underscores."""
    from closeloop.workorders.lifecycle import TRANSITIONS

    t = TRANSITIONS.get(action)
    if t is not None:
        return str(t.label)
    if action in OTHER_ACTIONS:
        return str(OTHER_ACTIONS[action])
    return action.replace("_", " ")


def custom_labels(wo_type) -> dict:
    from closeloop.workorders.fields import definitions

    return {f.key: f.label for f in definitions(wo_type)} if wo_type is not None else {}


def _reference_name(key: str, value) -> str:
    """A customer/site/asset/contact id (as given to the transition, or as older handoffs
    recorded it) → its name."""
    from closeloop.customers.models import Asset, Contact, Customer, Site

    model = {"customer": Customer, "site": Site, "asset": Asset, "contact": Contact}[key]
    if isinstance(value, model):
        return str(value)
    obj = model.objects.filter(pk=value).first() if str(value).isdigit() else None
    return str(obj) if obj is not None else str(value)


def _display_value(wo, key: str, data: dict) -> str:
    """The value a handoff records: names for references, the text for the rest."""
    if key in _REFERENCES and not (key in data and data[key] not in (None, "")):
        obj = getattr(wo, key) if getattr(wo, f"{key}_id") else None
        return str(obj)[:200] if obj is not None else ""
    v = _field_value(wo, key, data)
    if key in _REFERENCES and v not in (None, ""):
        return _reference_name(key, v)[:200]
    return str(v if v is not None else "")[:200]


def handoff_fields(h) -> list[dict]:
    """[{key, label, value}] of a recorded handoff, for pages and the API, in the reader's
    language. Handoffs recorded before names were stored hold ids for references: shown by name."""
    labels = custom_labels(h.work_order.wo_type) if h.work_order_id and h.work_order.wo_type_id else {}
    out = []
    for key, value in (h.values or {}).items():
        if key in _REFERENCES and str(value).isdigit():
            value = _reference_name(key, value)
        out.append({"key": key, "label": field_label(key, labels), "value": value})
    return out


def _field_value(wo, key: str, data: dict):
    if key in data and data[key] not in (None, ""):
        return data[key]
    if key.startswith("custom."):
        return (wo.custom or {}).get(key[7:])
    if key == "asset.serial_number":
        return wo.asset.serial_number if wo.asset_id else None
    if key in ("customer", "site", "asset", "contact"):
        return getattr(wo, f"{key}_id")
    return getattr(wo, key, None)


_requirements = refcache.RefCache("approvals.handoffs", "approvals.HandoffRequirement", "accounts.Team")


def handoff_requirements(wo_type_id, action: str) -> list[HandoffRequirement]:
    """Asked on every action (core.refcache): read them, never change or save one."""
    return _requirements.get((wo_type_id, action), lambda: list(
        HandoffRequirement.objects.filter(action=action, active=True)
        .filter(Q(wo_type_id=wo_type_id) | Q(wo_type__isnull=True)).select_related("to_team")))


def handoff_guard(ctx) -> None:
    t = ctx.transition
    if t is None:
        return
    problems = []
    reqs = handoff_requirements(ctx.wo.wo_type_id, t.action)
    ctx.extra["handoff_requirements"] = reqs  # handoff_effect() records them
    for r in reqs:
        for key in r.fields:
            v = _field_value(ctx.wo, key, ctx.data)
            if v in (None, "", [], {}):
                msg = (_("Required to hand over to %(t)s.") % {"t": r.to_team.name}) if r.to_team_id else \
                    _("Required for this handoff.")
                if key not in [p.field for p in problems]:
                    problems.append(FieldProblem(key, msg, "handoff_required"))
    if problems:
        raise ValidationFailed(problems, _("Missing handoff fields: %(f)s") % {
            "f": ", ".join(p.field for p in problems)})


def handoff_effect(ctx) -> None:
    t = ctx.transition
    if t is None:
        return
    reqs = ctx.extra.get("handoff_requirements")
    if reqs is None:
        reqs = handoff_requirements(ctx.wo.wo_type_id, t.action)
    for r in reqs:
        values = {k: _display_value(ctx.wo, k, ctx.data) for k in r.fields}
        h = Handoff.objects.create(work_order=ctx.wo, requirement=r, action=t.action, from_team=ctx.wo.team,
                                   to_team=r.to_team, by=ctx.actor, values=values, created_at=ctx.at)
        timeline.append_event(ctx.wo, TimelineEvent.Kind.HANDOFF, actor=ctx.actor, at=ctx.at, action=t.action, data={
            "event": "handoff", "handoff": h.pk, "from": ctx.wo.team.code if ctx.wo.team_id else "",
            "to": r.to_team.code if r.to_team_id else "", "values": values,
            "from_name": ctx.wo.team.name if ctx.wo.team_id else "", "to_name": r.to_team.name if r.to_team_id else ""})
        if r.to_team_id:
            notify(key=f"handoff:{h.pk}", event="handoff.received", work_order=ctx.wo,
                   recipients=[{"team": r.to_team.code, "who": "members"}],
                   message=texts.text(gettext_noop("%(c)s was handed over to %(t)s; please rate the handoff"),
                                      c=ctx.wo.code, t=r.to_team.name))


def may_rate(user, h: Handoff) -> bool:
    if user.is_superuser or user.role in (Role.ADMIN, Role.MANAGER):
        return True
    if h.to_team_id is None:
        return user.role == Role.FINANCE
    return user.team_id == h.to_team_id or h.to_team.supervisor_id == user.pk


def do_rate_handoff(*, actor, h: Handoff, score, reasons=None, comment: str = "") -> Handoff:
    problems = []
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        problems.append(FieldProblem("score", _("A whole number from 1 to 5.")))
    reasons = reasons or []
    if not isinstance(reasons, list) or any(r not in HANDOFF_REASONS for r in reasons):
        problems.append(FieldProblem("reasons", _("Reasons are among: %(r)s.") % {"r": ", ".join(HANDOFF_REASONS)}))
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        problems.append(FieldProblem("comment", _("At most %(n)d characters.") % {"n": COMMENT_MAX}))
    if problems:
        raise ValidationFailed(problems)
    if not may_rate(actor, h):
        raise Forbidden(_("Only the receiving department rates this handoff."))
    with transaction.atomic():
        h = Handoff.objects.select_for_update().get(pk=h.pk)
        if h.rated_at is not None:
            raise Conflict(_("This handoff is rated already."))
        t = now()
        h.score, h.reasons, h.comment, h.rated_by, h.rated_at = score, sorted(set(reasons)), comment, actor, t
        h.save(update_fields=["score", "reasons", "comment", "rated_by", "rated_at"])
        timeline.append_event(h.work_order, TimelineEvent.Kind.HANDOFF, actor=actor, at=t, action=h.action, data={
            "event": "handoff_rated", "handoff": h.pk, "score": score, "reasons": h.reasons,
            "comment": comment})
    return h


def do_save_handoff_requirement(*, actor, data: dict, req: HandoffRequirement | None = None) -> HandoffRequirement:
    if not may_design(actor):
        raise Forbidden(_("Only managers and administrators configure handoffs."))
    problems = [FieldProblem(k, _("Unknown field."), "unknown") for k in sorted(set(data) - {
        "action", "type", "to_team", "fields", "active"})]
    action = data.get("action", req.action if req else "")
    if not ACTION_KEY.match(action or ""):
        problems.append(FieldProblem("action", _("A lifecycle action, e.g. invoice.")))
    wo_type = req.wo_type if req else None
    if "type" in data:
        wo_type = WorkOrderType.objects.filter(key=data["type"]).first() if data["type"] else None
        if data["type"] and wo_type is None:
            problems.append(FieldProblem("type", _("No type %(t)s.") % {"t": data["type"]}, "not_found"))
    to_team = req.to_team if req else None
    if "to_team" in data:
        to_team = Team.objects.filter(code=data["to_team"]).first() if data["to_team"] else None
        if data["to_team"] and to_team is None:
            problems.append(FieldProblem("to_team", _("No team %(t)s.") % {"t": data["to_team"]}, "not_found"))
    fields = data.get("fields", req.fields if req else [])
    if not isinstance(fields, list) or not fields or len(fields) > 30:
        problems.append(FieldProblem("fields", _("A list of 1 to 30 field keys.")))
    else:
        for f in fields:
            if not (f in HANDOFF_FIELDS or (isinstance(f, str) and re.match(r"^custom\.[a-z][a-z0-9_]{0,39}$", f))):
                problems.append(FieldProblem("fields", _("Unknown field %(f)s (use %(k)s or custom.<key>).")
                                             % {"f": f, "k": ", ".join(HANDOFF_FIELDS)}))
    if problems:
        raise ValidationFailed(problems)
    before = snapshot(req, exclude=("created_at",)) if req is not None else None
    if req is None:
        req = HandoffRequirement(created_at=now())
    req.action, req.wo_type, req.to_team, req.fields = action, wo_type, to_team, list(dict.fromkeys(fields))
    req.active = bool(data.get("active", req.active if req.pk else True))
    with transaction.atomic():
        req.save()
        record_change(actor=actor, kind="handoff_requirement", obj=req, label=req.action, before=before,
                      after=snapshot(req, exclude=("created_at",)))
    return req
