"""/livez, /readyz (each failing check named in the body) and /healthz."""

from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from closeloop.core.clock import now
from closeloop.ops import health
from closeloop.ops.heartbeat import beat
from closeloop.ops.models import WorkerHeartbeat
from closeloop.outbox import services as outbox


@pytest.fixture(autouse=True)
def _fresh(settings):
    health._migrated["done"] = False
    settings.READY_WORKER_MAX_AGE = 120
    settings.READY_OUTBOX_MAX_AGE = 600
    yield
    health._migrated["done"] = False


@pytest.fixture
def handled():
    outbox.register("ops-test", lambda m: None)
    yield
    outbox.unregister("ops-test")


def _ready(client):
    r = client.get("/readyz")
    return r.status_code, r.json()


def test_livez_asks_nothing_of_the_database(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        r = client.get("/livez")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_healthz_still_answers(client, db):
    assert client.get("/healthz").json() == {"ok": True}


def test_ready_with_a_recent_worker_and_nothing_waiting(client, db):
    beat("w1", force=True)
    status, body = _ready(client)
    assert status == 200, body
    assert body["status"] == "ok" and body["failed"] == []
    assert set(body["checks"]) == {"database", "migrations", "workers", "outbox"}


def test_not_ready_without_any_worker(client, db):
    status, body = _ready(client)
    assert status == 503
    assert body["failed"] == ["workers"]
    assert body["checks"]["workers"] == {"ok": False, "last_seen_seconds": None, "max_seconds": 120}


def test_not_ready_when_the_last_heartbeat_is_too_old(client, db):
    beat("w1", force=True)
    with time_machine.travel(now() + timedelta(seconds=121), tick=False):
        status, body = _ready(client)
        assert status == 503 and body["failed"] == ["workers"]
        beat("w2", force=True)  # another worker reports: ready again
        assert _ready(client)[0] == 200


def test_not_ready_when_the_oldest_due_message_waits_too_long(client, db, handled):
    beat("w1", force=True)
    outbox.enqueue("ops-test", "m1", {}, at=now() - timedelta(seconds=601))
    outbox.enqueue("kind-nobody-delivers", "m2", {}, at=now() - timedelta(days=3))  # pending on purpose
    status, body = _ready(client)
    assert status == 503 and body["failed"] == ["outbox"]
    assert body["checks"]["outbox"]["oldest_due_seconds"] >= 601


def test_a_message_due_later_does_not_count(client, db, handled):
    beat("w1", force=True)
    outbox.enqueue("ops-test", "m1", {}, at=now() + timedelta(hours=2))
    assert _ready(client)[0] == 200


def test_not_ready_while_migrations_are_pending(client, db):
    beat("w1", force=True)
    MigrationRecorder.Migration.objects.filter(app="ops").delete()
    status, body = _ready(client)
    assert status == 503 and body["failed"] == ["migrations"]
    assert body["checks"]["migrations"]["pending"] == ["ops.0001_initial"]


def test_a_threshold_of_zero_turns_its_check_off(client, db, settings):
    settings.READY_WORKER_MAX_AGE = 0
    status, body = _ready(client)
    assert status == 200 and body["checks"]["workers"] == {"ok": True, "disabled": True}


@pytest.mark.django_db(transaction=True)
def test_not_ready_when_the_database_is_unreachable(client):
    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = "/nonexistent/closeloop/db.sqlite3"
    else:
        connection.settings_dict["PORT"] = "1"  # nothing listens there
        connection.settings_dict["OPTIONS"] = {**saved.get("OPTIONS", {}), "connect_timeout": 2}
    try:
        status, body = _ready(client)
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
    assert status == 503
    assert body["failed"] == ["database", "migrations", "workers", "outbox"]
    assert body["checks"]["database"]["ok"] is False and body["checks"]["database"]["error"]
    assert client.get("/livez").status_code == 200


def test_the_heartbeat_is_written_at_most_every_interval(db):
    beat("w1", force=True)
    first = WorkerHeartbeat.objects.get(worker="w1").seen_at
    with time_machine.travel(now() + timedelta(minutes=1), tick=False):
        beat("w1")  # within the interval of the real clock: not written again
        assert WorkerHeartbeat.objects.get(worker="w1").seen_at == first
        beat("w1", force=True)
        assert WorkerHeartbeat.objects.get(worker="w1").seen_at > first


@pytest.mark.django_db(transaction=True)
def test_a_worker_that_stopped_cleanly_no_longer_counts(client):
    from django.core.management import call_command

    call_command("worker", "--until-idle", "--id", "stops-cleanly")
    row = WorkerHeartbeat.objects.get(worker="stops-cleanly")
    assert row.stopped_at is not None and "outbox" in row.stats
    status, body = _ready(client)
    assert status == 503 and body["failed"] == ["workers"]
