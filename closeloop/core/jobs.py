"""Steps other apps add to `closeloop worker`, without editing the worker.

    from closeloop.core import jobs
    jobs.register("rules.schedule", step=run_due_schedules, next_at=next_schedule_at)

`step(worker_id) -> bool` does at most a small batch of due work in its own transactions and
returns whether more may be waiting; `next_at() -> datetime | None` is the earliest time it
will have work (the idle worker sleeps until the soonest of all). Claims must be leases or
compare-and-set updates so that several workers (PostgreSQL) never do one item twice.

For a one-off timer ("if nobody acknowledges in 10 minutes, send SMS") prefer a delayed outbox
row: outbox.services.enqueue(kind, key, payload, at=due) is durable, leased and retried.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Job:
    name: str
    step: Callable[[str], bool]
    next_at: Callable[[], datetime | None] | None


_jobs: dict[str, Job] = {}


def register(name: str, *, step: Callable[[str], bool], next_at: Callable[[], datetime | None] | None = None) -> None:
    _jobs[name] = Job(name, step, next_at)


def unregister(name: str) -> None:
    _jobs.pop(name, None)


def registered() -> list[Job]:
    return list(_jobs.values())
