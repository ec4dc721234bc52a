"""The schedule trigger: a worker step (core.jobs "rules.schedule") that runs due scheduled
rules over the open work orders in their scope.

A rule with trigger "schedule" runs every `schedule_minutes` (5..10080). Time is cut into
periods of that length (period = floor(unix time / length)); a rule fires at most once per
work order per period: each firing inserts a ScheduleFiring row (rule, work order, period)
that is unique, so two workers never fire twice. A run is claimed by a compare-and-set on
`next_run_at` (moved a lease ahead); a worker that dies leaves the lease, which expires, and
the run is redone (the unique rows skip what already fired). A run looks at SCHEDULE_BATCH
work orders at most (in id order); when there are more it carries on from `schedule_cursor`
in the next step, in the same period. Otherwise `next_run_at` becomes the start of the next
period and `last_run_at` records the run.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction

from closeloop.core.clock import now
from closeloop.workorders.lifecycle import TERMINAL
from closeloop.workorders.models import WorkOrder

from .models import Rule, ScheduleFiring, Trigger

log = logging.getLogger(__name__)

SCHEDULE_BATCH = 500
MIN_MINUTES, MAX_MINUTES = 5, 10080
LEASE = timedelta(seconds=float(os.environ.get("CLOSELOOP_RULES_LEASE", "120")))


def period_of(rule: Rule, at: datetime) -> int:
    return int(at.timestamp() // (rule.schedule_minutes * 60))


def period_start(rule: Rule, period: int) -> datetime:
    return datetime.fromtimestamp(period * rule.schedule_minutes * 60, tz=UTC)


def _due(at: datetime):
    return Rule.objects.filter(enabled=True, trigger=Trigger.SCHEDULE, schedule_minutes__isnull=False,
                               next_run_at__lte=at)


def next_schedule_at() -> datetime | None:
    return Rule.objects.filter(enabled=True, trigger=Trigger.SCHEDULE, next_run_at__isnull=False) \
        .order_by("next_run_at").values_list("next_run_at", flat=True).first()


def run_due_schedules(worker_id: str = "worker", at: datetime | None = None) -> bool:
    """One due rule, at most SCHEDULE_BATCH work orders. Returns whether more may be waiting."""
    at = at or now()
    row = _due(at).order_by("next_run_at", "id").values("id", "next_run_at").first()
    if row is None:
        return False
    lease_until = at + LEASE
    won = Rule.objects.filter(pk=row["id"], next_run_at=row["next_run_at"]).update(next_run_at=lease_until)
    if not won:
        return True  # another worker took it
    rule = Rule.objects.select_related("owner").get(pk=row["id"])
    more = run_rule(rule, at)
    period = period_of(rule, at)
    Rule.objects.filter(pk=rule.pk, next_run_at=lease_until).update(
        next_run_at=at if more else period_start(rule, period + 1), last_run_at=at,
        schedule_cursor=rule.schedule_cursor if more else 0)
    return more or _due(at).exists()


def candidates(rule: Rule):
    from closeloop.workorders.selectors import visible_work_orders

    qs = visible_work_orders(rule.owner).exclude(status__in=TERMINAL)
    if rule.scope_type_id:
        qs = qs.filter(wo_type_id=rule.scope_type_id)
    if rule.scope_team_id:
        qs = qs.filter(team_id=rule.scope_team_id)
    return qs


def run_rule(rule: Rule, at: datetime) -> bool:
    """Evaluate `rule` over its next batch of open work orders in scope that it has not fired
    on in this period; fire where the condition holds. Sets rule.schedule_cursor; returns
    whether work orders are left for this period."""
    from . import runner

    period = period_of(rule, at)
    if rule.last_run_at is None or period_of(rule, rule.last_run_at) != period:
        rule.schedule_cursor = 0
        ScheduleFiring.objects.filter(rule=rule, period__lt=period - 1).delete()
    if not rule.owner.is_active:
        return False
    fired_here = ScheduleFiring.objects.filter(rule=rule, period=period).values("work_order_id")
    ids = list(candidates(rule).filter(id__gt=rule.schedule_cursor).exclude(id__in=fired_here)
               .order_by("id").values_list("id", flat=True)[:SCHEDULE_BATCH])
    libs = runner.libraries()

    def claim(r, wo) -> bool:
        try:
            with transaction.atomic():
                ScheduleFiring.objects.create(rule=r, work_order=wo, period=period, fired_at=at)
        except IntegrityError:
            return False  # another worker fired it in this period
        return True

    related = ("wo_type", "customer", "site", "team", "assignee", "asset", "created_by")
    for start in range(0, len(ids), 100):
        for wo in WorkOrder.objects.filter(id__in=ids[start:start + 100]).select_related(*related).order_by("id"):
            chain = runner.Chain(libraries=libs)
            chain.visible[(rule.owner_id, wo.pk)] = True
            token = runner._chain.set(chain)
            try:
                with transaction.atomic():
                    runner.run(wo, trigger=Trigger.SCHEDULE, event={"action": "schedule", "period": period},
                               rules=[rule], before_fire=claim)
            except Exception:  # one work order's failure (rolled back) must not stop the others
                log.exception("scheduled rule %s failed on work order %s", rule.pk, wo.pk)
            finally:
                runner._chain.reset(token)
    if len(ids) == SCHEDULE_BATCH:
        rule.schedule_cursor = ids[-1]
        return True
    rule.schedule_cursor = 0
    return False
