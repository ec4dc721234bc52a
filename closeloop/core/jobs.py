"""Steps other apps add to `closeloop worker`, without editing the worker.

    from closeloop.core import jobs
    jobs.register("rules.schedule", step=run_due_schedules, next_at=next_schedule_at, order=40)

`step(worker_id) -> bool` does at most a small batch of due work in its own transactions and
returns whether more may be waiting; `next_at() -> datetime | None` is the earliest time it
will have work (the idle worker sleeps until the soonest of all). Each tick runs every step
once, in `order` (then name): today sla.timers 10, outbox 20, notify.fan_out 30,
notify.deliver 31, rules.schedule 40. `OPTIONS` holds what the worker was started with
(`batch`: SLA timers claimed at once). Claims must be leases or
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
    order: int = 50


_jobs: dict[str, Job] = {}
OPTIONS: dict = {"batch": 10}


def register(name: str, *, step: Callable[[str], bool], next_at: Callable[[], datetime | None] | None = None,
             order: int = 50) -> None:
    _jobs[name] = Job(name, step, next_at, order)


def unregister(name: str) -> None:
    _jobs.pop(name, None)


def registered() -> list[Job]:
    return sorted(_jobs.values(), key=lambda j: (j.order, j.name))
