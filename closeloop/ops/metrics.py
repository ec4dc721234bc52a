"""Prometheus metrics (prometheus_client), served at `/metrics` (closeloop.ops.views).

Two sources:

- **per process**, counted as requests are served: `closeloop_http_requests_total` and
  `closeloop_http_request_duration_seconds` by method and route pattern. Under gunicorn
  (`closeloop serve`) each process writes them to PROMETHEUS_MULTIPROC_DIR and `/metrics` adds
  them up (prometheus_client's multiprocess mode), so any web process answers for all of them.
- **from the database**, computed when scraped (DatabaseCollector): outbox depth and oldest age
  by kind, SLA timers due and targets past due with no escalation, deliveries by channel and
  outcome, open acknowledge-or-escalate chains, running import batches, and each worker's
  heartbeat and step counters (workers run on any host: the database is what they share).

prometheus_client is imported lazily: the multiprocess directory must be in the environment
before its first import in a process, and `closeloop serve` sets it before gunicorn forks.
"""

import os
from datetime import timedelta
from functools import cache

from django.db.models import Count, Exists, Min, OuterRef, Q

from closeloop.core import jobs
from closeloop.core.clock import now

PREFIX = "closeloop"
SILENT_WORKER = timedelta(hours=1)  # a worker silent this long is gone: no longer reported


@cache
def request_metrics():
    from prometheus_client import Counter, Histogram

    requests = Counter(f"{PREFIX}_http_requests", "HTTP requests served, by method, route and status.",
                       ["method", "route", "status"])
    latency = Histogram(f"{PREFIX}_http_request_duration_seconds", "Time to serve a request, by method and route.",
                        ["method", "route"],
                        buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
    return requests, latency


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    requests, latency = request_metrics()
    requests.labels(method, route, str(status)).inc()
    latency.labels(method, route).observe(seconds)


class DatabaseCollector:
    """Gauges read from the database at scrape time (a handful of indexed/grouped queries)."""

    def collect(self):
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        from closeloop.ledgers.models import WORKING, ImportBatch
        from closeloop.notify.models import AckChain, Delivery
        from closeloop.outbox.models import OutboxMessage
        from closeloop.sla.models import Escalation, SLATarget

        from .models import WorkerHeartbeat

        t = now()

        pending = GaugeMetricFamily(f"{PREFIX}_outbox_pending", "Outbox messages not yet done, by kind.",
                                    labels=["kind"])
        due = GaugeMetricFamily(f"{PREFIX}_outbox_due", "Outbox messages due now and not done, by kind.",
                                labels=["kind"])
        oldest = GaugeMetricFamily(f"{PREFIX}_outbox_oldest_due_age_seconds",
                                   "How long the oldest due message of each kind has waited.", labels=["kind"])
        rows = (OutboxMessage.objects.filter(done_at__isnull=True).values("kind")
                .annotate(n=Count("id"), d=Count("id", filter=Q(available_at__lte=t)),
                          o=Min("available_at", filter=Q(available_at__lte=t))).order_by("kind"))
        for r in rows:
            pending.add_metric([r["kind"]], r["n"])
            due.add_metric([r["kind"]], r["d"])
            oldest.add_metric([r["kind"]], (t - r["o"]).total_seconds() if r["o"] else 0.0)
        yield pending
        yield due
        yield oldest

        checks = SLATarget.objects.filter(next_check_at__lte=t).aggregate(n=Count("id"), o=Min("next_check_at"))
        yield GaugeMetricFamily(f"{PREFIX}_sla_checks_due", "SLA timers due for the worker (warning, breach, "
                                "ladder level) and not yet processed.", value=checks["n"])
        yield GaugeMetricFamily(f"{PREFIX}_sla_oldest_check_due_age_seconds",
                                "How long the oldest due SLA timer has waited.",
                                value=(t - checks["o"]).total_seconds() if checks["o"] else 0.0)
        escalated = Escalation.objects.filter(work_order=OuterRef("work_order"), milestone=OuterRef("milestone"))
        overdue = (SLATarget.objects.filter(met_at__isnull=True, due_at__lte=t).exclude(Exists(escalated))
                   .values("milestone").annotate(n=Count("id")).order_by("milestone"))
        g = GaugeMetricFamily(f"{PREFIX}_sla_targets_due_not_escalated",
                              "SLA targets past their deadline, not met, with no escalation fired yet, by milestone.",
                              labels=["milestone"])
        for r in overdue:
            g.add_metric([r["milestone"]], r["n"])
        yield g

        d = GaugeMetricFamily(f"{PREFIX}_notify_deliveries",
                              "Notification deliveries recorded, by medium, channel kind and outcome (status).",
                              labels=["medium", "channel", "status"])
        for r in (Delivery.objects.values("medium", "channel__kind", "status").annotate(n=Count("id"))
                  .order_by("medium", "channel__kind", "status")):
            d.add_metric([r["medium"], r["channel__kind"] or "", r["status"]], r["n"])
        yield d

        yield GaugeMetricFamily(f"{PREFIX}_notify_ack_chains_open",
                                "Acknowledge-or-escalate chains neither acknowledged nor expired.",
                                value=AckChain.objects.filter(acked_at__isnull=True, expires_at__gt=t).count())

        b = GaugeMetricFamily(f"{PREFIX}_ledgers_import_batches_running",
                              "Ledger import batches the worker is working on, by status.", labels=["status"])
        counts = dict(ImportBatch.objects.filter(status__in=WORKING).values_list("status").annotate(n=Count("id")))
        for status in WORKING:
            b.add_metric([str(status)], counts.get(status, 0))
        yield b

        seen = GaugeMetricFamily(f"{PREFIX}_worker_last_seen_age_seconds",
                                 "Seconds since each worker's last heartbeat.", labels=["worker"])
        runs = CounterMetricFamily(f"{PREFIX}_worker_step_runs", "Worker step runs, by worker, step and result.",
                                   labels=["worker", "step", "result"])
        hist = HistogramMetricFamily(f"{PREFIX}_worker_step_duration_seconds",
                                     "Worker step durations, by worker and step (as of the last heartbeat).",
                                     labels=["worker", "step"])
        bounds = [str(b) for b in jobs.BUCKETS] + ["+Inf"]
        for hb in WorkerHeartbeat.objects.filter(seen_at__gte=t - SILENT_WORKER).order_by("worker"):
            seen.add_metric([hb.worker], max(0.0, (t - hb.seen_at).total_seconds()))
            for step, st in sorted((hb.stats or {}).items()):
                idle = st["runs"] - st["busy"] - st["errors"]
                for result, n in (("busy", st["busy"]), ("idle", max(idle, 0)), ("error", st["errors"])):
                    runs.add_metric([hb.worker, step, result], n)
                if len(st.get("buckets") or []) == len(bounds):
                    hist.add_metric([hb.worker, step], list(zip(bounds, st["buckets"], strict=True)),
                                    sum_value=st["seconds"])
        yield seen
        yield runs
        yield hist


def render(*, database: bool = True) -> tuple[bytes, str]:
    """The exposition text of this process (or, in multiprocess mode, of all of them) plus the
    database's gauges."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    request_metrics()  # the families exist (at zero) before the first request
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
        if database:
            registry.register(DatabaseCollector())
        return generate_latest(registry), CONTENT_TYPE_LATEST
    if database:
        registry.register(DatabaseCollector())
    return generate_latest(REGISTRY) + generate_latest(registry), CONTENT_TYPE_LATEST
