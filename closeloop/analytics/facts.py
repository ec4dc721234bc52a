"""One work order's timeline → its facts (one WorkOrderFact) and its state intervals.

`compute(wo, events, targets, people)` is a pure function of what it is given: the work
order row, its timeline events in id order, its SLA ledger rows and a lookup of teams and
people. The worker step and the rebuild both call it, so they cannot disagree; the tests
compare its results with figures they compute by hand from the timeline.

Definitions (docs/analytics.md says the same in words):

- state intervals: from the `created` event (state new) to each status change; each
  interval carries the team and the assignee in charge (assign events, team/assignee edits
  and escalations moving the team change them; such a change within a state ends the stay
  and starts another in the same state with the new owner);
- hand-over: an event that moves the work order from one person to another, or from one
  team to another (the first assignment is not a hand-over); one per event;
- reopen: a `reopen` status change;
- execution time: the time spent on site and in progress (waiting states excluded),
  counted once the work is technically complete;
- travel time: the time on the way (depart → arrive);
- first-time fix: technically complete, never reopened, at most one arrival on site;
- repeat: the work order was linked as a repeat of an earlier one (fieldwork.repeats: same
  customer and asset or fault code within 30 days);
- first response: the SLA's own response target (its response actions, business time),
  met → seconds of business time; accept is never a response;
- first update: the first event the customer can see after the creation that someone
  other than the customer's own people made (wall-clock seconds);
- completion → invoice: from the last technical completion to the invoice after it.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from closeloop.workorders.lifecycle import S

WORK_STATES = (S.ON_SITE, S.IN_PROGRESS)
TRAVEL_STATES = (S.EN_ROUTE,)
SLA_CODES = {"none": 0, "running": 1, "met": 2, "breached": 3}


@dataclass
class People:
    """Ids by team code and by username, and the ids of customer users (loaded once a batch)."""

    teams: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    customers: set[int] = field(default_factory=set)

    @classmethod
    def load(cls) -> "People":
        from closeloop.accounts.models import Role, Team, User

        users, customers = {}, set()
        for pk, username, role in User.objects.values_list("pk", "username", "role"):
            users[username] = pk
            if role == Role.CUSTOMER:
                customers.add(pk)
        return cls(dict(Team.objects.values_list("code", "pk")), users, customers)


def business_day(at: datetime):
    """The date of `at` in the business time zone (settings.TIME_ZONE, as core.clock.local_today;
    not the request's active zone: the same day whoever's request triggered the computation)."""
    return at.astimezone(timezone.get_default_timezone()).date()


def _team_change(ev, people: People):
    """(from, to) team ids an event changes, or None."""
    d = ev.data or {}
    if ev.kind == "transition" and ev.action == "assign" and d.get("team"):
        return None, people.teams.get(d["team"], 0)
    if ev.kind == "updated" and isinstance((d.get("changes") or {}).get("team"), dict):
        c = d["changes"]["team"]
        return people.teams.get(c.get("from") or "", 0), people.teams.get(c.get("to") or "", 0)
    if ev.kind == "escalation" and isinstance(d.get("team"), dict):
        return people.teams.get(d["team"].get("from") or "", 0), people.teams.get(d["team"].get("to") or "", 0)
    return None


def _assignee_change(ev, people: People):
    d = ev.data or {}
    if ev.kind == "transition" and ev.action == "assign" and d.get("assignee"):
        return people.users.get(d["assignee"], 0)
    if ev.kind == "updated" and isinstance((d.get("changes") or {}).get("assignee"), dict):
        return people.users.get(d["changes"]["assignee"].get("to") or "", 0)
    return None


def channel_of(wo, events, people: People) -> str:
    created = next((e for e in events if e.kind == "created"), None)
    if wo.created_by_id is None:
        return "anonymous"
    if wo.created_by_id in people.customers:
        return "portal"
    if created is not None and (created.data or {}).get("external_refs"):
        return "integration"
    return "staff"


def compute(wo, events: list, targets: list, people: People) -> tuple[dict, list[dict]]:
    """(fact fields, intervals) of one work order."""
    # The team it started with: the "from" of its first team change, else the one it has now.
    team = wo.team_id or 0
    for ev in events:
        ch = _team_change(ev, people)
        if ch is not None:
            # an edit or escalation says where it came from; a first assignment's team is taken
            # as the team it had from the start (a work order created without a team gets it).
            team = ch[0] if ch[0] is not None else ch[1]
            break
    assignee = 0
    intervals: list[dict] = []
    handovers = reopens = arrivals = 0
    resolved = repeat = False
    completed_at = invoiced_after = None
    first_update = None
    rating = None
    approvals = approvals_auto = approvals_bypassed = 0
    last_id = 0
    for ev in events:
        last_id = max(last_id, ev.pk)
        changed = False
        tc = _team_change(ev, people)
        if tc is not None and tc[1] and tc[1] != team:
            changed = changed or bool(team)
            team = tc[1]
        ac = _assignee_change(ev, people)
        if ac is not None and ac and ac != assignee:
            changed = changed or bool(assignee)
            assignee = ac
        if changed:
            handovers += 1
        if (tc is not None or ac is not None) and ev.kind != "transition" and intervals \
                and (intervals[-1]["team_id"], intervals[-1]["assignee_id"]) != (team, assignee):
            # a hand-over within a state: the stay goes on with its new owner
            intervals[-1]["ended_at"] = ev.at
            intervals.append(_interval(wo, len(intervals), intervals[-1]["state"], team, assignee, ev.at))
        if ev.kind == "created":
            intervals.append(_interval(wo, len(intervals), S.NEW, team, assignee, ev.at))
        elif ev.kind == "transition":
            if intervals:
                intervals[-1]["ended_at"] = ev.at
            intervals.append(_interval(wo, len(intervals), ev.to_state, team, assignee, ev.at))
            if ev.action == "reopen":
                reopens += 1
            elif ev.action == "arrive":
                arrivals += 1
            elif ev.action == "complete":
                resolved, completed_at, invoiced_after = True, ev.at, None
            elif ev.action == "invoice" and completed_at is not None:
                invoiced_after = ev.at
            if "rating" in (ev.data or {}):
                rating = ev.data["rating"]
        elif ev.kind == "link" and (ev.data or {}).get("kind") == "repeat" and (ev.data or {}).get("target"):
            repeat = True
        elif ev.kind == "approval":
            what = (ev.data or {}).get("event")
            if what == "requested":
                approvals += 1
            elif what == "approved" and (ev.data or {}).get("rule"):
                approvals_auto += 1
            elif what == "bypassed":
                approvals_bypassed += 1
        if (first_update is None and ev.public and ev.kind != "created"
                and (ev.actor_id is None or ev.actor_id not in people.customers)):
            first_update = ev.at
    seconds = {}
    for iv in intervals:
        if iv["ended_at"] is not None:
            seconds[iv["state"]] = seconds.get(iv["state"], 0.0) + (iv["ended_at"] - iv["started_at"]).total_seconds()
    sla = {t.milestone: t for t in targets}

    def code(m):
        t = sla.get(m)
        if t is None:
            return 0
        if t.breached:
            return 3
        return 2 if t.met_at is not None else 1

    resp = sla.get("response")
    fact = {
        "day": business_day(wo.created_at), "created_at": wo.created_at, "team_id": wo.team_id or 0,
        "wo_type_id": wo.wo_type_id, "priority": wo.priority, "customer_id": wo.customer_id or 0,
        "site_id": wo.site_id or 0, "asset_id": wo.asset_id or 0, "fault_code": wo.fault_code or "",
        "channel": channel_of(wo, events, people), "status": wo.status, "assignee_id": wo.assignee_id or 0,
        "response_s": resp.elapsed_seconds if resp is not None and resp.met_at is not None else None,
        "first_update_s": (first_update - wo.created_at).total_seconds() if first_update else None,
        "sla_response": code("response"), "sla_arrival": code("arrival"), "sla_resolution": code("resolution"),
        "sla_closure": code("closure"), "handovers": handovers, "reopens": reopens, "resolved": resolved,
        "execution_s": sum(seconds.get(s, 0.0) for s in WORK_STATES) if resolved else None,
        "travel_s": seconds[S.EN_ROUTE] if S.EN_ROUTE in seconds else None,
        "first_time_fix": (reopens == 0 and arrivals <= 1) if resolved else None,
        "repeat": repeat, "rating": rating if rating is not None else wo.rating,
        "completed_at": completed_at,
        "invoice_s": (invoiced_after - completed_at).total_seconds() if invoiced_after and completed_at else None,
        "approvals": approvals, "approvals_auto": approvals_auto, "approvals_bypassed": approvals_bypassed,
        "last_event_id": last_id,
    }
    return fact, intervals


def _interval(wo, seq, state, team, assignee, at) -> dict:
    return {"seq": seq, "state": state, "team_id": team or 0, "assignee_id": assignee or 0,
            "wo_type_id": wo.wo_type_id, "priority": wo.priority, "customer_id": wo.customer_id or 0,
            "started_at": at, "ended_at": None, "day": business_day(at)}


def episodes(wo, events: list, people: People) -> list[dict]:
    """The work order's approval requests, approver steps, handoffs and acknowledge-or-escalate
    chains, read from its timeline (one dict per Episode row):

    - approval request: `requested` → its final event (approved / rejected / cancelled; "auto"
      when an auto-approve rule decided, "bypassed" when a step of it was bypassed); label = flow,
      version = the flow version it ran under;
    - approver step: `step_opened` → the request moving on after a decision at it (a next step
      opening), its bypass or timer, or the request ending, whichever first (the wait at that
      level); level = 1 for the request's first approver steps (parallel ones opened together
      share a level), 2 for the next, ...; outcome = its decision, "bypassed" or "timer";
    - handoff: `handoff` → `handoff_rated` (score 1–5), from the handing-over team to the
      receiving one (label = its code);
    - acknowledge-or-escalate chain: its start → its acknowledgement; level = escalation steps
      sent before it (SMS, voice, backup person, supervisor; the first instant message is not one).
    """
    cohort = {"day": business_day(wo.created_at), "team_id": wo.team_id or 0, "wo_type_id": wo.wo_type_id,
              "priority": wo.priority, "customer_id": wo.customer_id or 0}
    out: list[dict] = []
    requests: dict = {}  # request pk -> (episode, open step episode or None, steps opened)
    handoffs: dict = {}
    chains: dict = {}

    def new(kind, at, **kw):
        ep = {"seq": len(out), "kind": kind, "label": "", "version": 0, "level": 0, "name": "", "from_team_id": 0,
              "started_at": at, "ended_at": None, "outcome": "", "score": None, **cohort}
        ep.update(kw)
        out.append(ep)
        return ep

    for ev in events:
        d = ev.data or {}
        if ev.kind == "approval":
            what, rq = d.get("event"), d.get("request")
            if what == "requested":
                requests[rq] = {"ep": new("approval", ev.at, label=str(d.get("flow") or "")[:100],
                                          version=int(d.get("version") or 0)), "open": {}, "waves": []}
                continue
            r = requests.get(rq)
            if r is None:
                continue
            req, opened = r["ep"], r["open"]
            if what == "step_opened":
                for st in [st for st in opened.values() if st["decided"]]:
                    _close_step(opened, st, ev.at)  # the request moved on after its decision
                if ev.at not in r["waves"]:
                    r["waves"].append(ev.at)
                opened[d.get("step")] = {"ep": new("step", ev.at, label=req["label"], version=req["version"],
                                                   level=len(r["waves"]),
                                                   name=str(d.get("name") or d.get("step") or "")[:100]),
                                         "decided": False, "key": d.get("step")}
            elif what == "decision" and d.get("step") in opened:
                st = opened[d["step"]]
                st["decided"], st["ep"]["outcome"] = True, str(d.get("decision") or "")[:12]
            elif what == "bypassed":
                req["outcome"] = "bypassed"
                if d.get("step") in opened:
                    opened[d["step"]]["ep"]["outcome"] = "bypassed"
                    _close_step(opened, opened[d["step"]], ev.at)
            elif what == "timer" and d.get("timer") == "approve" and d.get("step") in opened:
                opened[d["step"]]["ep"]["outcome"] = "timer"
                _close_step(opened, opened[d["step"]], ev.at)
            elif what in ("approved", "rejected", "cancelled") and req["ended_at"] is None:
                req["ended_at"] = ev.at
                if req["outcome"] != "bypassed":
                    req["outcome"] = "auto" if d.get("rule") else what
                for st in list(opened.values()):
                    st["ep"]["outcome"] = st["ep"]["outcome"] or what
                    _close_step(opened, st, ev.at)
        elif ev.kind == "handoff":
            what = d.get("event")
            if what == "handoff":
                handoffs[d.get("handoff")] = new("handoff", ev.at, label=str(d.get("to") or "")[:100],
                                                 from_team_id=people.teams.get(d.get("from") or "", 0))
            elif what == "handoff_rated" and d.get("handoff") in handoffs:
                h = handoffs[d["handoff"]]
                h["ended_at"], h["outcome"] = ev.at, "rated"
                h["score"] = d.get("score") if isinstance(d.get("score"), int) else None
        elif ev.kind == "notification" and ev.action == "ack" and d.get("chain") is not None:
            step = d.get("step")
            if step == "start":
                chains[d["chain"]] = new("ack", ev.at)
                continue
            c = chains.get(d["chain"])
            if c is None or c["ended_at"] is not None:
                continue
            if step == "ack":
                c["ended_at"], c["outcome"] = ev.at, "acked"
            elif step in ("sms", "voice", "backup", "supervisor"):
                c["level"] += 1
    return out


def _close_step(opened: dict, st: dict, at) -> None:
    st["ep"]["ended_at"] = at
    opened.pop(st["key"], None)
