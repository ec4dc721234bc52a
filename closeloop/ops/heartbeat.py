"""The worker's heartbeat: step `ops.heartbeat` (order 0, first of every tick) writes this
worker's row at most every CLOSELOOP_HEARTBEAT_SECONDS (default 5) and never counts as work;
a worker that stops cleanly writes its last counters and `stopped_at` (readiness then no
longer counts it). Rows of workers not seen for a week are removed by a starting worker."""

import os
import time
from dataclasses import asdict
from datetime import timedelta

from closeloop.core import jobs
from closeloop.core.clock import now

from .models import WorkerHeartbeat

INTERVAL = float(os.environ.get("CLOSELOOP_HEARTBEAT_SECONDS", "5"))
FORGET_AFTER = timedelta(days=7)

_last: dict[str, float] = {}   # worker id -> monotonic time of its last write
_started: dict[str, object] = {}


def beat(worker_id: str, *, force: bool = False, stopping: bool = False) -> bool:
    worker_id = worker_id[:64]
    last = _last.get(worker_id)
    if not force and not stopping and last is not None and time.monotonic() - last < INTERVAL:
        return False
    t = now()
    _started.setdefault(worker_id, t)
    stats = {name: asdict(st) for name, st in jobs.STATS.items()}
    values = {"seen_at": t, "stats": stats, "stopped_at": t if stopping else None}
    if last is None:  # this process's first beat (a restarted worker may keep its --id)
        values["started_at"] = _started[worker_id]
        WorkerHeartbeat.objects.filter(seen_at__lt=t - FORGET_AFTER).delete()
    WorkerHeartbeat.objects.update_or_create(worker=worker_id, defaults=values,
                                             create_defaults={"started_at": _started[worker_id], **values})
    _last[worker_id] = time.monotonic()
    return False


def stopped(worker_id: str) -> None:
    """The worker exits cleanly: its last counters, and it no longer counts as running."""
    beat(worker_id, stopping=True)
