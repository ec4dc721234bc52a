"""The main line of a work order type: which stages of the lifecycle the type uses, in order.

A type's line is assembled, not coded (issue 14): a manager drags blocks into the line in the
type designer, and the lifecycle, the phone, the closure gates and the SLA follow it. The line
is stored on `WorkOrderType.stages` as a list of stage keys in their order, e.g. an internal
production order:

    ["intake", "dispatch", "accept", "execution", "close"]

What each stage means when a type leaves it out:

- dispatch: the dispatch setting (smart dispatch) does not assign the type's new work by
  itself; people (and rules) still assign it.
- accept: assigning is accepting: `assign` lands in accepted (and stamps accepted_at).
- travel: `depart` and `arrive` are refused (409) and not offered; work starts from accepted.
  The SLA's response (and arrival) targets are then met by starting work.
- confirm: no customer confirmation: the `confirm` action is refused and closing needs no
  signature (the delivery gate is skipped).
- invoice: no invoice step: `invoice` is refused and the financial gate is skipped.

intake, execution and close are always there; the order is the lifecycle's (STAGES), and an
invoice needs the customer confirmation before it (`invoice` leaves from confirmed).

Approval points (approvals.ApprovalFlow per type and action) and handoffs
(approvals.HandoffRequirement) are shown in the line at the stage of the action they guard;
the apps that own them register a provider with `register_points`. Used by types_services
(validation), services (the lifecycle checks), permissions (the offered actions),
fieldwork.gates, sla.services and the designer (administration.designer).
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Stage:
    key: str
    label: object
    help: object
    actions: tuple[str, ...]  # the lifecycle actions that belong to the stage
    mandatory: bool = False
    icon: str = "point"


STAGES: tuple[Stage, ...] = (
    Stage("intake", _("Customer submits"), _("The work order is filed: console, portal, phone, mail, IM or API."),
          ("create",), mandatory=True, icon="inbox"),
    Stage("dispatch", _("Smart dispatch"), _("The dispatch setting may assign new work by itself; without this "
                                              "block people and rules assign it."), ("assign",), icon="route"),
    Stage("accept", _("Engineer accepts"), _("The engineer accepts the assignment; without this block assigning "
                                             "is accepting."), ("accept",), icon="user-check"),
    Stage("travel", _("Travel to site"), _("Depart and arrive on site; without this block (remote work, "
                                           "workshop) work starts straight after accepting."),
          ("depart", "arrive"), icon="car"),
    Stage("execution", _("Field execution"), _("The work itself, with the type's process steps, then the "
                                               "technical completion."), ("start", "complete"), mandatory=True,
          icon="tool"),
    Stage("confirm", _("Customer confirms"), _("The customer signs or confirms; without this block no signature "
                                               "is asked before closing."), ("confirm",), icon="signature"),
    Stage("invoice", _("Invoice"), _("An invoice number is posted; without this block no invoice is asked before "
                                     "closing."), ("invoice",), icon="receipt"),
    Stage("close", _("Close"), _("The work order is closed once its gates pass."), ("close",), mandatory=True,
          icon="lock"),
)
BY_KEY = {s.key: s for s in STAGES}
KEYS = tuple(s.key for s in STAGES)
RANK = {k: i for i, k in enumerate(KEYS)}
MANDATORY = tuple(s.key for s in STAGES if s.mandatory)
#: action -> the stage it belongs to (the actions a type's line can leave out).
STAGE_OF_ACTION = {a: s.key for s in STAGES for a in s.actions} | {"override_close": "close"}
#: Actions refused for a type whose line leaves their stage out (dispatch and accept stay possible:
#: people still assign; a work order already assigned before the line changed may still be accepted).
REFUSABLE = {"depart": "travel", "arrive": "travel", "confirm": "confirm", "invoice": "invoice"}
#: Stages that need another one before them in the line: (stage, needed, why).
NEEDS = (("invoice", "confirm"),)


def default_stages() -> list[str]:
    """Every stage: the line of every type made before lines existed (the migration's default)."""
    return list(KEYS)


def stages_of(wo_type) -> tuple[str, ...]:
    stages = getattr(wo_type, "stages", None)
    return tuple(stages) if stages else KEYS


def uses(wo_type, stage: str) -> bool:
    return stage in stages_of(wo_type)


def type_of(wo):
    """The work order's type (a query unless it is loaded)."""
    return wo.wo_type if wo.wo_type_id else None


#: wo_type_id -> (read at, stages): pages that list many work orders without their type (the board
#: reads only what a card shows) ask wo_uses for every card; a line is read once per type for
#: CACHE_SECONDS, emptied at once when a type is saved or deleted in this process (apps.py). The
#: lifecycle's refusal reads the type itself (action_refused(fresh=True)).
_cache: dict[int, tuple[float, tuple[str, ...]]] = {}
CACHE_SECONDS = 5.0


def forget(**_kw) -> None:
    _cache.clear()


def _stages_by_id(type_id: int) -> tuple[str, ...]:
    import time

    hit = _cache.get(type_id)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    from .models import WorkOrderType

    stages = WorkOrderType.objects.filter(pk=type_id).values_list("stages", flat=True).first()
    value = tuple(stages) if stages else KEYS
    if len(_cache) > 1000:
        _cache.clear()
    _cache[type_id] = (time.monotonic(), value)
    return value


def wo_uses(wo, stage: str, *, fresh: bool = False) -> bool:
    """Whether the work order's type uses `stage`: from its type when loaded (or fresh=True), else
    from the short per-process cache (no query per card on a board)."""
    if not wo.wo_type_id:
        return True
    loaded = getattr(type(wo), "wo_type", None)  # a model's descriptor; absent on console.selectors.BoardCard
    if fresh or (loaded is not None and loaded.is_cached(wo)):
        return uses(wo.wo_type, stage)
    return stage in _stages_by_id(wo.wo_type_id)


def action_refused(wo, action: str, *, fresh: bool = False) -> str | None:
    """The stage the work order's type leaves out when `action` belongs to it, else None."""
    stage = REFUSABLE.get(action)
    if stage is not None and not wo_uses(wo, stage, fresh=fresh):
        return stage
    return None


def response_actions(wo_type, actions) -> tuple[str, ...]:
    """sla.services: the actions that count as the first response for a type. Without travel,
    depart and arrive never happen: starting the work counts instead."""
    if wo_type is None or uses(wo_type, "travel"):
        return tuple(actions)
    kept = tuple(a for a in actions if a not in ("depart", "arrive"))
    return kept if "start" in kept else kept + ("start",)


def arrival_actions(wo_type) -> tuple[str, ...]:
    return ("arrive",) if wo_type is None or uses(wo_type, "travel") else ("start",)


def clean_stages(value) -> tuple[list[str], list[tuple[str, str, str]]]:
    """(stages, problems): problems are (field, message, code) for a 422 naming `stages[i]`."""
    from django.utils.translation import gettext

    problems: list[tuple[str, str, str]] = []
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        return [], [("stages", gettext("A list of stage keys: %(k)s.") % {"k": ", ".join(KEYS)}, "invalid")]
    seen: list[str] = []
    for i, key in enumerate(value):
        if key not in BY_KEY:
            problems.append((f"stages[{i}]", gettext("Unknown stage %(s)s; one of %(k)s.")
                             % {"s": key[:40], "k": ", ".join(KEYS)}, "unknown"))
        elif key in seen:
            problems.append((f"stages[{i}]", gettext("Listed twice."), "duplicate"))
        else:
            if seen and RANK[key] < RANK[seen[-1]]:
                problems.append((f"stages[{i}]", gettext("%(s)s cannot come after %(p)s.")
                                 % {"s": BY_KEY[key].label, "p": BY_KEY[seen[-1]].label}, "order"))
            seen.append(key)
    if problems:
        return [], problems
    for key in MANDATORY:
        if key not in seen:
            problems.append(("stages", gettext("Every line has the stage %(s)s.") % {"s": BY_KEY[key].label},
                             "required"))
    for stage, needed in NEEDS:
        if stage in seen and needed not in seen:
            problems.append(("stages", gettext("%(s)s needs %(n)s before it.")
                             % {"s": BY_KEY[stage].label, "n": BY_KEY[needed].label}, "needs"))
    return seen, problems


# ---- approval points and handoffs, from the apps that own them ------------------------------

#: fn(wo_type) -> list of {"kind": "approval" | "handoff", "action", "stage", "label", "url", "active"}.
_point_providers: list[Callable[[object], list[dict]]] = []


def register_points(fn: Callable[[object], list[dict]]) -> None:
    """Add a provider of points shown in the line (approvals.apps registers the approval flows and
    handoff requirements of a type). Each point names the lifecycle action it guards; the line
    places it at that action's stage."""
    _point_providers.append(fn)


def points(wo_type) -> list[dict]:
    out = []
    for fn in _point_providers:
        for p in fn(wo_type):
            p = dict(p)
            p.setdefault("stage", STAGE_OF_ACTION.get(p.get("action"), ""))
            out.append(p)
    return out


def describe(wo_type, *, with_points: bool = True) -> dict:
    """The line as the API and the designer show it: the stages in order (with the type's process
    steps in the execution stage), the stages left out, and the approval points and handoffs at
    the stage they belong to (points whose action belongs to no stage, e.g. purchase_part, are
    listed under "other_points")."""
    used = stages_of(wo_type)
    pts = points(wo_type) if with_points else []
    blocks = []
    for key in used:
        s = BY_KEY[key]
        block = {"stage": key, "label": str(s.label), "mandatory": s.mandatory, "actions": list(s.actions),
                 "points": [p for p in pts if p["stage"] == key]}
        if key == "execution":
            block["process_steps"] = list(wo_type.process_steps or [])
        blocks.append(block)
    unused = [{"stage": s.key, "label": str(s.label), "mandatory": False, "actions": list(s.actions)}
              for s in STAGES if s.key not in used]
    return {"stages": list(used), "blocks": blocks, "unused": unused,
            "process_steps": list(wo_type.process_steps or []),
            "other_points": [p for p in pts if p["stage"] not in used]}
