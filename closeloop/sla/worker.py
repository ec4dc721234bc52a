"""The SLA timer step of the worker (core/management/commands/worker.py).

handle_one_sla_check claims the earliest due SLATarget in its own short
transaction: a compare-and-set on `next_check_at` (with SKIP LOCKED on PostgreSQL)
that moves it LEASE into the future and stamps a claim token. Then, in a second
transaction, it locks the work order, fires due ladder levels and recomputes the
ledger, which writes the real next timer. A worker killed between the two leaves
the lease behind: the row comes due again when the lease expires and another
worker (or the same one restarted) does the work. Escalation's unique constraint
makes each level fire once, whatever races.
"""

import os
import uuid
from datetime import datetime, timedelta

from django.db import connection, transaction

from closeloop.core.clock import now
from closeloop.workorders.models import WorkOrder

from .models import SLATarget
from .services import fire_due_levels

#: How long a claim holds before another worker may redo it (a crashed worker's items
#: wait this long). Overridable for tests of real crashes.
LEASE = timedelta(seconds=float(os.environ.get("CLOSELOOP_SLA_LEASE", "30")))


def claim_sla_checks(worker_id: str, at: datetime, limit: int = 1) -> list[tuple[int, int, str]]:
    """Claim up to `limit` due targets, earliest first. Returns [(target id, work order
    id, claim token)]; empty when nothing is due (or other workers won what we saw)."""
    token = f"{worker_id}:{uuid.uuid4().hex[:12]}"[:40]
    with transaction.atomic():
        qs = SLATarget.objects.filter(next_check_at__lte=at).order_by("next_check_at")
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        ids = list(qs.values_list("id", flat=True)[:limit])
        if not ids:
            return []
        # Compare-and-set: only rows still due change (a claimed row's timer is in the
        # future until its lease runs out), and the token says which ones we won.
        SLATarget.objects.filter(id__in=ids, next_check_at__lte=at).update(
            next_check_at=at + LEASE, claim_token=token)
        won = list(SLATarget.objects.filter(id__in=ids, claim_token=token).order_by("next_check_at", "id")
                   .values_list("id", "work_order_id"))
    return [(t, w, token) for t, w in won]


def claim_one_sla_check(worker_id: str, at: datetime) -> tuple[int, int, str] | None:
    won = claim_sla_checks(worker_id, at, 1)
    return won[0] if won else None


def process_claimed(work_order_id: int, worker_id: str, at: datetime) -> list:
    with transaction.atomic():
        qs = WorkOrder.objects.select_related("wo_type", "customer", "site", "team", "assignee", "asset")
        if connection.features.has_select_for_update:
            qs = qs.select_for_update(of=("self",))
        wo = qs.get(pk=work_order_id)
        return fire_due_levels(wo, at=at, worker=worker_id)


def handle_one_sla_check(worker_id: str = "worker", at: datetime | None = None, batch: int = 1) -> bool:
    """Process due SLA timers: one, or up to `batch` claimed together (one claim
    transaction for several items; each work order is still its own transaction).
    Returns whether more work may be waiting."""
    at = at or now()
    claimed = claim_sla_checks(worker_id, at, batch)
    if not claimed:
        # Lost a race for rows that are now leased: look again; nothing due: idle.
        return SLATarget.objects.filter(next_check_at__lte=at).exists()
    seen = set()
    for _target, wo_id, _token in claimed:
        if wo_id not in seen:  # one pass covers all of a work order's targets
            seen.add(wo_id)
            process_claimed(wo_id, worker_id, at)
    return True


def next_sla_check_at() -> datetime | None:
    return SLATarget.objects.filter(next_check_at__isnull=False).order_by("next_check_at") \
        .values_list("next_check_at", flat=True).first()
