"""When a plan is due, and the worker step ("maintenance.plans") that generates its work orders.

Occurrences. Each trigger names its occurrences with a key, per asset:
- calendar: "d<nominal date>" (the date the schedule gives, before moving it to a working day);
- age: "age<years>" (once per asset);
- meter: "m<n>" when the meter passed n × every (only the current multiple, no backlog);
- condition: "c<period>" where period = floor(unix time / window), with a cool-down of one
  window after the last occurrence of that asset (the 7th alarm of the month opens nothing).

Exactly once. Acting on an occurrence is one transaction: the unique (plan, asset, key) row
is inserted first (a concurrent worker's insert of the same key waits for it, then fails and
rolls back), then the work order is created through workorders.services (lifecycle effects,
rules, dispatch and SLA run as for any other), or the open one is noted/skipped. A crash
anywhere rolls back both; the next run finds the occurrence not done and does it.

The step claims one due plan at a time by a compare-and-set on `leased_until` (a lease, so a
killed worker's plan is taken again after LEASE), evaluates it over the assets in its scope
and sets `next_check_at` (unless telemetry's ingest listener moved it meanwhile).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dateutil.relativedelta import relativedelta
from dateutil.rrule import DAILY, MONTHLY, WEEKLY, rrule, rrulestr
from django.db import IntegrityError, transaction
from django.db.models import Min, Q
from django.utils import timezone

from closeloop.core.clock import now
from closeloop.customers.models import Asset
from closeloop.workorders.lifecycle import TERMINAL

from . import sources
from .models import AgeBasis, Anchor, Occurrence, OnOpen, Plan, Scope, Trigger, Unit

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=float(os.environ.get("CLOSELOOP_MAINTENANCE_LEASE", "300")))
MAX_CREATE = 50  # work orders one step creates at most (then it says more is waiting)
POLL = {
    Trigger.CALENDAR: timedelta(hours=1),
    Trigger.AGE: timedelta(hours=1),
    Trigger.METER: timedelta(minutes=15),
    Trigger.CONDITION: timedelta(minutes=15),
}
MAX_SHIFT_DAYS = 60


@dataclass(frozen=True)
class Due:
    asset_id: int
    key: str
    due: date
    generate_on: date  # due - lead time


# ---- scope and calendars ------------------------------------------------------------------------


def assets_of(plan: Plan):
    qs = Asset.objects.filter(is_active=True)
    if plan.scope == Scope.ASSET:
        return qs.filter(pk=plan.asset_id) if plan.asset_id else qs.none()
    if plan.scope == Scope.MODEL:
        return qs.filter(model=plan.asset_model) if plan.asset_model else qs.none()
    return qs.filter(batch=plan.batch) if plan.batch else qs.none()


def working_day_test(plan: Plan):
    """day -> is it a working day in the plan's business calendar (None: every day is)."""
    if not plan.calendar_key:
        return None
    from closeloop.sla.models import BusinessCalendar

    cal = BusinessCalendar.objects.filter(key=plan.calendar_key).first()
    if cal is None:
        return None
    spec = cal.spec()
    return lambda d: bool(spec.hours_on(d))


def shift(day: date, is_working) -> date:
    """The next working day on or after `day`."""
    if is_working is None:
        return day
    for i in range(MAX_SHIFT_DAYS):
        if is_working(day + timedelta(days=i)):
            return day + timedelta(days=i)
    return day


def step_of(plan: Plan) -> relativedelta:
    n = plan.every or 1
    return {Unit.DAY: relativedelta(days=n), Unit.WEEK: relativedelta(weeks=n)}.get(
        plan.unit, relativedelta(months=n)
    )


def nominal_dates(plan: Plan, start: date, *, after: date | None = None, count: int = 1):
    """The schedule's dates from `start` (included), the first `count` of them after `after`."""
    if plan.rrule:
        rule = rrulestr(plan.rrule, dtstart=datetime.combine(start, time()), ignoretz=True)
        base = datetime.combine(after, time()) if after else None
        out = []
        cur = rule.after(base, inc=False) if base else rule.after(datetime.combine(start, time()), inc=True)
        while cur is not None and len(out) < count:
            out.append(cur.date())
            cur = rule.after(cur, inc=False)
        return out
    step = step_of(plan)
    out: list[date] = []
    k = 0
    if after is not None and after >= start:
        # jump close to `after` without walking every step from a start years back
        approx = {
            Unit.DAY: (after - start).days // max(plan.every or 1, 1),
            Unit.WEEK: (after - start).days // (7 * max(plan.every or 1, 1)),
        }.get(
            plan.unit, ((after.year - start.year) * 12 + after.month - start.month) // max(plan.every or 1, 1)
        )
        k = max(approx - 1, 0)
    while len(out) < count and k < 100000:
        d = start + step * k
        if after is None or d > after:
            out.append(d)
        k += 1
    return out


def rrule_problem(value: str) -> str | None:
    try:
        rule = rrulestr(value, dtstart=datetime(2026, 1, 1), ignoretz=True)
        if not isinstance(rule, rrule):
            return "one RRULE only"
        rule.after(datetime(2026, 1, 1), inc=True)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return str(exc) or "invalid"
    return None


_ = (DAILY, WEEKLY, MONTHLY)  # the frequencies every/unit stands for (documented in docs/maintenance.md)


def plan_start(plan: Plan) -> date:
    return plan.start_date or timezone.localdate(plan.created_at)


# ---- what is due ----------------------------------------------------------------------------------


def _history(plan: Plan, asset_ids) -> dict[int, list[dict]]:
    rows = Occurrence.objects.filter(plan=plan, asset_id__in=asset_ids).values(
        "asset_id", "key", "due", "at", "work_order__status", "work_order__resolved_at"
    )
    out: dict[int, list[dict]] = {}
    for r in rows:
        out.setdefault(r["asset_id"], []).append(r)
    return out


def _calendar_due(plan: Plan, asset_ids, today: date, is_working) -> list[Due]:
    out = []
    lead = timedelta(days=plan.lead_days)
    start = plan_start(plan)
    hist = _history(plan, asset_ids)
    for aid in asset_ids:
        done = {r["key"] for r in hist.get(aid, [])}
        if plan.anchor == Anchor.COMPLETION:
            nominal = _next_after_completion(plan, hist.get(aid, []), start)
            if nominal is None:
                continue
            cand = [nominal]
        else:
            # the latest nominal date whose generation day has come (no backlog of missed ones)
            horizon = today + lead
            cand = []
            for d in nominal_dates(
                plan, start, after=max(start - timedelta(days=1), horizon - timedelta(days=400)), count=500
            ):
                if shift(d, is_working) - lead > today:
                    break
                cand = [d]
        for d in cand:
            due = shift(d, is_working)
            if due - lead <= today and f"d{d.isoformat()}" not in done:
                out.append(Due(aid, f"d{d.isoformat()}", due, due - lead))
    return out


def _next_after_completion(plan: Plan, rows: list[dict], start: date) -> date | None:
    """The next nominal date counted from the last completion (or cancellation) of this plan's
    work on the asset; None while the last one is still open."""
    if not rows:
        return start
    latest = max(rows, key=lambda r: r["at"])
    if (
        latest["work_order__status"] is not None
        and latest["work_order__status"] not in TERMINAL
        and latest["work_order__resolved_at"] is None
    ):
        return None
    base = None
    for r in rows:
        if r["work_order__resolved_at"] is not None:
            d = timezone.localdate(r["work_order__resolved_at"])
            base = d if base is None or d > base else base
        elif r["work_order__status"] in TERMINAL or r["work_order__status"] is None:
            base = r["due"] if base is None or r["due"] > base else base
    base = base or start
    if plan.rrule:
        nxt = nominal_dates(plan, start, after=base, count=1)
        return nxt[0] if nxt else None
    return base + step_of(plan)


def _age_basis(plan: Plan, assets: list[Asset]) -> dict[int, date]:
    if plan.age_basis == AgeBasis.BATCH:
        batches = {a.batch for a in assets if a.batch}
        oldest = dict(
            Asset.objects.filter(batch__in=batches, install_date__isnull=False)
            .values("batch")
            .annotate(d=Min("install_date"))
            .values_list("batch", "d")
        )
        return {a.pk: oldest[a.batch] for a in assets if a.batch in oldest}
    return {a.pk: a.install_date for a in assets if a.install_date}


def _age_due(plan: Plan, assets: list[Asset], today: date, is_working) -> list[Due]:
    years = plan.age_years or 0
    lead = timedelta(days=plan.lead_days)
    key = f"age{years}"
    done = set(Occurrence.objects.filter(plan=plan, key=key).values_list("asset_id", flat=True))
    out = []
    for aid, born in _age_basis(plan, assets).items():
        due = shift(born + relativedelta(years=years), is_working)
        if due - lead <= today and aid not in done:
            out.append(Due(aid, key, due, due - lead))
    return out


def _meter_due(plan: Plan, asset_ids, at: datetime, today: date) -> list[Due]:
    if not plan.meter_kind or not plan.meter_every:
        return []
    values = sources.meter_values(kind=plan.meter_kind, asset_ids=list(asset_ids), at=at)
    out = []
    for aid, v in values.items():
        n = int(float(v) // plan.meter_every)
        if n >= 1:
            out.append(Due(aid, f"m{n}", today, today))
    if out:
        done = set(
            Occurrence.objects.filter(plan=plan, key__in={d.key for d in out}).values_list("asset_id", "key")
        )
        out = [d for d in out if (d.asset_id, d.key) not in done]
    return out


def _condition_due(plan: Plan, asset_ids, at: datetime, today: date) -> list[Due]:
    window = timedelta(days=max(plan.window_days, 1))
    ids = list(asset_ids)
    if plan.alarm_kind and plan.alarm_count:
        counts = sources.alarm_counts(kind=plan.alarm_kind, since=at - window, until=at, asset_ids=ids)
        matched = {aid for aid, c in counts.items() if c >= plan.alarm_count}
    elif plan.condition_id:
        matched = sources.assets_matching(plan.condition_id, at=at, asset_ids=ids)
    else:
        matched = set()
    matched &= set(ids)
    if not matched:
        return []
    recent = set(
        Occurrence.objects.filter(plan=plan, asset_id__in=matched, at__gt=at - window).values_list(
            "asset_id", flat=True
        )
    )
    period = int(at.timestamp() // window.total_seconds())
    return [Due(aid, f"c{period}", today, today) for aid in sorted(matched - recent)]


def due_occurrences(plan: Plan, at: datetime) -> list[Due]:
    """What of `plan` is due at `at` and not yet acted on, per asset."""
    today = timezone.localdate(at)
    assets = list(assets_of(plan).only("id", "install_date", "batch"))
    ids = [a.pk for a in assets]
    if not ids:
        return []
    if plan.trigger == Trigger.CALENDAR:
        return _calendar_due(plan, ids, today, working_day_test(plan))
    if plan.trigger == Trigger.AGE:
        return _age_due(plan, assets, today, working_day_test(plan))
    if plan.trigger == Trigger.METER:
        return _meter_due(plan, ids, at, today)
    return _condition_due(plan, ids, at, today)


# ---- acting on one occurrence -----------------------------------------------------------------


def render_title(plan: Plan, asset: Asset, due: date) -> str:
    values = {
        "plan": plan.name,
        "asset": asset.name,
        "serial": asset.serial_number,
        "model": asset.model,
        "batch": asset.batch,
        "due": due.isoformat(),
    }
    out = plan.title_template or "{plan}"
    for k, v in values.items():
        out = out.replace("{" + k + "}", v or "")
    return out[:200]


def describe(plan: Plan, due: date, key: str) -> str:
    from django.conf import settings
    from django.utils import translation
    from django.utils.translation import gettext as _

    with translation.override(settings.LANGUAGE_CODE):
        lines = [
            _("Planned maintenance: %(plan)s (due %(due)s, occurrence %(key)s)")
            % {"plan": plan.name, "due": due.isoformat(), "key": key}
        ]
        if plan.checklist:
            lines += ["", _("Checklist:")] + [f"- [ ] {s}" for s in plan.checklist]
        if plan.parts:
            lines += ["", _("Parts:")] + [f"- #{p['part_id']} × {p['quantity']}" for p in plan.parts]
    return "\n".join(lines)


def _open_work_order(plan: Plan, asset_id: int, exclude_pk: int):
    occ = (
        Occurrence.objects.filter(plan=plan, asset_id=asset_id, work_order__isnull=False)
        .exclude(pk=exclude_pk)
        .exclude(work_order__status__in=TERMINAL)
        .select_related("work_order")
        .order_by("-at", "-id")
        .first()
    )
    return occ.work_order if occ else None


def act(plan: Plan, d: Due, at: datetime) -> Occurrence | None:
    """Act on one due occurrence in one transaction; None when another worker already did."""
    from django.conf import settings
    from django.utils import translation
    from django.utils.translation import gettext as _

    from closeloop.workorders import services as wo_services

    asset = Asset.objects.get(pk=d.asset_id)
    with transaction.atomic():
        try:
            with transaction.atomic():
                occ = Occurrence.objects.create(
                    plan=plan, asset=asset, key=d.key, due=d.due, outcome=Occurrence.Outcome.CREATED, at=at
                )
        except IntegrityError:
            return None
        open_wo = _open_work_order(plan, asset.pk, occ.pk)
        if open_wo is not None:
            occ.work_order = open_wo
            if plan.on_open == OnOpen.MERGE:
                occ.outcome = Occurrence.Outcome.MERGED
                with translation.override(settings.LANGUAGE_CODE):
                    body = _(
                        "Maintenance plan %(plan)s is due again (%(due)s, occurrence %(key)s): merged "
                        "into this open work order."
                    ) % {"plan": plan.name, "due": d.due.isoformat(), "key": d.key}
                wo_services.do_add_comment(actor=plan.owner, wo=open_wo, body=body, public=False)
            else:
                occ.outcome = Occurrence.Outcome.SKIPPED
        else:
            data = {
                "type": plan.wo_type.key,
                "title": render_title(plan, asset, d.due),
                "description": describe(plan, d.due, d.key),
                "priority": plan.priority,
                "asset": asset.serial_number,
            }
            if plan.custom:
                data["custom"] = dict(plan.custom)
            if plan.team_id:
                data["team"] = plan.team.code
            if plan.assignee_id:
                data["assignee"] = plan.assignee.username
            occ.work_order = wo_services.do_create_work_order(actor=plan.owner, data=data)
            occ.reserved = sources.reserve_parts(
                actor=plan.owner, work_order=occ.work_order, items=[dict(p) for p in plan.parts]
            )
        occ.save(update_fields=["work_order", "outcome", "reserved"])
    return occ


def run_plan(plan: Plan, at: datetime) -> tuple[int, bool]:
    """Act on what is due of `plan` (at most MAX_CREATE). Returns (acted, more waiting)."""
    if not plan.owner.is_active:
        return 0, False
    due = due_occurrences(plan, at)
    acted, error = 0, ""
    for d in due[:MAX_CREATE]:
        try:
            if act(plan, d, at) is not None:
                acted += 1
        except Exception as exc:  # one asset's failure (rolled back) must not stop the others
            log.exception("maintenance plan %s failed on asset %s", plan.pk, d.asset_id)
            error = f"{d.asset_id}: {exc}"[:500]
    if error != plan.last_error:
        Plan.objects.filter(pk=plan.pk).update(last_error=error)
        plan.last_error = error
    return acted, len(due) > MAX_CREATE


# ---- the worker step ------------------------------------------------------------------------------


def _claimable(at: datetime):
    return Plan.objects.filter(enabled=True, next_check_at__lte=at).filter(
        Q(leased_until__isnull=True) | Q(leased_until__lt=at)
    )


def next_plan_at() -> datetime | None:
    return (
        Plan.objects.filter(enabled=True, next_check_at__isnull=False)
        .order_by("next_check_at")
        .values_list("next_check_at", flat=True)
        .first()
    )


def run_due_plans(worker_id: str = "worker", at: datetime | None = None) -> bool:
    """One due plan. Returns whether more may be waiting."""
    at = at or now()
    row = _claimable(at).order_by("next_check_at", "id").values("id", "next_check_at", "leased_until").first()
    if row is None:
        return False
    lease = at + LEASE
    claim = Plan.objects.filter(pk=row["id"])
    claim = (
        claim.filter(leased_until__isnull=True)
        if row["leased_until"] is None
        else claim.filter(leased_until=row["leased_until"])
    )
    if not claim.update(leased_until=lease):
        return True  # another worker took it
    plan = Plan.objects.select_related("owner", "wo_type", "team", "assignee").get(pk=row["id"])
    _acted, more = run_plan(plan, at)
    nxt = at if more else at + POLL.get(plan.trigger, timedelta(hours=1))
    # keep a check that telemetry's ingest listener asked for meanwhile
    Plan.objects.filter(pk=plan.pk, next_check_at=row["next_check_at"]).update(next_check_at=nxt)
    Plan.objects.filter(pk=plan.pk, leased_until=lease).update(leased_until=None, last_run_at=at)
    return more or _claimable(at).exists()


def on_ingest(asset_ids, kinds) -> None:
    """telemetry's ingest listener: make the plans that read these kinds due now (one UPDATE; the
    worker does the evaluation)."""
    kinds = [k for k in (kinds or []) if k]
    t = now()
    qs = Plan.objects.filter(enabled=True, next_check_at__gt=t)
    qs = qs.filter(
        Q(trigger=Trigger.CONDITION, alarm_kind__in=kinds)
        | Q(trigger=Trigger.METER, meter_kind__in=kinds)
        | Q(trigger=Trigger.CONDITION, condition_id__isnull=False)
    )
    qs.update(next_check_at=t)
