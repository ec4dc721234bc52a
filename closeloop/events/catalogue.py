"""The event types a subscription can choose, and how a timeline event maps to one.

The timeline (workorders.timeline) is the single source: every change to a work order
appends an event there, in the change's transaction. `type_of` names it; SLA warnings and
breaches (sla.hooks.state_listeners, not timeline events) are produced as `sla.warning` and
`sla.breach`."""

from django.utils.translation import gettext_lazy as _

from closeloop.workorders.lifecycle import TRANSITIONS

ALL = "*"

_BASE = [
    ("work_order.created", _("Work order created")),
    ("maintenance.generated", _("Maintenance work order generated (a preventive type's work order created)")),
    ("work_order.updated", _("Work order fields changed")),
    ("work_order.commented", _("Comment added")),
    ("work_order.attachment", _("Attachment added")),
    ("work_order.linked", _("Work orders linked")),
    ("work_order.external_ref", _("External reference added")),
]
_TAIL = [
    ("sla.policy", _("SLA policy chosen")),
    ("sla.warning", _("SLA warning")),
    ("sla.breach", _("SLA breach")),
    ("sla.escalated", _("SLA escalation level fired")),
    ("dispatch", _("Dispatch (suggestion or automatic assignment)")),
    ("rule.fired", _("Rule fired")),
    ("approval.requested", _("Approval requested")),
    ("approval.decided", _("Approval decided (a step)")),
    ("approval.finished", _("Approval finished (approved, rejected, bypassed)")),
    ("handoff", _("Cross-department handoff")),
    ("gate.closure_form", _("Closure form submitted")),
    ("gate.step", _("Process step recorded")),
    ("part.issued", _("Part issued (used on the work order)")),
    ("fieldwork.checkin", _("Engineer checked in")),
    ("fieldwork.evidence", _("Evidence (photos, reviews)")),
    ("fieldwork.signature", _("Customer signature")),
    ("portal", _("Customer portal action")),
    ("inbound", _("Message from a connected system")),
]


def choices() -> list[tuple[str, str]]:
    """(type, label) in the order the console shows them."""
    transitions = [(f"work_order.{a}", _("Transition: %(label)s") % {"label": t.label})
                   for a, t in TRANSITIONS.items()]
    return _BASE[:1] + [("work_order.assigned", _("Assigned (the assign transition)"))] + _BASE[1:] \
        + [t for t in transitions if t[0] != "work_order.assign"] + _TAIL


def known() -> set[str]:
    return {k for k, _label in choices()}


_KIND = {"created": "work_order.created", "updated": "work_order.updated", "comment": "work_order.commented",
         "attachment": "work_order.attachment", "link": "work_order.linked",
         "external_ref": "work_order.external_ref", "sla": "sla.policy", "escalation": "sla.escalated",
         "dispatch": "dispatch", "rule": "rule.fired", "handoff": "handoff", "checkin": "fieldwork.checkin",
         "evidence": "fieldwork.evidence", "signature": "fieldwork.signature", "portal": "portal",
         "integration": "inbound"}
#: Not sent: deliveries of notifications are not events of the work order.
SKIPPED_KINDS = {"notification"}
#: The approval request's final statuses (approvals.models.RequestStatus) and a bypass.
FINISHED_APPROVALS = {"approved", "rejected", "cancelled", "withdrawn", "expired", "bypassed"}


def type_of(kind: str, action: str, data: dict) -> str | None:
    """The event type of a timeline event (None: not sent)."""
    if kind in SKIPPED_KINDS:
        return None
    if kind == "transition":
        return "work_order.assigned" if action == "assign" else f"work_order.{action}"
    if kind == "approval":
        ev = (data or {}).get("event")
        if ev == "requested":
            return "approval.requested"
        if ev == "decision":
            return "approval.decided"
        return "approval.finished" if ev in FINISHED_APPROVALS else None
    if kind == "gate":
        d = data or {}
        if "part" in d:
            return "part.issued"
        if "closure_form" in d:
            return "gate.closure_form"
        return "gate.step"
    return _KIND.get(kind)


def aliases(event_type: str) -> tuple[str, ...]:
    """Other types one event also answers to (a preventive work order's creation is also
    maintenance.generated: the fan-out decides with the work order's type in hand)."""
    return ("maintenance.generated",) if event_type == "work_order.created" else ()
