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
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from closeloop.core.errors import Conflict, DomainError, FieldProblem


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
#: Work sitting with its engineer: dispatch counts it as their open work (the partial index
#: wo_open_work covers exactly these states, in this order).
ENGINEER_STATES = (S.ASSIGNED, *FIELD_STATES)

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
        # From resolved or confirmed only when the type's gates need no customer confirmation /
        # invoice (close_steps); otherwise the open step is named (StepsOpen, 409).
        Transition("close", pgettext_lazy("work order action", "Close"), (S.RESOLVED, S.CONFIRMED, S.INVOICED),
                   S.CLOSED, frozenset({"admin", "manager", "dispatcher"}),
                   optional=("note",), milestone="closed_at", style="success",
                   notes="from resolved/confirmed only when the type needs no confirmation/invoice"),
        # The way out when a gate can no longer be satisfied: admins close anyway, the reason is on
        # the timeline and in the audit log.
        Transition("override_close", _("Close with override"), (S.RESOLVED, S.CONFIRMED, S.INVOICED), S.CLOSED,
                   frozenset({"admin"}), required=("reason",), milestone="closed_at", style="danger",
                   notes="admins only: closes whatever gate or step is open; the reason is recorded"),
        Transition("wait", _("Wait"), FIELD_STATES, None,
                   frozenset({"admin", "manager", "dispatcher", ASSIGNEE}), required=("reason",),
                   optional=("note",), style="warning",
                   notes="reason is 'customer' or 'parts'; the state it left is kept for resume"),
        Transition("resume", _("Resume"), (S.WAITING_CUSTOMER, S.WAITING_PARTS), None,
                   frozenset({"admin", "manager", "dispatcher", ASSIGNEE}), optional=("note",)),
        Transition("cancel", pgettext_lazy("work order action", "Cancel"), tuple(s for s in OPEN_STATES if s not in (S.INVOICED,)), S.CANCELLED,
                   frozenset({"admin", "manager", "dispatcher"}), required=("reason",),
                   milestone="cancelled_at", style="danger"),
        Transition("reopen", pgettext_lazy("work order action", "Reopen"), (S.RESOLVED, S.CONFIRMED, S.CLOSED, S.CANCELLED), None,
                   frozenset({"admin", "manager", "dispatcher", CUSTOMER}), required=("reason",), style="warning",
                   notes="back to assigned when someone is assigned, else new"),
    ]
}
ACTIONS = list(TRANSITIONS)

WAIT_REASONS = {"customer": S.WAITING_CUSTOMER, "parts": S.WAITING_PARTS}

# A customer contact may cancel their own request only before anyone is on the way.
CUSTOMER_CANCEL_STATES = (S.NEW, S.ASSIGNED)

# ---- the closing steps a work order needs -------------------------------------------
#: The lifecycle's own steps before "close", by default all of them; an app may say a work
#: order needs fewer (fieldwork: a type whose closure gates ask no signature and no invoice
#: closes straight from resolved). Each step is named by its gate key.
CLOSE_STEPS = ("confirm", "invoice")
STEP_GATES = {"confirm": "delivery", "invoice": "financial"}
STEP_LABELS = {"confirm": _("Customer confirmation"), "invoice": _("Invoice number")}
_step_providers: list[Callable[[object], tuple[str, ...] | None]] = []


def register_close_steps(fn: Callable[[object], tuple[str, ...] | None]) -> None:
    """fn(wo) -> the steps of CLOSE_STEPS this work order needs before close, or None (no opinion)."""
    _step_providers.append(fn)


def close_steps(wo) -> tuple[str, ...]:
    """The steps the apps ask for, among those the type's main line uses (workorders.mainline:
    a line without customer confirmation or invoice never waits for them)."""
    from . import mainline

    steps = CLOSE_STEPS
    for fn in _step_providers:
        asked = fn(wo)
        if asked is not None:
            steps = tuple(x for x in CLOSE_STEPS if x in asked)
            break
    return tuple(x for x in steps if mainline.wo_uses(wo, x))


def open_close_steps(wo, steps: tuple[str, ...] | None = None) -> list[str]:
    """The steps still to take before `wo` may close, from its current state."""
    steps = close_steps(wo) if steps is None else steps
    done = {S.RESOLVED: (), S.CONFIRMED: ("confirm",), S.INVOICED: ("confirm", "invoice")}.get(wo.status)
    if done is None:
        return list(steps)
    return [x for x in steps if x not in done]


def may_close_now(wo) -> bool:
    if wo.status == S.INVOICED:
        return True  # every step taken (no query)
    return wo.status in TRANSITIONS["close"].sources and not open_close_steps(wo)


class StepsOpen(Conflict):
    """409 naming the lifecycle steps (as gates) still to take before closing, like the
    closure gates' own refusal (fieldwork.gates.GatesNotPassed): `gates` lists the keys,
    `open_gates` each key with its translated label and what is missing."""

    def __init__(self, wo, steps: list[str]):
        from django.utils.translation import gettext

        gates = [{"gate": STEP_GATES[x], "label": str(STEP_LABELS[x]), "missing": [str(STEP_LABELS[x])]}
                 for x in steps]
        DomainError.__init__(self, gettext("Cannot close: closure gates not passed: %(g)s.") % {
            "g": ", ".join(g["label"] for g in gates)}, 409, "gates_not_passed",
            problems=[FieldProblem(f"gates.{g['gate']}", g["label"], "gate") for g in gates],
            extra={"gates": [g["gate"] for g in gates], "open_gates": gates, "current_state": wo.status})


# ---- extension points ------------------------------------------------------------
# guard(ctx) raises DomainError to refuse; effect(ctx) runs inside the transaction
# after the state change is written. ctx is services.TransitionContext.
Guard = Callable[[object], None]
Effect = Callable[[object], None]


@dataclass(frozen=True)
class Phase:
    name: str
    what: str
    #: Runs once per outermost change of a work order: a change an earlier phase's effect
    #: makes (a rule setting the priority, the dispatch setting assigning) leaves it to the
    #: outer change, which runs it after all of them.
    once: bool = False


#: The effects of a change run phase by phase in this order, whatever order the apps were
#: installed in. This is the one place that says what runs before what; within a phase,
#: effects do not depend on each other (they run in registration order).
PHASES: tuple[Phase, ...] = (
    Phase("record", "what belongs to the change itself: approvals consumed or cancelled, handoffs, "
                    "repeat links, the engineer's reported location"),
    Phase("automation", "the rules, which may edit, assign, dispatch or comment (changes of their own, "
                        "whose effects run at once, nested)"),
    Phase("dispatch", "the dispatch setting acting on new work still unassigned after the rules"),
    Phase("sla", "the SLA ledger: policy selection and targets over the final fields and timeline", once=True),
    Phase("notifications", "outbox rows for people: assigned to you, watchers, acknowledge-or-escalate, "
                           "the customer portal"),
    Phase("follow_up", "steps the system takes once the change is complete: auto-close after the invoice"),
)
_PHASE_INDEX = {p.name: i for i, p in enumerate(PHASES)}


@dataclass(frozen=True)
class Registered:
    action: str  # an action, "create", "update", or "*" (every one of them)
    phase: str
    fn: Effect


_guards: dict[str, list[Guard]] = {}
_effects: list[Registered] = []
_plans: dict[str, list[tuple[int, Effect]]] = {}


@dataclass
class Hooks:
    guards: list[Guard] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)


def register_guard(action: str | None, fn: Guard) -> None:
    """Add a guard for one action, or for every action when action is None."""
    _guards.setdefault(action or "*", []).append(fn)


def register_effect(action: str | None, fn: Effect, *, phase: str) -> None:
    """Add an effect of one action ("create", "update" or a transition verb), or of every one
    when action is None, in one of the PHASES:

        register_effect("create", on_create, phase="automation")
    """
    if phase not in _PHASE_INDEX:
        raise ValueError(f"unknown phase {phase!r}; one of {', '.join(_PHASE_INDEX)}")
    _effects.append(Registered(action or "*", phase, fn))
    _plans.clear()


def unregister_effects(fns) -> list[Registered]:
    """Remove these effect functions (benchmarks measuring what they cost); returns what was removed."""
    gone = [r for r in _effects if r.fn in fns]
    _effects[:] = [r for r in _effects if r.fn not in fns]
    _plans.clear()
    return gone


def restore_effects(gone: list[Registered]) -> None:
    for r in gone:
        register_effect(None if r.action == "*" else r.action, r.fn, phase=r.phase)


def _plan(action: str) -> list[tuple[int, Effect]]:
    plan = _plans.get(action)
    if plan is None:
        mine = [(i, r) for i, r in enumerate(_effects) if r.action in ("*", action)]
        plan = [(_PHASE_INDEX[r.phase], r.fn) for _i, r in sorted(mine, key=lambda x: (_PHASE_INDEX[x[1].phase],
                                                                                          x[0]))]
        _plans[action] = plan
    return plan


def hooks_for(action: str) -> Hooks:
    return Hooks(_guards.get("*", []) + _guards.get(action, []), [fn for _i, fn in _plan(action)])


@dataclass
class _Outer:
    phase: int = -1  # the phase the outermost change of the work order is running (-1: none yet)
    held: bool = False  # a nested change left a `once` phase to it


#: work order id -> its outermost change in progress (see run_effects).
_running: ContextVar[dict[int, _Outer] | None] = ContextVar("lifecycle_running", default=None)


@contextmanager
def _outermost(wo):
    running = _running.get()
    token = None
    if running is None:
        running = {}
        token = _running.set(running)
    outer = running.get(wo.pk)
    mine = outer is None
    if mine:
        outer = running[wo.pk] = _Outer()
    try:
        yield outer, mine
    finally:
        if mine:
            running.pop(wo.pk, None)
        if token is not None:
            _running.reset(token)


@contextmanager
def holding_once_phases(wo):
    """Changes made to `wo` inside the block leave the `once` phases (the SLA ledger) to the
    caller, which brings them up to date itself afterwards when `held` says a change did:
    sla.services.fire_due_levels, whose ladder may raise the priority (and whose state changes
    may make rules act) while it is computing the ledger.

        with lifecycle.holding_once_phases(wo) as outer:
            ...
        if outer.held:
            ...
    """
    with _outermost(wo) as (outer, _mine):
        yield outer


def run_effects(action: str, ctx) -> None:
    """Run the effects of `action` on ctx.wo, phase by phase. An effect may change the work
    order itself (nested: that change runs its own effects at once), except the phases marked
    `once`, which a nested change leaves to the outer one when the outer one has not reached
    them yet: so a new work order gets its SLA policy chosen once, after the rules and the
    dispatch setting have set its priority, team and assignee. Called by workorders.services
    for create, update, escalation and every transition."""
    with _outermost(ctx.wo) as (outer, mine):
        for index, fn in _plan(action):
            if mine:
                outer.phase = index
            elif PHASES[index].once and outer.phase < index:
                outer.held = True  # the outer change runs it later, once, over everything
                continue
            fn(ctx)
