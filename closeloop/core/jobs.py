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
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Job:
    name: str
    step: Callable[[str], bool]
    next_at: Callable[[], datetime | None] | None
    order: int = 50
    on_stop: Callable[[str], None] | None = None


_jobs: dict[str, Job] = {}
OPTIONS: dict = {"batch": 10}


@dataclass
class StepStats:
    """What one step did in this worker process since it started (closeloop.ops reports it)."""

    runs: int = 0      # calls
    busy: int = 0      # calls that found work
    errors: int = 0    # calls that raised
    seconds: float = 0.0
    buckets: list[int] = field(default_factory=list)  # cumulative counts per BUCKETS bound


#: Step duration histogram bounds, seconds (the last bucket is +Inf).
BUCKETS = (0.005, 0.025, 0.1, 0.5, 2.5, 10.0, 60.0)
STATS: dict[str, StepStats] = {}


def record(name: str, seconds: float, *, busy: bool = False, error: bool = False) -> None:
    """Count one run of a step (the worker calls it around every step)."""
    st = STATS.get(name)
    if st is None:
        st = STATS[name] = StepStats(buckets=[0] * (len(BUCKETS) + 1))
    st.runs += 1
    st.busy += busy
    st.errors += error
    st.seconds += seconds
    for i, bound in enumerate(BUCKETS):
        if seconds <= bound:
            st.buckets[i] += 1
    st.buckets[-1] += 1


def register(name: str, *, step: Callable[[str], bool], next_at: Callable[[], datetime | None] | None = None,
             order: int = 50, on_stop: Callable[[str], None] | None = None) -> None:
    """`on_stop(worker_id)`, if given, runs once when the worker exits cleanly."""
    _jobs[name] = Job(name, step, next_at, order, on_stop)


def unregister(name: str) -> None:
    _jobs.pop(name, None)


def registered() -> list[Job]:
    return sorted(_jobs.values(), key=lambda j: (j.order, j.name))
