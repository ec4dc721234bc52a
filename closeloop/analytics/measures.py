"""The measures, each defined once (docs/analytics.md says the same in words).

Every measure is a function of a `Scope` (a period of creation days, plus team, type,
priority and customer) over the analytics tables; none reads the timeline itself (that is
`facts.compute`, once per work order). Figures without a customer filter read the daily
rollups (a few hundred rows a month); with one they read the per-work-order facts of that
customer. Each figure that counts work orders names its drill-down (`drill.url`): the list
of exactly those work orders, with the same definition (`facts_q` / `intervals_q`).

The cohort rule: a work order counts in the period it was created in, with its current
team, type and priority. A state interval counts in the period it started in.
"""

from dataclasses import dataclass, replace
from datetime import UTC, date, timedelta

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, FloatField, Q, Sum, Value
from django.db.models.functions import Coalesce

from closeloop.core.clock import now
from closeloop.workorders.lifecycle import PAUSED, STATE_LABELS, TERMINAL, S

from .models import (
    BreakdownRollup,
    DailyRollup,
    Episode,
    OpenStayRollup,
    StateInterval,
    StateRollup,
    WorkOrderFact,
)
from .refresh import BREAKDOWNS, DAILY, grouped, state_aggregates

#: States where the work waits on somebody (the heat map's rows), in the order of the flow.
WAIT_STATES = [s for s in STATE_LABELS if s not in TERMINAL]
#: Customer-wait states: subtracted from execution time (they are not intervals of work).
CUSTOMER_WAIT = PAUSED


#: StateRollup rows summed (count of stays, seconds).
ROLLED = {"count": Coalesce(Sum("count"), 0), "seconds": Coalesce(Sum("seconds"), Value(0.0), output_field=FloatField())}


@dataclass(frozen=True)
class Scope:
    start: date  # first creation day, inclusive
    end: date  # last creation day, inclusive
    team_id: int | None = None
    type_id: int | None = None
    priority: str | None = None
    customer_id: int | None = None
    #: the site's province (the customer's when the work order has no site)
    region: str | None = None

    @property
    def needs_facts(self) -> bool:
        """The rollups are not kept per customer or region: such a scope reads the facts."""
        return self.customer_id is not None or bool(self.region)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> "Scope":
        """The period of the same length just before this one, same filters."""
        return replace(self, start=self.start - timedelta(days=self.days), end=self.start - timedelta(days=1))


# ---- which rows a scope covers (the same for the figure and its drill-down) ----------------------

FLAGS = {
    # flag -> (condition on WorkOrderFact, what it means)
    "created": Q(),
    "open": ~Q(status__in=TERMINAL),
    "resolved": Q(resolved=True),
    # technically complete now (not reopened since): the work a resolution time is measured on
    "done": Q(resolved=True, status__in=(S.RESOLVED, S.CONFIRMED, S.INVOICED, S.CLOSED)),
    "reopened": Q(reopens__gt=0),
    "responded": Q(response_s__isnull=False),
    "response_met": Q(sla_response=2),
    "resolution_decided": Q(sla_resolution__in=(2, 3)),
    "response_breached": Q(sla_response=3),
    "breached": Q(sla_response=3) | Q(sla_arrival=3) | Q(sla_resolution=3) | Q(sla_closure=3),
    "handover3": Q(handovers__gte=3),
    "handed_over": Q(handovers__gt=0),
    "ftf": Q(first_time_fix=True),
    "not_ftf": Q(first_time_fix=False),
    "repeat": Q(repeat=True),
    "rated": Q(rating__isnull=False),
    "unsatisfied": Q(rating__lte=3),
    "waiting_invoice": Q(status=S.CONFIRMED),
    "invoiced": Q(invoice_s__isnull=False),
    "update15": Q(first_update_s__lte=15 * 60),
    "update30": Q(first_update_s__lte=30 * 60),
}


def _dims(scope: Scope) -> dict:
    d = {}
    if scope.team_id is not None:
        d["team_id"] = scope.team_id
    if scope.type_id is not None:
        d["wo_type_id"] = scope.type_id
    if scope.priority:
        d["priority"] = scope.priority
    if scope.customer_id is not None:
        d["customer_id"] = scope.customer_id
    return d


def region_q(region: str) -> Q:
    """Work order facts in a region: the site's province, or the customer's when there is no site."""
    from closeloop.customers.models import Customer, Site

    return (Q(site_id__in=Site.objects.filter(province=region).values("pk"))
            | Q(site_id=0, customer_id__in=Customer.objects.filter(province=region).values("pk")))


def _in_region(qs, scope: Scope):
    if not scope.region:
        return qs
    return qs.filter(work_order_id__in=WorkOrderFact.objects.filter(region_q(scope.region)).values("work_order_id"))


def facts_q(scope: Scope, flag: str = "created", **extra):
    """The work order facts a figure counts: created in the period, matching the filters and the flag."""
    qs = WorkOrderFact.objects.filter(FLAGS[flag], day__gte=scope.start, day__lte=scope.end,
                                      **_dims(scope), **extra)
    return qs.filter(region_q(scope.region)) if scope.region else qs


def intervals_q(scope: Scope, **extra):
    """The state intervals a heat-map cell covers: started in the period, matching the filters."""
    return _in_region(StateInterval.objects.filter(day__gte=scope.start, day__lte=scope.end, **_dims(scope),
                                                   **extra), scope)


def episodes_q(scope: Scope, kind: str, **extra):
    """The approvals, approver steps, handoffs or acknowledge chains of the work created in the period."""
    return _in_region(Episode.objects.filter(kind=kind, day__gte=scope.start, day__lte=scope.end, **_dims(scope),
                                             **extra), scope)


#: Read month and folded day rows (False: day rows only; the tests compare both).
USE_MONTHS = True
#: Columns month and folded day rows fold together: a scope filtering or grouping by them reads day rows.
FOLDED = ("wo_type_id", "priority")


def _first_of_next_month(d: date) -> date:
    return d.replace(year=d.year + 1, month=1, day=1) if d.month == 12 else d.replace(month=d.month + 1, day=1)


def rolled(model, scope: Scope, group=()):
    """The rows of a rollup table (DailyRollup, BreakdownRollup, StateRollup, OpenStayRollup)
    that add up to the scope's period: for each whole calendar month inside it the month's row
    ("M"), for the days before and after those months the folded day rows ("D"). Each folds type
    and priority together; a year reads about 12 month rows and up to 60 folded days per key
    instead of 365 days' full rows. Day rows ("d") only when the scope filters or groups by type
    or priority; folded day rows for every day when it groups by day."""
    qs = model.objects.filter(**_dims(scope))
    folded = scope.type_id is not None or scope.priority or any(g in FOLDED for g in group)
    if not USE_MONTHS or folded:
        return qs.filter(span="d", day__gte=scope.start, day__lte=scope.end)
    first = scope.start if scope.start.day == 1 else _first_of_next_month(scope.start)
    after = _first_of_next_month(scope.end)
    whole_months_end = scope.end + timedelta(days=1) == after  # the period ends on a month's last day
    last = after if whole_months_end else scope.end.replace(day=1)  # first day after the whole months
    if "day" in group or first >= last:
        return qs.filter(span="D", day__gte=scope.start, day__lte=scope.end)
    return qs.filter(Q(span="M", day__gte=first, day__lt=last)
                     | Q(span="D", day__gte=scope.start, day__lt=first)
                     | Q(span="D", day__gte=last, day__lte=scope.end))


def _daily(scope: Scope, group=()):
    """DailyRollup sums for the scope (grouped by `group`), or the same sums over the facts
    when the scope names a customer (the rollups are not kept per customer)."""
    if scope.needs_facts:
        return grouped(facts_q(scope), group, DAILY)
    qs = rolled(DailyRollup, scope, group)
    return grouped(qs, group, {k: Coalesce(Sum(k), Value(0), output_field=FloatField()) for k in DAILY})


def _ratio(a, b):
    return (a / b) if b else None


# ---- the measures -----------------------------------------------------------------------------------

def summary(scope: Scope) -> dict:
    """The headline figures of the work created in the period:

    - created: work orders created; open: of them still open;
    - response_avg_s: average first response (SLA response target met; business seconds);
    - response_attainment: response targets met in time / response targets decided (met or breached);
    - sla_attainment: SLA targets (all milestones) met in time / met or breached;
    - overdue_rate: breached targets / all targets (running ones included);
    - first_update_avg_s: average time to the first update the customer could see;
    - handovers_avg: hand-overs per work order; handover3_share: share with 3 or more;
    - reopen_rate: reopened / technically completed;
    - execution_avg_s: time on site and in progress (waiting states excluded), completed work;
    - travel_avg_s: time on the way (depart → arrive);
    - ftf_rate: first-time fixes / completed; repeat_rate: repeats / created;
    - rating_avg: average customer rating (1–5); satisfaction: ratings 4 or 5 / ratings;
    - update15_rate / update30_rate: first update to the customer within 15 / 30 minutes / created;
    - waiting_invoice: confirmed by the customer, no invoice yet; invoice_avg_s: completion → invoice.
    """
    r = _daily(scope)[0]
    r = {k: (v or 0) for k, v in r.items()}
    return {
        "created": int(r["created"]), "open": int(r["open"]), "resolved": int(r["resolved"]),
        "response_avg_s": _ratio(r["response_s"], r["responded"]), "responded": int(r["responded"]),
        "response_attainment": _ratio(r["response_met"], r["response_targets"]),
        "sla_attainment": _ratio(r["sla_met"], r["sla_met"] + r["sla_breached"]),
        "overdue_rate": _ratio(r["sla_breached"], r["sla_targets"]), "breached": int(r["sla_breached"]),
        "first_update_avg_s": _ratio(r["first_update_s"], r["updated"]),
        "handovers_avg": _ratio(r["handovers"], r["created"]), "handover3": int(r["handover3"]),
        "handover3_share": _ratio(r["handover3"], r["created"]),
        "reopened": int(r["reopened"]), "reopen_rate": _ratio(r["reopened"], r["resolved"]),
        "execution_avg_s": _ratio(r["execution_s"], r["executed"]),
        "travel_avg_s": _ratio(r["travel_s"], r["travelled"]),
        "ftf_rate": _ratio(r["ftf"], r["ftf_base"]), "ftf_base": int(r["ftf_base"]),
        "repeats": int(r["repeats"]), "repeat_rate": _ratio(r["repeats"], r["created"]),
        "rating_avg": _ratio(r["rating_sum"], r["rated"]), "rated": int(r["rated"]),
        "satisfaction": _ratio(r["satisfied"], r["rated"]),
        "update15": int(r["update15"]), "update15_rate": _ratio(r["update15"], r["created"]),
        "update30": int(r["update30"]), "update30_rate": _ratio(r["update30"], r["created"]),
        "waiting_invoice": int(r["waiting_invoice"]), "invoice_avg_s": _ratio(r["invoice_s"], r["invoiced"]),
        "approvals": int(r["approvals"]), "approvals_auto": int(r["approvals_auto"]),
        "approvals_bypassed": int(r["approvals_bypassed"]),
    }


def resolution(scope: Scope) -> dict:
    """Resolution of the work created in the period (read from the facts: the rollups keep no
    completion times):

    - done: technically complete now (resolved, confirmed, invoiced or closed; not reopened since);
    - resolution_avg_s: their average time from creation to the last completion (wall-clock);
    - resolution_targets / resolution_met / resolution_attainment: the SLA's resolution targets
      decided (met or breached), met in time, and the share met.
    """
    took = ExpressionWrapper(F("completed_at") - F("created_at"), output_field=DurationField())
    r = facts_q(scope, "done", completed_at__isnull=False).aggregate(n=Count("pk"), avg=Avg(took))
    t = facts_q(scope).aggregate(targets=Count("pk", filter=Q(sla_resolution__in=(2, 3))),
                                 met=Count("pk", filter=Q(sla_resolution=2)))
    avg = r["avg"]
    return {"done": r["n"], "resolution_avg_s": None if avg is None else avg.total_seconds(),
            "resolution_targets": t["targets"], "resolution_met": t["met"],
            "resolution_attainment": _ratio(t["met"], t["targets"])}


def intake_by_day(scope: Scope) -> list[dict]:
    """Work orders created per day of the period (every day listed, zero included)."""
    if scope.needs_facts:
        rows = grouped(facts_q(scope), ("day",), {"created": Count("pk")})
    else:  # one column summed, not the whole row (a year is every day's rows)
        rows = grouped(rolled(DailyRollup, scope, ("day",)), ("day",), {"created": Sum("created")})
    got = {r["day"]: int(r["created"]) for r in rows}
    return [{"day": scope.start + timedelta(days=i), "created": got.get(scope.start + timedelta(days=i), 0)}
            for i in range(scope.days)]


INTAKE_DIMENSIONS = {"channel": "channel", "type": "wo_type_id", "customer": "customer_id", "site": "site_id",
                     "team": "team_id", "priority": "priority", "assignee": "assignee_id"}


def intake_by(scope: Scope, dim: str, limit: int = 20) -> list[dict]:
    """Work orders created in the period per channel, type, customer, site, team or priority, most first."""
    col = INTAKE_DIMENSIONS[dim]
    if not scope.needs_facts and dim in BREAKDOWNS:
        rows = (rolled(BreakdownRollup, scope).filter(dim=dim)
                .values("key").annotate(n=Sum("created")).order_by("-n", "key")[:limit])
        return [{"key": r["key"] if col in ("channel", "priority") else int(r["key"]), "created": r["n"]}
                for r in rows]
    rows = facts_q(scope).values(col).annotate(n=Count("pk")).order_by("-n", col)[:limit]
    return [{"key": r[col], "created": r["n"]} for r in rows]


SLA_DIMENSIONS = {"team": "team_id", "type": "wo_type_id", "priority": "priority", "customer": "customer_id"}


def sla_by(scope: Scope, dim: str, limit: int = 50) -> list[dict]:
    """SLA attainment (targets met in time / met or breached), overdue rate (breached / all
    targets) and average first response per team, type, priority or customer."""
    col = SLA_DIMENSIONS[dim]
    if dim == "customer" or scope.needs_facts:
        rows = grouped(facts_q(scope), (col,), DAILY)
    else:
        rows = _daily(scope, (col,))
    out = []
    for r in rows:
        out.append({"key": r[col], "created": int(r["created"]),
                    "attainment": _ratio(r["sla_met"], r["sla_met"] + r["sla_breached"]),
                    "overdue_rate": _ratio(r["sla_breached"], r["sla_targets"]), "breached": int(r["sla_breached"]),
                    "response_avg_s": _ratio(r["response_s"], r["responded"]),
                    "response_attainment": _ratio(r["response_met"], r["response_targets"])})
    out.sort(key=lambda x: (-(x["breached"]), -x["created"], str(x["key"])))
    return out[:limit]


REPEAT_DIMENSIONS = {"customer": "customer_id", "asset": "asset_id", "fault_code": "fault_code"}


def repeats_by(scope: Scope, dim: str, limit: int = 20) -> list[dict]:
    """Repeat faults within 30 days (fieldwork's repeat links) per customer, asset or fault code:
    repeats, work orders created, and their ratio; most repeats first."""
    col = REPEAT_DIMENSIONS[dim]
    # the repeats first (few: read as rows and counted here; a GROUP BY would tempt SQLite into
    # walking the key's index over every fact of the period instead of the (repeat, day) index),
    # then how many work orders those keys had
    from collections import Counter

    counted = Counter(facts_q(scope, "repeat").values_list(col, flat=True).order_by())
    reps = [{col: k, "r": n} for k, n in sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]
    created = dict(facts_q(scope, **{f"{col}__in": [r[col] for r in reps]}).values(col).annotate(n=Count("pk"))
                   .values_list(col, "n"))
    out = [{"key": r[col], "repeats": r["r"], "created": created.get(r[col], 0),
            "rate": _ratio(r["r"], created.get(r[col], 0))} for r in reps]
    out.sort(key=lambda x: (-x["repeats"], -x["created"], str(x["key"])))
    return out


def _open_intervals(scope: Scope, by: str):
    """Open intervals started in the period, per (state, team|assignee): count and age so far.
    Without a customer or region filter from OpenStayRollup (age = count × now − the sum of the
    start times); with one from the stays themselves (summed in SQL)."""
    from django.db import connection
    from django.db.models.expressions import RawSQL

    col = "team_id" if by == "team" else "assignee_id"
    t = now()
    if not scope.needs_facts:
        epoch = t.timestamp()
        return {(state, key): [int(n), max(n * epoch - float(started or 0.0), 0.0)]
                for state, key, n, started in rolled(OpenStayRollup, scope, (col,)).values("state", col)
                .annotate(n=Sum("count"), s=Sum("started_s")).values_list("state", col, "n", "s").order_by()}
    if connection.vendor == "postgresql":
        age = RawSQL("GREATEST(EXTRACT(EPOCH FROM (%s::timestamptz - started_at)), 0)", (t,),
                     output_field=FloatField())
    else:
        age = RawSQL("MAX((julianday(%s) - julianday(started_at)) * 86400.0, 0.0)",
                     (t.astimezone(UTC).replace(tzinfo=None).isoformat(" "),), output_field=FloatField())
    out: dict = {}
    waiting = intervals_q(scope, ended_at__isnull=True)
    for s in sorted(TERMINAL):  # term by term, as the partial index an_interval_waiting says it
        waiting = waiting.exclude(state=s)
    for state, key, n, secs in (waiting
                                .values("state", col)
                                .annotate(n=Count("pk"), s=Sum(age)).values_list("state", col, "n", "s")
                                .order_by()):
        out[(state, key)] = [n, float(secs or 0.0)]
    return out


def heatmap(scope: Scope, by: str = "team") -> list[dict]:
    """Where work waits: per state × team (or × person), the intervals started in the period,
    closed ones with their length and open ones with their age so far; `hours` is the total
    waiting time (the colour), `avg_hours` the average stay. Worst (most hours) first."""
    col = "team_id" if by == "team" else "assignee_id"
    if scope.needs_facts:
        closed = grouped(intervals_q(scope, ended_at__isnull=False), ("state", col), state_aggregates())
    else:
        closed = grouped(rolled(StateRollup, scope), ("state", col), ROLLED)
    cells: dict = {}
    for r in closed:
        if r["state"] in TERMINAL:
            continue
        cells[(r["state"], r[col])] = [int(r["count"]), float(r["seconds"]), 0]
    for k, (n, secs) in _open_intervals(scope, by).items():
        if k[0] in TERMINAL:
            continue
        c = cells.setdefault(k, [0, 0.0, 0])
        c[0] += n
        c[1] += secs
        c[2] += n
    out = [{"state": s, "key": key, "count": n, "open": o, "hours": secs / 3600.0,
            "avg_hours": secs / 3600.0 / n if n else 0.0} for (s, key), (n, secs, o) in cells.items()]
    out.sort(key=lambda c: (-c["hours"], c["state"], c["key"] or 0))
    return out


def top_stuck(scope: Scope, n: int = 5, by: str = "team") -> list[dict]:
    """The TOP n stages where work gets stuck: the heat map's worst cells (total waiting hours)."""
    return [c for c in heatmap(scope, by) if c["hours"] > 0][:n]


def closed_stays(scope: Scope) -> list[tuple]:
    """(state, assignee_id, stays, seconds) of the closed stays started in the period: what the
    time in each state and the engineers' work hours are both summed from (one read for the two)."""
    if not scope.needs_facts:
        qs = rolled(StateRollup, scope).values("state", "assignee_id").annotate(
            n=Sum("count"), s=Sum("seconds"))
    else:
        qs = intervals_q(scope, ended_at__isnull=False).values("state", "assignee_id").annotate(
            n=Count("pk"), s=state_aggregates()["seconds"])
    return [(state, who, int(n or 0), float(secs or 0.0))
            for state, who, n, secs in qs.values_list("state", "assignee_id", "n", "s").order_by()]


def time_in_state(scope: Scope, stays: list[tuple] | None = None) -> list[dict]:
    """Average and total hours per state (closed stays started in the period), in flow order.
    `stays`: the scope's `closed_stays()` when the caller has it."""
    got: dict = {}
    for state, _who, n, secs in closed_stays(scope) if stays is None else stays:
        g = got.setdefault(state, [0, 0.0])
        g[0] += n
        g[1] += secs
    return [{"state": s, "count": got[s][0], "hours": got[s][1] / 3600.0,
             "avg_hours": got[s][1] / 3600.0 / got[s][0] if got[s][0] else 0.0}
            for s in WAIT_STATES if s in got]


def engineers(scope: Scope, limit: int = 50, stays: list[tuple] | None = None) -> list[dict]:
    """Per engineer (current assignee): work orders created in the period, work hours (on site
    and in progress, stays started in the period), shift hours in the roster over the period, and
    utilisation = work hours / shift hours. `stays`: the scope's `closed_stays()` when the caller has it."""
    from datetime import datetime, time

    from django.utils import timezone

    from closeloop.roster.models import Shift

    wos = {r["key"]: r["created"] for r in intake_by(scope, "assignee", limit=10_000) if r["key"]}
    work: dict = {}
    for state, who, _n, secs in closed_stays(scope) if stays is None else stays:
        if state in (S.ON_SITE, S.IN_PROGRESS) and who:
            work[who] = work.get(who, 0.0) + secs
    tz = timezone.get_default_timezone()
    lo = datetime.combine(scope.start, time.min, tz)
    hi = datetime.combine(scope.end + timedelta(days=1), time.min, tz)
    shifts: dict = {}
    for uid, a, b in Shift.objects.filter(kind=Shift.Kind.SHIFT, starts_at__lt=hi, ends_at__gt=lo,
                                          user_id__in=set(wos) | set(work)).values_list("user_id", "starts_at",
                                                                                          "ends_at"):
        shifts[uid] = shifts.get(uid, 0.0) + (min(b, hi) - max(a, lo)).total_seconds()
    out = [{"assignee_id": uid, "work_orders": wos.get(uid, 0), "work_hours": work.get(uid, 0.0) / 3600.0,
            "shift_hours": shifts.get(uid, 0.0) / 3600.0,
            "utilisation": _ratio(work.get(uid, 0.0), shifts.get(uid, 0.0))} for uid in set(wos) | set(work)]
    out.sort(key=lambda r: (-r["work_orders"], -r["work_hours"], r["assignee_id"]))
    return out[:limit]


def approvals(scope: Scope, summary: dict | None = None) -> dict:
    """Approval requests on work created in the period, and the shares approved automatically
    (an auto-approve rule) and bypassed (with a justification to follow). `summary`: the
    scope's `summary()` when the caller has it (the same rollup sums, not read twice)."""
    t = summary or _daily(scope)[0]
    r = {"n": int(t["approvals"] or 0), "auto": int(t["approvals_auto"] or 0),
         "bypassed": int(t["approvals_bypassed"] or 0)}
    return {"requests": r["n"], "auto": r["auto"], "bypassed": r["bypassed"],
            "auto_rate": _ratio(r["auto"], r["n"]), "bypass_rate": _ratio(r["bypassed"], r["n"])}


def _episode_sums(qs, group, **counts) -> list[dict]:
    """Episodes grouped in SQL: `n` (all), `decided` (ended), `seconds` (started → ended, the
    ended ones, rounded to the millisecond: SQLite's julianday arithmetic is not exact) and one
    count per keyword (a Q on Episode)."""
    from .refresh import _interval_seconds_expr

    aggs = {"n": Count("pk"), "decided": Count("pk", filter=Q(ended_at__isnull=False)),
            "seconds": Sum(_interval_seconds_expr(), filter=Q(ended_at__isnull=False), output_field=FloatField()),
            **{k: Count("pk", filter=q) for k, q in counts.items()}}
    rows = grouped(qs, group, aggs) if group else [qs.aggregate(**aggs)]
    for r in rows:
        r["seconds"] = round(float(r["seconds"] or 0.0), 3)
    return rows


def approvals_by_version(scope: Scope) -> list[dict]:
    """Per approval flow and version (before and after a change): requests, decided ones and
    their average duration (requested → decided), and how many were approved automatically,
    bypassed, rejected; the flow's versions in order."""
    out = []
    for r in _episode_sums(episodes_q(scope, "approval"), ("label", "version"), auto=Q(outcome="auto"),
                           bypassed=Q(outcome="bypassed"), rejected=Q(outcome="rejected")):
        out.append({"flow": r["label"], "version": r["version"], "requests": r["n"], "decided": r["decided"],
                    "seconds": r["seconds"], "auto": r["auto"], "bypassed": r["bypassed"],
                    "rejected": r["rejected"], "avg_s": _ratio(r["seconds"], r["decided"])})
    out.sort(key=lambda r: (r["flow"], r["version"]))
    return out


def approvals_by_level(scope: Scope) -> list[dict]:
    """Per approval flow and approver level (1 = the request's first approver step): steps,
    the average wait at that level (step opened → the request moved on), still waiting ones."""
    qs = episodes_q(scope, "step")
    names: dict = {}
    for label, level, name in qs.values_list("label", "level", "name").distinct().order_by():
        names.setdefault((label, level), set()).add(name)
    out = []
    for r in _episode_sums(qs, ("label", "level")):
        out.append({"flow": r["label"], "level": r["level"],
                    "names": " / ".join(sorted(n for n in names.get((r["label"], r["level"]), ()) if n)),
                    "steps": r["n"], "decided": r["decided"], "seconds": r["seconds"],
                    "waiting": r["n"] - r["decided"], "avg_s": _ratio(r["seconds"], r["decided"])})
    out.sort(key=lambda r: (r["flow"], r["level"]))
    return out


def ack_outcomes(scope: Scope) -> dict:
    """Acknowledge-or-escalate chains on the work created in the period: acknowledged on the
    first message, acknowledged after escalating (SMS, voice, backup person, supervisor), not
    acknowledged; the average time to acknowledge."""
    t = _episode_sums(episodes_q(scope, "ack"), (), first=Q(ended_at__isnull=False, level=0))[0]
    r = {"chains": t["n"], "acked_first": t["first"], "acked_escalated": t["decided"] - t["first"],
         "not_acked": t["n"] - t["decided"], "seconds": t["seconds"]}
    acked = r["acked_first"] + r["acked_escalated"]
    r["ack_rate"] = _ratio(acked, r["chains"])
    r["escalated_rate"] = _ratio(r["acked_escalated"], acked)
    r["avg_s"] = _ratio(r["seconds"], acked)
    return r


def handoff_quality(scope: Scope) -> list[dict]:
    """Handoff quality per handing-over department: handoffs, rated by the receiving one, the
    average score (1–5) and the poor ones (scored 1 or 2); worst average first."""
    rated = Q(outcome="rated", score__isnull=False)
    out = []
    for r in (episodes_q(scope, "handoff").values("from_team_id")
              .annotate(handoffs=Count("pk"), rated=Count("pk", filter=rated),
                        score_sum=Coalesce(Sum("score", filter=rated), 0),
                        poor=Count("pk", filter=rated & Q(score__lte=2))).order_by()):
        out.append({"team_id": r["from_team_id"], "handoffs": r["handoffs"], "rated": r["rated"],
                    "score_sum": r["score_sum"], "poor": r["poor"], "score_avg": _ratio(r["score_sum"], r["rated"])})
    out.sort(key=lambda r: (r["score_avg"] if r["score_avg"] is not None else 9, -r["handoffs"], r["team_id"]))
    return out


def ids_for_cell(scope: Scope, state: str, key: int, by: str = "team"):
    """The work orders behind one heat-map cell (a values_list of ids)."""
    col = "team_id" if by == "team" else "assignee_id"
    return intervals_q(scope, state=state, **{col: key}).values_list("work_order_id", flat=True).distinct()


__all__ = ["Scope", "summary", "resolution", "intake_by_day", "intake_by", "sla_by", "repeats_by", "heatmap", "top_stuck",
           "time_in_state", "closed_stays", "engineers", "approvals", "facts_q", "intervals_q", "episodes_q", "FLAGS", "F",
           "approvals_by_version", "approvals_by_level", "ack_outcomes", "handoff_quality"]
