"""Writing to and working off the outbox.

`enqueue` is called inside a business transaction (services.do_* of any app);
`handle_one_outbox` is the worker step "outbox" (registered with core.jobs in apps.py).
"""

import logging
import os
import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q

from closeloop.core import requestid, wakeup
from closeloop.core.clock import now

from .models import OutboxMessage

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=float(os.environ.get("CLOSELOOP_OUTBOX_LEASE", "60")))
MAX_BACKOFF = timedelta(hours=1)
#: An error the handler did not classify (a bug, a payload it cannot read) is retried with
#: the usual backoff this many times (about 40 minutes in all), each logged with its
#: traceback; then the row is finished with the error kept, and logged as an error.
UNEXPECTED_MAX_ATTEMPTS = 8

#: kind -> deliver(message). Registered by the apps that deliver (the notifications
#: issue); a kind with no handler stays pending: the rows are the proof.
_handlers: dict[str, Callable[[OutboxMessage], None]] = {}


class RetryableError(Exception):
    """A delivery failed in a way a retry can fix (network, 5xx). `retry_after` (seconds,
    e.g. from a Retry-After header) replaces the computed backoff when given."""

    def __init__(self, *args, retry_after: float | None = None):
        super().__init__(*args)
        self.retry_after = retry_after


class PermanentError(Exception):
    """Retrying cannot help (bad address, 4xx): the row is finished now, with the error kept."""


def backoff(attempts: int) -> timedelta:
    """Exponential backoff with full jitter in [half, whole] of 10 s · 2^attempts, capped."""
    base = min(MAX_BACKOFF.total_seconds(), 10 * 2 ** min(max(attempts, 0), 12))
    return timedelta(seconds=base * random.uniform(0.5, 1.0))


def register(kind: str, fn: Callable[[OutboxMessage], None]) -> None:
    _handlers[kind] = fn


def unregister(kind: str) -> None:
    _handlers.pop(kind, None)


def handled_kinds() -> list[str]:
    """The kinds some worker delivers (a kind without a handler stays pending on purpose)."""
    return sorted(_handlers)


def enqueue(kind: str, key: str, payload: dict, *, at: datetime | None = None) -> OutboxMessage | None:
    """Record a side effect in the caller's transaction. Returns None when a row with
    this key already exists (the request was recorded before)."""
    t = at or now()
    try:
        with transaction.atomic():
            row = OutboxMessage.objects.create(kind=kind, key=key, payload=payload, created_at=t, available_at=t)
    except IntegrityError:
        return None
    wakeup.wake()  # idle workers look again on commit (PostgreSQL), not at their next poll
    return row


def enqueue_many(kind: str, rows: list[tuple[str, dict]], *, at: datetime | None = None) -> None:
    """Record several side effects of one kind in one INSERT (caller's transaction); a key
    recorded before is skipped."""
    if not rows:
        return
    t = at or now()
    OutboxMessage.objects.bulk_create(
        [OutboxMessage(kind=kind, key=key[:200], payload=payload, created_at=t, available_at=t) for key, payload in rows],
        ignore_conflicts=True)


def _claim(worker_id: str, t: datetime) -> OutboxMessage | None:
    kinds = list(_handlers)
    if not kinds:
        return None
    with transaction.atomic():
        qs = (OutboxMessage.objects.filter(done_at__isnull=True, available_at__lte=t, kind__in=kinds)
              .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=t)).order_by("available_at"))
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        row = qs.values("id", "claimed_until").first()
        if row is None:
            return None
        # Compare-and-set on the lease we saw: exactly one worker wins.
        won = OutboxMessage.objects.filter(id=row["id"], claimed_until=row["claimed_until"], done_at__isnull=True) \
            .update(claimed_until=t + LEASE, claimed_by=worker_id, attempts=F("attempts") + 1)
    if won != 1:
        return None
    return OutboxMessage.objects.get(id=row["id"])


def handle_one_outbox(worker_id: str = "worker", at: datetime | None = None) -> bool:
    """Deliver one due message. Returns whether there may be more work waiting."""
    t = at or now()
    msg = _claim(worker_id, t)
    if msg is None:
        return False
    try:
        with requestid.bind(msg.request_id):
            _handlers[msg.kind](msg)
    except Exception as exc:
        with requestid.bind(msg.request_id):
            failed(msg, worker_id, t, exc)
        return True
    OutboxMessage.objects.filter(id=msg.id, claimed_by=worker_id).update(done_at=now(), claimed_until=None)
    return True


def failed(msg: OutboxMessage, claimed_by: str, t: datetime, exc: Exception) -> None:
    """Record a failed delivery: PermanentError finishes the row; RetryableError is retried
    with backoff (its retry_after, e.g. a Retry-After header, replaces it); any other
    exception is retried the same way up to UNEXPECTED_MAX_ATTEMPTS, then finished."""
    if isinstance(exc, PermanentError):
        log.warning("outbox %s delivery failed permanently (attempt %d): %s", msg.key, msg.attempts, exc)
        OutboxMessage.objects.filter(id=msg.id, claimed_by=claimed_by).update(
            claimed_until=None, last_error=str(exc)[:2000], done_at=now())
        return
    unexpected = not isinstance(exc, RetryableError)
    if unexpected and msg.attempts >= UNEXPECTED_MAX_ATTEMPTS:
        log.error("outbox %s: gave up after %d attempts on an unexpected error: %r", msg.key, msg.attempts, exc,
                  exc_info=exc)
        OutboxMessage.objects.filter(id=msg.id, claimed_by=claimed_by).update(
            claimed_until=None, last_error=f"gave up after {msg.attempts} attempts: {exc!r}"[:2000], done_at=now())
        return
    delay = backoff(msg.attempts)
    after = getattr(exc, "retry_after", None)
    if after is not None:
        delay = min(MAX_BACKOFF, timedelta(seconds=max(1.0, float(after))))
    if unexpected:
        log.warning("outbox %s: unexpected error (attempt %d of %d), retrying in %ds: %r", msg.key, msg.attempts,
                    UNEXPECTED_MAX_ATTEMPTS, delay.total_seconds(), exc, exc_info=exc)
    else:
        log.warning("outbox %s delivery failed (attempt %d): %s", msg.key, msg.attempts, exc)
    OutboxMessage.objects.filter(id=msg.id, claimed_by=claimed_by).update(
        claimed_until=None, claimed_by="", last_error=str(exc)[:2000], available_at=t + delay)


def claim_batch(kind: str, worker_id: str, t: datetime, limit: int,
                lease: timedelta = LEASE) -> tuple[str, list[OutboxMessage]]:
    """Lease up to `limit` due rows of one kind at once (for handlers that deliver in bulk;
    `lease` must cover the whole batch). Returns the lease token (pass it to `done`/`failed`
    as claimed_by) and the rows won."""
    token = f"{worker_id}:{uuid.uuid4().hex[:12]}"[:64]
    with transaction.atomic():
        qs = (OutboxMessage.objects.filter(kind=kind, done_at__isnull=True, available_at__lte=t)
              .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=t)).order_by("available_at"))
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        ids = list(qs.values_list("id", flat=True)[:limit])
        if not ids:
            return token, []
        # Compare-and-set: only rows whose lease is still free are won.
        OutboxMessage.objects.filter(id__in=ids, done_at__isnull=True).filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=t)).update(
            claimed_until=t + lease, claimed_by=token, attempts=F("attempts") + 1)
    return token, list(OutboxMessage.objects.filter(id__in=ids, claimed_by=token).order_by("id"))


def done(ids: list[int], claimed_by: str) -> None:
    OutboxMessage.objects.filter(id__in=ids, claimed_by=claimed_by).update(done_at=now(), claimed_until=None)


def next_outbox_at() -> datetime | None:
    """Earliest time a deliverable message becomes due (for the worker's sleep)."""
    kinds = list(_handlers)
    if not kinds:
        return None
    row = (OutboxMessage.objects.filter(done_at__isnull=True, kind__in=kinds).order_by("available_at")
           .values_list("available_at", "claimed_until").first())
    if row is None:
        return None
    return max(row[0], row[1]) if row[1] else row[0]
