"""The outbox: recorded once per key, delivered at least once, retried with backoff,
and a claimed-but-not-done row is redelivered after its lease."""

from datetime import UTC, datetime, timedelta

import pytest

from closeloop.outbox import services as outbox
from closeloop.outbox.models import OutboxMessage

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def delivered():
    sent = []
    outbox.register("test", lambda m: sent.append(m.key))
    yield sent
    outbox.unregister("test")


def test_a_key_is_recorded_once(db):
    assert outbox.enqueue("test", "k1", {"a": 1}, at=T0) is not None
    assert outbox.enqueue("test", "k1", {"a": 2}, at=T0) is None
    assert OutboxMessage.objects.get().payload == {"a": 1}


def test_it_delivers_due_messages_and_marks_them_done(db, delivered):
    outbox.enqueue("test", "k1", {}, at=T0)
    outbox.enqueue("test", "k2", {}, at=T0 + timedelta(seconds=10))
    assert outbox.handle_one_outbox("w", at=T0)
    assert not outbox.handle_one_outbox("w", at=T0)
    assert delivered == ["k1"]
    assert outbox.handle_one_outbox("w", at=T0 + timedelta(seconds=10))
    assert delivered == ["k1", "k2"]
    assert not OutboxMessage.objects.filter(done_at__isnull=True).exists()


def test_kinds_without_a_handler_stay_pending(db, delivered):
    outbox.enqueue("no-handler-kind", "n1", {}, at=T0)
    assert not outbox.handle_one_outbox("w", at=T0 + timedelta(days=1))
    assert OutboxMessage.objects.get().done_at is None


def test_a_failed_delivery_is_retried_later(db):
    calls = []

    def flaky(m):
        calls.append(m.attempts)
        if len(calls) == 1:
            raise outbox.RetryableError("502 from the provider")

    outbox.register("flaky", flaky)
    try:
        outbox.enqueue("flaky", "f1", {}, at=T0)
        assert outbox.handle_one_outbox("w", at=T0)
        msg = OutboxMessage.objects.get()
        assert msg.done_at is None and msg.available_at > T0 and "502" in msg.last_error
        assert not outbox.handle_one_outbox("w", at=T0 + timedelta(seconds=1))
        assert outbox.handle_one_outbox("w", at=msg.available_at)
        assert calls == [1, 2]
        assert OutboxMessage.objects.get().done_at is not None
    finally:
        outbox.unregister("flaky")


def test_a_claimed_row_is_redelivered_after_the_lease(db, delivered):
    outbox.enqueue("test", "k1", {}, at=T0)
    claimed = outbox._claim("crashed", T0)  # the worker dies before delivering
    assert claimed is not None
    assert outbox._claim("other", T0 + timedelta(seconds=1)) is None
    assert not outbox.handle_one_outbox("w2", at=T0 + outbox.LEASE - timedelta(seconds=1))
    assert outbox.handle_one_outbox("w2", at=T0 + outbox.LEASE + timedelta(seconds=1))
    assert delivered == ["k1"]
    assert OutboxMessage.objects.get().attempts == 2


def test_retry_after_replaces_the_backoff_and_permanent_errors_stop(db):
    def handler(m):
        if m.key == "ra":
            raise outbox.RetryableError("429", retry_after=120)
        raise outbox.PermanentError("400 bad address")

    outbox.register("x", handler)
    try:
        outbox.enqueue("x", "ra", {}, at=T0)
        outbox.enqueue("x", "perm", {}, at=T0)
        assert outbox.handle_one_outbox("w", at=T0)
        assert outbox.handle_one_outbox("w", at=T0)
        ra = OutboxMessage.objects.get(key="ra")
        assert ra.available_at == T0 + timedelta(seconds=120) and ra.done_at is None
        perm = OutboxMessage.objects.get(key="perm")
        assert perm.done_at is not None and "bad address" in perm.last_error and perm.attempts == 1
    finally:
        outbox.unregister("x")


def test_backoff_grows_with_jitter_and_is_capped():
    delays = [outbox.backoff(n).total_seconds() for n in range(1, 16)]
    assert 10 <= delays[0] <= 20
    assert all(d <= outbox.MAX_BACKOFF.total_seconds() for d in delays)
    assert len({round(outbox.backoff(3).total_seconds(), 3) for _ in range(20)}) > 1  # jittered


def test_an_unexpected_error_is_retried_a_few_times_then_given_up_loudly(db, caplog):
    """A handler bug (here a ValueError) is neither dropped nor parked silently for a day:
    each attempt backs off as usual and is logged with its traceback; after
    UNEXPECTED_MAX_ATTEMPTS the row is finished with the error kept."""

    def broken(msg):
        raise ValueError("cannot read payload")

    outbox.register("x", broken)
    try:
        outbox.enqueue("x", "bug", {}, at=T0)
        t = T0
        for attempt in range(1, outbox.UNEXPECTED_MAX_ATTEMPTS):
            assert outbox.handle_one_outbox("w", at=t)
            row = OutboxMessage.objects.get(key="bug")
            assert row.done_at is None and row.attempts == attempt
            assert row.available_at - t <= outbox.MAX_BACKOFF  # bounded, never a day
            t = row.available_at
        assert outbox.handle_one_outbox("w", at=t)
        row = OutboxMessage.objects.get(key="bug")
        assert row.done_at is not None and row.last_error.startswith(f"gave up after {outbox.UNEXPECTED_MAX_ATTEMPTS}")
        assert not outbox.handle_one_outbox("w", at=t + timedelta(days=2))
        assert any(r.levelname == "ERROR" and r.exc_info for r in caplog.records)
        assert sum(1 for r in caplog.records if r.levelname == "WARNING" and r.exc_info) == \
            outbox.UNEXPECTED_MAX_ATTEMPTS - 1
    finally:
        outbox.unregister("x")
