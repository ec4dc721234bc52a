"""The outbox: side effects (notifications, webhooks) requested by a business
transaction, written in that same transaction and delivered later by the worker.

A row is recorded once (its `key` is unique and is the stable delivery id a
receiver deduplicates on) and delivered at least once: the worker claims it with a
lease, delivers, then marks it done; a worker that dies between claim and done
leaves a lease that expires, and another worker delivers it again.
"""

from django.db import models
from django.db.models import Q

from closeloop.core import requestid


class OutboxMessage(models.Model):
    #: Who delivers it: a handler registered with outbox.services.register(kind, fn).
    kind = models.CharField(max_length=40)
    #: Stable delivery id, unique: the same request recorded twice is one row.
    key = models.CharField(max_length=200, unique=True)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    #: Deadline column: not before this time (retries back off by moving it).
    available_at = models.DateTimeField()
    #: Lease: while in the future, one worker holds the row.
    claimed_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    #: The request that caused it (core.requestid); the worker handles it under the same id.
    request_id = models.CharField(max_length=64, blank=True, default=requestid.current)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The poller asks only for pending rows, earliest first (partial index).
            models.Index(fields=["available_at"], name="outbox_pending", condition=Q(done_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"
