"""`closeloop worker`: runs the steps apps register with core.jobs (SLA timers, the
outbox, notification fan-out and delivery, scheduled rules), in their order.

Any number against PostgreSQL, one against SQLite (DESIGN.md §4). Each step is a
`handle_one_*` that returns whether more work may be waiting; when nothing is, the
worker sleeps until the earliest deadline or --poll seconds, whichever is sooner. On
PostgreSQL it also LISTENs (core.wakeup): a web process that writes new work sends a
NOTIFY on commit and the idle workers start at once, so the poll (5 s there) is only the
safety net; on SQLite new rows are seen on the next poll (0.5 s). Its work per tick is
one indexed query per timer table, whatever the number of open work orders.

SIGTERM / SIGINT: finish the item in hand, then exit. SIGKILL at any instant loses
nothing: claims are leases that expire (sla.worker, outbox.services).
"""

import logging
import os
import secrets
import signal
import socket
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from closeloop.core import jobs, wakeup
from closeloop.core.clock import now

log = logging.getLogger("closeloop.worker")


class Command(BaseCommand):
    help = "Process due SLA timers (escalations) and the outbox until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--poll", type=float, default=None,
                            help="Seconds between looks for new work when idle (default CLOSELOOP_WORKER_POLL, "
                                 "else 0.5 on SQLite and 5 on PostgreSQL, where NOTIFY wakes it sooner).")
        parser.add_argument("--until-idle", action="store_true", help="Exit when nothing is due.")
        parser.add_argument("--max-seconds", type=float, default=0, help="Exit after this long (0: never).")
        parser.add_argument("--id", default="", help="Worker name in claims (default host:pid:random).")
        parser.add_argument("--batch", type=int, default=10,
                            help="Due SLA timers claimed at once (each work order is still its own transaction).")
        parser.add_argument("--parent-pid", type=int, default=0,
                            help="Exit when this process is gone (used by `closeloop serve`).")

    def handle(self, *args, poll, until_idle, max_seconds, id, parent_pid, batch, **options):
        # host:pid alone is not unique: replicas sharing a network namespace (compose's
        # network_mode: service:web) share the host name, and in a container every pid is 1.
        worker_id = id or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        jobs.OPTIONS["batch"] = batch
        self.stopping = False

        def stop(signum, frame):
            self.stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.listener = None if until_idle else wakeup.listener()
        if poll is None:
            poll = float(os.environ.get("CLOSELOOP_WORKER_POLL") or (5.0 if self.listener else 0.5))
        started = time.monotonic()
        done = 0
        if options.get("verbosity", 1) > 1:
            self.stdout.write(f"worker {worker_id} started")
        while not self.stopping:
            if max_seconds and time.monotonic() - started > max_seconds:
                break
            if parent_pid and os.getppid() != parent_pid:
                break  # the server that started us is gone (even by SIGKILL)
            try:
                busy = False
                for job in jobs.registered():
                    t0 = time.perf_counter()
                    try:
                        more = job.step(worker_id)
                    except Exception:
                        jobs.record(job.name, time.perf_counter() - t0, error=True)
                        raise
                    jobs.record(job.name, time.perf_counter() - t0, busy=bool(more))
                    busy = more or busy
            except Exception:  # a lost database connection must not kill the worker
                log.exception("worker step failed")
                close_old_connections()
                time.sleep(poll)
                continue
            if busy:
                done += 1
                continue
            if until_idle:
                break
            self._sleep(poll)
        for job in jobs.registered():
            if job.on_stop:
                try:
                    job.on_stop(worker_id)
                except Exception:
                    log.exception("worker stop hook %s failed", job.name)
        if self.listener:
            self.listener.close()
        if options.get("verbosity", 1) > 1:
            self.stdout.write(f"worker {worker_id} stopped after {done} items")

    def _sleep(self, poll: float) -> None:
        wait = poll
        candidates = [j.next_at() for j in jobs.registered() if j.next_at]
        nexts = [t for t in candidates if t is not None]
        if nexts:
            wait = max(0.0, min(poll, (min(nexts) - now()).total_seconds()))
        end = time.monotonic() + wait
        while not self.stopping and time.monotonic() < end:
            left = max(0.0, end - time.monotonic())
            if self.listener is None:
                time.sleep(min(0.1, left))
                continue
            try:
                if self.listener.wait(min(1.0, left)):  # 1 s slices: SIGTERM is noticed in time
                    return
            except Exception:  # the listening connection broke: poll, and listen again next time
                log.warning("lost the LISTEN connection; polling", exc_info=True)
                self.listener.close()
                self.listener = None
        if self.listener is None and wakeup.listener_wanted():
            self.listener = wakeup.listener()
