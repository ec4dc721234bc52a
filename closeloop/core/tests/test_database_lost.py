"""The database connection lost in the middle of a request (PostgreSQL, connections
terminated with pg_terminate_backend): the client gets 503 with Retry-After as
problem+json, never a 500, and a create sent with an Idempotency-Key happens exactly once
however the retries go: committed before the drop → the retry replays it; not committed →
nothing is left and the retry creates it."""

import json
import os

import psycopg
import pytest
from django.db import connection, transaction
from django.test import Client

from closeloop.workorders import lifecycle
from closeloop.workorders.models import WorkOrder

pytestmark = [
    pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"),
                       reason="terminating a server connection is PostgreSQL's pg_terminate_backend"),
    pytest.mark.django_db(transaction=True),
]

NEW = {"type": "repair", "title": "断线测试", "customer": "org-a"}


def _terminate(pid: int) -> None:
    """Terminate one backend from another connection, and wait until it is gone."""
    s = connection.settings_dict
    with psycopg.connect(host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432, user=s["USER"],
                         password=s["PASSWORD"] or None, dbname=s["NAME"], autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
        for _ in range(10_000):  # bounded by count, not by time
            if not admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
                return
            admin.execute("SELECT pg_sleep(0.01)")
        raise AssertionError("the backend did not go away")


def _own_pid() -> int:
    connection.ensure_connection()
    return connection.connection.info.backend_pid


def _reconnect_if_lost() -> None:
    """What Django does at the start of every request outside the test client."""
    if connection.connection is not None and not connection.is_usable():
        connection.close()


@pytest.fixture(autouse=True)
def _leave_a_live_connection(world):
    yield
    _reconnect_if_lost()


@pytest.fixture
def effect():
    added = []

    def add(fn):
        lifecycle.register_effect("create", fn, phase="follow_up")
        added.append(fn)

    yield add
    lifecycle.unregister_effects(added)


def _post(world, key):
    api = world.api(world.dispatcher)
    client = Client(raise_request_exception=False)

    def send():
        return client.post("/api/v1/work-orders", json.dumps(NEW), content_type="application/json",
                           headers={"Authorization": f"Bearer {api.token}", "Idempotency-Key": key})

    return send


def _unavailable(r):
    assert r.status_code == 503, (r.status_code, r.content[:300])
    assert r["Content-Type"] == "application/problem+json"
    assert r.json()["type"].endswith("/database_unavailable")
    assert int(r["Retry-After"]) > 0


def test_dropped_before_the_create_committed_leaves_nothing_and_the_retry_creates_it(world, effect):
    send = _post(world, "drop-before-commit")
    killed = []

    def kill(ctx):
        if not killed:
            killed.append(_own_pid())
            _terminate(killed[0])

    effect(kill)
    _unavailable(send())
    assert killed and not WorkOrder.objects.exists()
    first = send()
    assert first.status_code == 201, first.content
    again = send()
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["code"] == first.json()["code"] and WorkOrder.objects.count() == 1


def test_dropped_right_after_the_create_committed_the_retry_finds_it_by_its_key(world, effect):
    send = _post(world, "drop-after-commit")
    killed = []

    def kill_after_commit(ctx):
        if not killed:
            pid = _own_pid()
            killed.append(pid)
            transaction.on_commit(lambda: _terminate(pid))

    effect(kill_after_commit)
    first = send()
    assert killed
    # The client never saw the answer (or saw the connection fail): it retries. The retry that
    # meets the dead connection is told to come back later; the next one replays the create.
    _unavailable(send())
    replay = send()
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true", replay.content
    assert WorkOrder.objects.count() == 1 and replay.json()["code"] == WorkOrder.objects.get().code
    if first.status_code == 201:
        assert first.json()["code"] == replay.json()["code"]


@pytest.mark.parametrize("path, api", [("/api/v1/work-orders", True), ("/work-orders/", False)])
def test_a_read_on_a_lost_connection_is_503_and_the_next_request_reconnects(world, path, api):
    if api:
        client, headers = Client(raise_request_exception=False), {
            "Authorization": f"Bearer {world.api(world.dispatcher).token}"}
    else:
        client, headers = Client(raise_request_exception=False), {}
        client.force_login(world.dispatcher)
    assert client.get(path, headers=headers).status_code == 200
    _terminate(_own_pid())
    _unavailable(client.get(path, headers=headers))
    assert client.get(path, headers=headers).status_code == 200
    if not api:  # a person's browser gets a page, still 503 with Retry-After
        _terminate(_own_pid())
        r = client.get(path, headers={"Accept": "text/html,application/xhtml+xml"})
        assert r.status_code == 503 and int(r["Retry-After"]) > 0 and r["Content-Type"].startswith("text/html")
        assert 'data-testid="error-503"' in r.content.decode() and "Temporarily unavailable" in r.content.decode()
        assert client.get(path).status_code == 200
