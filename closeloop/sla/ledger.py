"""The SLA ledger of one work order, computed from its timeline. Pure: give it the
events, the policy and the calendar; no database. Used by sla.services.recompute.

Rules (DESIGN.md §2, issue 3):
- every clock starts when the work order is created;
- first response is met by the first action in the policy's `response_actions`
  (default depart or arrive; "accept" never counts), arrival by `arrive`
  (sla.services passes "start" for both when the type's main line has no travel),
  resolution by `complete`, closure by `close`; `reopen` re-opens resolution and
  closure; `cancel` stops every clock;
- waiting for customer / parts pauses the resolution and closure clocks; the paused
  intervals are kept.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .calendars import CalendarSpec, add_business_time, elapsed_business_time

DEFAULT_RESPONSE_ACTIONS = ("depart", "arrive")
PAUSABLE = {"resolution", "closure"}
WAITING = {"waiting_customer", "waiting_parts"}
WARNING_RATIO = 0.75
MET_BY = {"arrival": ("arrive",), "resolution": ("complete",), "closure": ("close",)}


@dataclass
class Event:
    """The part of a timeline event the ledger reads."""

    at: datetime
    kind: str
    action: str = ""
    from_state: str = ""
    to_state: str = ""


@dataclass
class Level:
    level: int
    fire_at: datetime | None
    actions: list[str]
    pct: float | None = None
    after: float | None = None


@dataclass
class TargetLedger:
    milestone: str
    target_seconds: int
    started_at: datetime
    due_at: datetime | None
    met_at: datetime | None
    elapsed_seconds: float
    paused_seconds: float
    paused_intervals: list[tuple[datetime, datetime | None]]
    state: str
    breached: bool
    levels: list[Level] = field(default_factory=list)
    warning_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self.state in ("on_track", "warning", "breached") and self.met_at is None


@dataclass
class Facts:
    created_at: datetime
    met: dict[str, datetime | None]
    stopped_at: datetime | None
    pauses: list[tuple[datetime, datetime | None]]


def read_timeline(events: list[Event], response_actions, arrival_actions=("arrive",)) -> Facts:
    response_actions = tuple(a for a in (response_actions or DEFAULT_RESPONSE_ACTIONS) if a != "accept")
    met_by = {**MET_BY, "arrival": tuple(arrival_actions)}
    created = events[0].at
    met: dict[str, datetime | None] = {"response": None, "arrival": None, "resolution": None, "closure": None}
    stopped = None
    pauses: list[tuple[datetime, datetime | None]] = []
    for e in events:
        if e.kind == "created":
            created = e.at
            continue
        if e.kind != "transition":
            continue
        if e.action in response_actions and met["response"] is None:
            met["response"] = e.at
        for milestone, actions in met_by.items():
            if e.action in actions and met[milestone] is None:
                met[milestone] = e.at
        if e.action == "reopen":
            met["resolution"] = met["closure"] = None
            stopped = None
        if e.to_state == "cancelled":
            stopped = e.at
        if e.to_state in WAITING and e.from_state not in WAITING:
            pauses.append((e.at, None))
        elif e.from_state in WAITING and e.to_state not in WAITING and pauses and pauses[-1][1] is None:
            pauses[-1] = (pauses[-1][0], e.at)
    return Facts(created, met, stopped, pauses)


def _active_pieces(start: datetime, end: datetime, pauses) -> list[tuple[datetime, datetime]]:
    """[start, end] minus the paused intervals (an open pause runs to `end`)."""
    pieces, cursor = [], start
    for a, b in pauses:
        b = b or end
        if b <= cursor or a >= end:
            continue
        if a > cursor:
            pieces.append((cursor, a))
        cursor = max(cursor, b)
    if cursor < end:
        pieces.append((cursor, end))
    return pieces


def _crossing(pieces, open_from: datetime | None, threshold: float, cal: CalendarSpec) -> datetime | None:
    """When the consumed business time reaches `threshold`: inside a closed piece, or
    later on the clock running from `open_from` (None when the clock is not running)."""
    consumed = 0.0
    for a, b in pieces:
        span = elapsed_business_time(a, b, cal)
        if consumed + span >= threshold:
            return add_business_time(a, threshold - consumed, cal)
        consumed += span
    if open_from is None:
        return None
    return add_business_time(open_from, threshold - consumed, cal)


def compute(events: list[Event], *, targets: dict, ladder: list, response_actions, cal: CalendarSpec,
            now: datetime, arrival_actions=("arrive",)) -> list[TargetLedger]:
    """arrival_actions: what meets the arrival target ("start" for a type without travel)."""
    facts = read_timeline(events, response_actions, arrival_actions)
    out = []
    for milestone in ("response", "arrival", "resolution", "closure"):
        if milestone not in (targets or {}):
            continue
        target = int(targets[milestone])
        met_at = facts.met[milestone]
        end = met_at or facts.stopped_at or now
        end = max(end, facts.created_at)
        pauses = facts.pauses if milestone in PAUSABLE else []
        pieces = _active_pieces(facts.created_at, end, pauses)
        paused_now = bool(pauses) and pauses[-1][1] is None and met_at is None and facts.stopped_at is None
        running = met_at is None and facts.stopped_at is None and not paused_now
        elapsed = sum(elapsed_business_time(a, b, cal) for a, b in pieces)
        paused_secs = sum(elapsed_business_time(a, min(b or end, end), cal) for a, b in pauses if a < end)
        # The deadline that applies: the open clock continues from the last active piece.
        # Met or stopped: what the deadline was, as if the clock had kept running.
        if running or met_at is not None or facts.stopped_at is not None:
            if pieces and pieces[-1][1] == end:
                closed, open_from = pieces[:-1], pieces[-1][0]
            else:
                closed, open_from = pieces, end
        else:
            closed, open_from = pieces, None
        due = _crossing(closed, open_from, target, cal)
        breached = elapsed > target or (due is not None and met_at is None and running and now >= due)
        if met_at is not None:
            state = "breached" if breached else "met"
        elif facts.stopped_at is not None:
            state = "stopped"
        elif breached:
            state = "breached"
        elif paused_now:
            state = "paused"
        elif elapsed >= WARNING_RATIO * target:
            state = "warning"
        else:
            state = "on_track"
        ledger = TargetLedger(milestone, target, facts.created_at, due if (running or met_at or facts.stopped_at)
                              else None, met_at, elapsed, paused_secs,
                              [(a, b) for a, b in pauses], state, breached)
        if running:
            ledger.warning_at = _crossing(closed, open_from, WARNING_RATIO * target, cal)
            for step in ladder or []:
                if step.get("milestones") and milestone not in step["milestones"]:
                    continue
                if step.get("pct") is not None:
                    fire = _crossing(closed, open_from, float(step["pct"]) / 100 * target, cal)
                else:
                    fire = due + timedelta(seconds=float(step.get("after") or 0)) if due else None
                ledger.levels.append(Level(int(step["level"]), fire, list(step.get("actions") or []),
                                           step.get("pct"), step.get("after")))
        out.append(ledger)
    return out
