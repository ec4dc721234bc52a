"""Liveness and readiness.

`/livez`: the process answers (no database). A supervisor restarts a web process that fails it.
`/readyz`: this installation can do its work now; a load balancer stops sending traffic, and an
operator is paged, when it fails. Each check is named in the JSON body:

- `database`: a query runs;
- `migrations`: none is pending (code deployed, `closeloop migrate` not yet run);
- `workers`: some `closeloop worker` wrote its heartbeat within READY_WORKER_MAX_AGE seconds;
- `outbox`: the oldest message due (of a kind a worker delivers) has waited less than
  READY_OUTBOX_MAX_AGE seconds.

A threshold of 0 turns its check off. `/healthz` stays the plain "the database answers" check.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Max, Min

from closeloop.core.clock import now


@dataclass
class Check:
    name: str
    ok: bool
    detail: dict = field(default_factory=dict)


_migrated = {"done": False}  # once nothing is pending, it stays so for this code


def check_database() -> Check:
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cur:
            cur.execute("SELECT 1")
        return Check("database", True)
    except Exception as exc:  # any failure to reach it is "not ready"
        return Check("database", False, {"error": type(exc).__name__})


def check_migrations() -> Check:
    if _migrated["done"]:
        return Check("migrations", True)
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        pending = [f"{m.app_label}.{m.name}" for m, _backwards in plan]
        return Check("migrations", False, {"pending": pending[:20], "count": len(pending)})
    _migrated["done"] = True
    return Check("migrations", True)


def check_workers() -> Check:
    from .models import WorkerHeartbeat

    limit = settings.READY_WORKER_MAX_AGE
    if not limit:
        return Check("workers", True, {"disabled": True})
    last = WorkerHeartbeat.objects.filter(stopped_at__isnull=True).aggregate(m=Max("seen_at"))["m"]
    if last is None:
        return Check("workers", False, {"last_seen_seconds": None, "max_seconds": limit})
    age = (now() - last).total_seconds()
    return Check("workers", age <= limit, {"last_seen_seconds": round(max(age, 0.0), 1), "max_seconds": limit})


def check_outbox() -> Check:
    from closeloop.outbox.models import OutboxMessage
    from closeloop.outbox.services import handled_kinds

    limit = settings.READY_OUTBOX_MAX_AGE
    if not limit:
        return Check("outbox", True, {"disabled": True})
    t = now()
    oldest = (OutboxMessage.objects.filter(done_at__isnull=True, available_at__lte=t, kind__in=handled_kinds())
              .aggregate(m=Min("available_at"))["m"])
    age = (t - oldest).total_seconds() if oldest else 0.0
    return Check("outbox", age <= limit, {"oldest_due_seconds": round(age, 1), "max_seconds": limit})


def readiness() -> list[Check]:
    db = check_database()
    if not db.ok:  # nothing else can be asked
        return [db] + [Check(n, False, {"error": "database unreachable"}) for n in ("migrations", "workers", "outbox")]
    checks = [db]
    for fn in (check_migrations, check_workers, check_outbox):
        try:
            checks.append(fn())
        except Exception as exc:  # e.g. the tables do not exist yet
            checks.append(Check(fn.__name__.removeprefix("check_"), False, {"error": type(exc).__name__}))
    return checks
