"""The work order state machine, as data, in one place.

Read this file to know what may happen to a work order: each `Transition` names
its action verb (the public API verb), the states it leaves from, the state it
goes to, who may take it, and what input it needs. `services.do_transition`
runs the guards, then the effects, in one transaction.

Later issues plug in here rather than editing the table: SLA clocks, closure
gates and approvals register extra guards/effects with `register_guard` /
`register_effect`.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _


class S:
    """Work order states (stored values; public in the API)."""

    NEW = "new"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    EN_ROUTE = "en_route"
    ON_SITE = "on_site"
    IN_PROGRESS = "in_progress"
    WAITING_CUSTOMER = "waiting_customer"
    WAITING_PARTS = "waiting_parts"
    RESOLVED = "resolved"
    CONFIRMED = "confirmed"
    INVOICED = "invoiced"
    CLOSED = "closed"
    CANCELLED = "cancelled"


STATE_LABELS = {
    S.NEW: _("New"),
    S.ASSIGNED: _("Assigned"),
    S.ACCEPTED: _("Accepted"),
    S.EN_ROUTE: _("On the way"),
    S.ON_SITE: _("On site"),
    S.IN_PROGRESS: _("In progress"),
    S.WAITING_CUSTOMER: _("Waiting for customer"),
    S.WAITING_PARTS: _("Waiting for parts"),
    S.RESOLVED: _("Technically complete"),
    S.CONFIRMED: _("Customer confirmed"),
    S.INVOICED: _("Invoiced"),
    S.CLOSED: _("Closed"),
    S.CANCELLED: _("Cancelled"),
}
STATES = list(STATE_LABELS)
TERMINAL = {S.CLOSED, S.CANCELLED}
PAUSED = {S.WAITING_CUSTOMER, S.WAITING_PARTS}
OPEN_STATES = [s for s in STATES if s not in TERMINAL]
#: States where field work is under way (an engineer may pause it).
FIELD_STATES = (S.ACCEPTED, S.EN_ROUTE, S.ON_SITE, S.IN_PROGRESS)

# Who may act, besides the role list of each transition:
ASSIGNEE = "@assignee"  # the engineer the work order is assigned to (not a role name)
CUSTOMER = "@own_customer"  # a contact of the work order's customer organisation (not a role name)


@dataclass(frozen=True)
class Transition:
    action: str
    label: object
    sources: tuple[str, ...]
    target: str | None  # None: computed (resume, reopen)
    actors: frozenset[str]  # roles, plus ASSIGNEE / CUSTOMER
    required: tuple[str, ...] = ()  # input fields that must be non-empty
    optional: tuple[str, ...] = ()
    milestone: str | None = None  # WorkOrder timestamp column set on first success
    style: str = "primary"  # console button style
    notes: str = ""


_DISPATCH = frozenset({"admin", "manager", "dispatcher"})
_FIELD = frozenset({"admin", ASSIGNEE})
_FINANCE = frozenset({"admin", "manager", "finance"})

TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in [
        Transition("assign", _("Assign"), (S.NEW, S.ASSIGNED, S.ACCEPTED), S.ASSIGNED, _DISPATCH,
                   required=("assignee",), optional=("team", "note"), milestone="assigned_at"),
        # "Accept" means "seen"; it is not a response for SLA purposes (depart/arrive are).
        Transition("accept", _("Accept"), (S.ASSIGNED,), S.ACCEPTED, _FIELD, optional=("note",),
                   milestone="accepted_at"),
        Transition("depart", _("Depart"), (S.ACCEPTED,), S.EN_ROUTE, _FIELD, optional=("note",),
                   milestone="departed_at"),
        Transition("arrive", _("Arrive on site"), (S.ACCEPTED, S.EN_ROUTE), S.ON_SITE, _FIELD,
                   optional=("note", "latitude", "longitude"), milestone="arrived_at"),
        # Remote work (software, phone support) may start without travel.
        Transition("start", _("Start work"), (S.ACCEPTED, S.ON_SITE), S.IN_PROGRESS, _FIELD,
                   optional=("note",), milestone="started_at"),
        Transition("complete", _("Complete (technical)"), (S.IN_PROGRESS,), S.RESOLVED, _FIELD,
                   required=("resolution",), optional=("note",), milestone="resolved_at", style="success"),
        Transition("confirm", _("Customer confirms"), (S.RESOLVED,), S.CONFIRMED,
                   frozenset({"admin", "manager", "dispatcher", CUSTOMER}), optional=("note", "rating"),
                   milestone="confirmed_at", style="success"),
        Transition("invoice", _("Post invoice"), (S.CONFIRMED,), S.INVOICED, _FINANCE,
                   required=("invoice_number",), optional=("note",), milestone="invoiced_at"),
        Transition("close", _("Close"), (S.INVOICED,), S.CLOSED, frozenset({"admin", "manager", "dispatcher"}),
                   optional=("note",), milestone="closed_at", style="success"),
        Transition("wait", _("Wait"), FIELD_STATES, None,
                   frozenset({"admin", "manager", "dispatcher", ASSIGNEE}), required=("reason",),
                   optional=("note",), style="warning",
                   notes="reason is 'customer' or 'parts'; the state it left is kept for resume"),
        Transition("resume", _("Resume"), (S.WAITING_CUSTOMER, S.WAITING_PARTS), None,
                   frozenset({"admin", "manager", "dispatcher", ASSIGNEE}), optional=("note",)),
        Transition("cancel", _("Cancel"), tuple(s for s in OPEN_STATES if s not in (S.INVOICED,)), S.CANCELLED,
                   frozenset({"admin", "manager", "dispatcher"}), required=("reason",),
                   milestone="cancelled_at", style="danger"),
        Transition("reopen", _("Reopen"), (S.RESOLVED, S.CONFIRMED, S.CLOSED, S.CANCELLED), None,
                   frozenset({"admin", "manager", "dispatcher", CUSTOMER}), required=("reason",), style="warning",
                   notes="back to assigned when someone is assigned, else new"),
    ]
}
ACTIONS = list(TRANSITIONS)

WAIT_REASONS = {"customer": S.WAITING_CUSTOMER, "parts": S.WAITING_PARTS}

# A customer contact may cancel their own request only before anyone is on the way.
CUSTOMER_CANCEL_STATES = (S.NEW, S.ASSIGNED)

# ---- extension points ------------------------------------------------------------
# guard(ctx) raises DomainError to refuse; effect(ctx) runs inside the transaction
# after the state change is written. ctx is services.TransitionContext.
Guard = Callable[[object], None]
Effect = Callable[[object], None]
_guards: dict[str, list[Guard]] = {}
_effects: dict[str, list[Effect]] = {}


@dataclass
class Hooks:
    guards: list[Guard] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)


def register_guard(action: str | None, fn: Guard) -> None:
    """Add a guard for one action, or for every action when action is None."""
    _guards.setdefault(action or "*", []).append(fn)


def register_effect(action: str | None, fn: Effect) -> None:
    _effects.setdefault(action or "*", []).append(fn)


def hooks_for(action: str) -> Hooks:
    return Hooks(_guards.get("*", []) + _guards.get(action, []), _effects.get("*", []) + _effects.get(action, []))
