"""Presentation of work orders in the console: colours, icons, the loop bar.

Only how things look lives here; what a user may do comes from
workorders.permissions through the views.
"""

from dataclasses import dataclass
from datetime import datetime

from django import template

from closeloop.workorders.fields import all_definitions
from closeloop.workorders.lifecycle import STATE_LABELS, TRANSITIONS, S
from closeloop.workorders.models import LinkKind, Priority

register = template.Library()

#: Tabler colour per state (badge "bg-<c>-lt", timeline icon "bg-<c>-lt").
STATE_COLORS = {
    S.NEW: "blue",
    S.ASSIGNED: "indigo",
    S.ACCEPTED: "cyan",
    S.EN_ROUTE: "azure",
    S.ON_SITE: "teal",
    S.IN_PROGRESS: "purple",
    S.WAITING_CUSTOMER: "yellow",
    S.WAITING_PARTS: "orange",
    S.RESOLVED: "lime",
    S.CONFIRMED: "green",
    S.INVOICED: "pink",
    S.CLOSED: "dark",
    S.CANCELLED: "red",
}

PRIORITY_CLASSES = {
    Priority.LOW: "bg-secondary-lt",
    Priority.NORMAL: "bg-blue-lt",
    Priority.HIGH: "bg-orange-lt",
    Priority.URGENT: "bg-red text-red-fg",
}

#: Icons (names listed in static/src/icons.txt) per timeline event.
ACTION_ICONS = {
    "assign": "user-check",
    "accept": "eye-check",
    "depart": "car",
    "arrive": "map-pin",
    "start": "tool",
    "complete": "circle-check",
    "confirm": "signature",
    "invoice": "receipt",
    "close": "lock",
    "override_close": "lock",
    "wait": "hourglass",
    "resume": "player-play",
    "cancel": "circle-x",
    "reopen": "refresh",
}
KIND_ICONS = {
    "created": "file-plus",
    "updated": "pencil",
    "comment": "message",
    "attachment": "paperclip",
    "email": "mail",
    "link": "link",
    "external_ref": "external-link",
    # Kinds other apps write (their icon on the timeline, not a bare dot).
    "sla": "hourglass",
    "escalation": "alert-triangle",
    "rule": "adjustments",
    "dispatch": "user-check",
    "notification": "bell",
    "approval": "checklist",
    "gate": "circle-check",
    "checkin": "map-pin",
    "evidence": "camera",
    "signature": "signature",
    "handoff": "arrows-exchange",
    "portal": "user",
    "integration": "external-link",
}

#: The main road of the loop, with the milestone column that dates each step.
LOOP = [
    (S.NEW, "created_at"),
    (S.ASSIGNED, "assigned_at"),
    (S.ACCEPTED, "accepted_at"),
    (S.EN_ROUTE, "departed_at"),
    (S.ON_SITE, "arrived_at"),
    (S.IN_PROGRESS, "started_at"),
    (S.RESOLVED, "resolved_at"),
    (S.CONFIRMED, "confirmed_at"),
    (S.INVOICED, "invoiced_at"),
    (S.CLOSED, "closed_at"),
]


@register.filter
def state_color(status: str) -> str:
    return STATE_COLORS.get(status, "secondary")


@register.filter
def state_label(status: str):
    return STATE_LABELS.get(status, status)


@register.filter
def priority_class(priority: str) -> str:
    return PRIORITY_CLASSES.get(priority, "bg-secondary-lt")


@register.filter
def team_name(code) -> str:
    """A team code stored on an older event -> the team's name (its code if since deleted)."""
    from closeloop.accounts.models import Team

    code = str(code or "")
    return Team.objects.filter(code=code).values_list("name", flat=True).first() or code if code else ""


@register.filter
def link_kind(kind: str):
    """A link's kind as words ("repeat" -> "Repeat of"; a kind since removed as it is stored)."""
    return dict(LinkKind.choices).get(kind, kind)


@register.filter
def action_label(action: str):
    t = TRANSITIONS.get(action)
    return t.label if t else action


@register.filter
def event_icon(event) -> str:
    if event.kind == "transition":
        return ACTION_ICONS.get(event.action, "arrow-right")
    return KIND_ICONS.get(event.kind, "point")


@register.filter
def event_color(event) -> str:
    if event.kind == "transition":
        return STATE_COLORS.get(event.to_state, "secondary")
    if event.kind == "created":
        return "blue"
    if event.kind == "comment" and not event.public:
        return "yellow"
    return "secondary"


@dataclass
class LoopStep:
    state: str
    label: object
    at: datetime | None
    current: bool


@register.simple_tag
def loop_steps(wo) -> list[LoopStep]:
    """The steps of the loop for the header bar; the current one is marked."""
    status = wo.status
    if status in (S.WAITING_CUSTOMER, S.WAITING_PARTS):
        status = wo.resume_to or S.IN_PROGRESS
    states = [s for s, _col in LOOP]
    if status == S.CANCELLED:
        # The last step that happened before the cancellation.
        done = [s for s, col in LOOP if getattr(wo, col)]
        status = done[-1] if done else S.NEW
    current = states.index(status) if status in states else 0
    return [LoopStep(s, STATE_LABELS[s], getattr(wo, col), i == current) for i, (s, col) in enumerate(LOOP)]


@register.simple_tag
def custom_values(wo) -> list[tuple[str, object]]:
    """(label, value) for each custom field that has a value, in the type's order; a deactivated field's
    old value keeps its label, a number its unit."""
    values = dict(wo.custom or {})
    out = []
    for f in all_definitions(wo.wo_type):
        if f.key in values:
            v = values.pop(f.key)
            out.append((f.label, f"{v} {f.unit}" if f.unit and v not in (None, "") else v))
    out.extend((k, v) for k, v in values.items())  # fields since deleted from the type
    return out


@register.simple_tag
def may_create_work_orders(user) -> bool:
    from closeloop.workorders import permissions

    return bool(user and user.is_authenticated and permissions.may_create(user))


@register.simple_tag
def split_actions(actions) -> dict:
    """Main actions (the loop's next step) and side ones (wait, cancel, reopen), for the actions card."""
    main = [t for t in actions if t.style not in ("warning", "danger")]
    side = [t for t in actions if t.style in ("warning", "danger")]
    return {"main": main, "side": side}


@register.filter
def action_icon(action: str) -> str:
    return ACTION_ICONS.get(action, "arrow-right")
