"""The SLA ledger and policies as plain dicts for the API and the console."""

from closeloop.core.clock import now

from .models import BusinessCalendar, Milestone, SLAPolicy, SLATarget, TargetState


def target(r: SLATarget, at=None) -> dict:
    at = at or now()
    remaining = (r.due_at - at).total_seconds() if r.due_at and r.met_at is None else None
    return {
        "milestone": r.milestone,
        "milestone_label": str(Milestone(r.milestone).label),
        "state": r.state,
        "state_label": str(TargetState(r.state).label),
        "breached": r.breached,
        "target_seconds": r.target_seconds,
        "started_at": r.started_at,
        "due_at": r.due_at,
        "met_at": r.met_at,
        "remaining_seconds": remaining,
        "elapsed_seconds": r.elapsed_seconds,
        "paused_seconds": r.paused_seconds,
        "paused_intervals": [{"from": a, "to": b} for a, b in r.paused_intervals],
        "computed_at": r.computed_at,
        "policy": {"key": r.policy.key, "name": r.policy.name, "version": r.policy_version},
        "calendar": {"key": r.calendar.key, "name": r.calendar.name, "tz": r.calendar.tz},
    }


def ledger(rows: list[SLATarget]) -> list[dict]:
    at = now()
    return [target(r, at) for r in rows]


def policy(p: SLAPolicy) -> dict:
    return {"key": p.key, "name": p.name, "order": p.order, "active": p.active, "condition": p.condition,
            "calendar": p.calendar.key, "response_actions": p.response_actions, "targets": p.targets,
            "ladder": p.ladder, "version": p.version, "updated_at": p.updated_at}


def calendar(c: BusinessCalendar) -> dict:
    return {"key": c.key, "name": c.name, "kind": c.kind, "tz": c.tz, "week": c.week, "holidays": c.holidays,
            "workdays": c.workdays, "version": c.version}
