"""Scaled out on PostgreSQL: several web servers and workers sharing one database and one
bucket, woken by NOTIFY, with pooled connections; processes killed without warning lose
nothing (docs/deployment.md, "Scaling out")."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.db import connection, transaction

from closeloop.core import wakeup
from closeloop.core.clock import now
from closeloop.notify.conftest import Sink
from closeloop.notify.models import Channel, Delivery, Status
from closeloop.outbox.services import enqueue
from closeloop.sla.models import Escalation
from closeloop.workorders.models import Attachment, TimelineEvent, WorkOrder

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.django_db(transaction=True)


def _pg_only():
    if connection.vendor != "postgresql":
        pytest.skip("several workers and NOTIFY are PostgreSQL's (SQLite runs one worker that polls)")


def _database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(predicate, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_notify_reaches_a_listener_only_when_the_work_commits():
    _pg_only()
    listener = wakeup.Listener()
    try:
        with transaction.atomic():
            enqueue("noop.kind", "wake:1", {})
            enqueue("noop.kind", "wake:2", {})  # one NOTIFY per transaction
            assert not listener.wait(0.3)  # nothing before the commit
        assert listener.wait(30)
        assert not listener.wait(0.3)  # and only one
        try:
            with transaction.atomic():
                enqueue("noop.kind", "wake:3", {})
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        assert not listener.wait(0.5)  # rolled-back work wakes nobody
    finally:
        listener.close()


def test_an_idle_worker_with_an_hour_long_poll_is_woken_by_new_work(world, settings):
    """The worker polls once an hour here and every other timer is far away: only the NOTIFY
    sent when the second message commits can make it deliver before the test gives up."""
    _pg_only()
    settings.CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS = True
    sink = Sink()
    p = None
    try:
        Channel.objects.create(kind="webhook", name="hook", config={"url": sink.url + "/in"}, created_at=now())
        enqueue("notify", "warm", {"event": "ev", "recipients": [{"channel": "hook"}], "no_robots": True})
        env = {**os.environ, "DATABASE_URL": _database_url(), "CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS": "1",
               "CLOSELOOP_HEARTBEAT_SECONDS": "3600"}
        p = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "worker", "--poll", "3600", "--id", "sleepy"],
                             cwd=ROOT, env=env)
        _wait_for(lambda: len(sink.requests) == 1, what="the first delivery")
        time.sleep(1.0)  # the worker has gone idle: it waits on its LISTEN connection now
        enqueue("notify", "late", {"event": "ev", "recipients": [{"channel": "hook"}], "no_robots": True})
        _wait_for(lambda: len(sink.requests) == 2, timeout=45, what="the woken worker's delivery")
    finally:
        if p is not None:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)
        sink.close()


@pytest.fixture
def s3(tmp_path):
    import boto3
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=url, aws_access_key_id="k", aws_secret_access_key="s",
                 region_name="us-east-1").create_bucket(Bucket="uploads")
    yield url
    server.stop()


def test_two_web_servers_and_three_workers_with_kills_lose_nothing(world, settings, s3, tmp_path):
    """Work orders are filed through two web servers (one is killed halfway: clients retry on
    the other with the same Idempotency-Key), each with an attachment in the shared bucket;
    the engineer accepts each one; three workers deliver the assignment messages and fire the SLA
    ladder (one is killed mid-delivery and restarted). In the end:
    every work order once, every file readable through either server that is left, every
    message delivered under its one id, every escalation level fired once."""
    _pg_only()
    n = 24
    settings.CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS = True
    sink = Sink()

    def slow(handler, body):
        time.sleep(0.05)
        return (200, {}, b"ok")

    sink.responses = [slow]
    Channel.objects.create(kind="webhook", name="hook", config={"url": sink.url + "/in"},
                           events=["work_order.assigned"], created_at=now())
    # An SLA whose response target (2 s) every work order misses: its two ladder levels fire
    # while the workers are killed and restarted.
    from closeloop.sla.tests.helpers import calendars, policy

    _china, always = calendars()
    policy("fast", always, targets={"response": 2, "arrival": 86400, "resolution": 86400, "closure": 86400},
           ladder=[{"level": 1, "pct": 50, "actions": ["remind_assignee"]},
                   {"level": 2, "after": 0, "actions": ["notify_supervisor"]}])
    token = world.api(world.dispatcher).token
    engineer = world.api(world.eng_x).token
    env = {**os.environ, "DATABASE_URL": _database_url(), "CLOSELOOP_DB_POOL": "2",
           "CLOSELOOP_S3_BUCKET": "uploads", "CLOSELOOP_S3_ENDPOINT_URL": s3, "CLOSELOOP_S3_ACCESS_KEY": "k",
           "CLOSELOOP_S3_SECRET_KEY": "s", "CLOSELOOP_S3_REGION": "us-east-1",
           "CLOSELOOP_DATA_DIR": str(tmp_path / "var"), "CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS": "1",
           "CLOSELOOP_OUTBOX_LEASE": "2", "CLOSELOOP_NOTIFY_LEASE": "2", "CLOSELOOP_SLA_LEASE": "2",
           "CLOSELOOP_IDEMPOTENCY_LEASE_SECONDS": "2", "CLOSELOOP_API_RATE_PER_TOKEN": "0",
           "CLOSELOOP_API_RATE_PER_ORG": "0", "CLOSELOOP_ACCESS_LOG": "0"}
    procs: dict[str, subprocess.Popen] = {}
    ports = [_free_port(), _free_port()]
    try:
        for i, port in enumerate(ports):
            procs[f"web{i}"] = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "closeloop.wsgi:application", "--bind", f"127.0.0.1:{port}",
                 "--workers", "2", "--graceful-timeout", "2"], cwd=ROOT, env=env,
                stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"web{i}.log", "wb"))
        for i in range(3):
            procs[f"worker{i}"] = subprocess.Popen(
                [sys.executable, str(ROOT / "manage.py"), "worker", "--id", f"w{i}"], cwd=ROOT, env=env)
        bases = [f"http://127.0.0.1:{p}" for p in ports]

        def up(base):
            for name, proc in procs.items():
                if proc.poll() is not None:
                    log = tmp_path / f"{name}.log"
                    raise AssertionError(f"{name} exited: {log.read_text()[-3000:] if log.exists() else ''}")
            try:
                return httpx.get(base + "/livez", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        for base in bases:
            _wait_for(lambda base=base: up(base), timeout=180, what=f"{base} to serve")
        headers = {"Authorization": f"Bearer {token}"}

        def call(order, method, path, key, headers_override=None, **kw):
            """Try the servers in turn with one Idempotency-Key until one answers for good."""
            deadline = time.monotonic() + 60
            while True:
                for base in order:
                    try:
                        r = httpx.request(method, base + path, timeout=20, **kw,
                                          headers={**headers, **(headers_override or {}), "Idempotency-Key": key})
                    except httpx.TransportError:
                        continue  # that server is gone: the next one gets the same key
                    if r.status_code != 409 and r.status_code < 500:
                        return r
                if time.monotonic() > deadline:
                    raise AssertionError(f"{method} {path} never succeeded")
                time.sleep(0.2)

        codes = []
        for i in range(n):
            if i == n // 2:
                procs["web0"].send_signal(signal.SIGKILL)  # halfway, without warning
                procs["web0"].wait()
            if i == n // 3:
                _wait_for(lambda: len(sink.requests) >= 2, what="the first deliveries")
                procs["worker0"].send_signal(signal.SIGKILL)
                procs["worker0"].wait()
            if i == n // 3 + 4:  # ...and back a little later, as systemd or compose would restart it
                procs["worker0"] = subprocess.Popen(
                    [sys.executable, str(ROOT / "manage.py"), "worker", "--id", "w0-again"], cwd=ROOT, env=env)
            # Round robin over both servers, the dead one included: the client fails over.
            order = bases[i % 2:] + bases[:i % 2]
            r = call(order, "POST", "/api/v1/work-orders", f"create-{i}",
                     json={"type": "repair", "title": f"并发工单 {i}", "site": "site-a"})
            assert r.status_code == 201, r.text
            code = r.json()["code"]
            codes.append(code)
            r = call(order, "POST", f"/api/v1/work-orders/{code}/attachments", f"file-{i}",
                     files={"file": (f"r{i}.pdf", b"%PDF-1.4 " + str(i).encode() * 100, "application/pdf")})
            assert r.status_code == 201, r.text
            r = call(order, "POST", f"/api/v1/work-orders/{code}/actions/assign", f"assign-{i}", json={"assignee": "eng_x"})
            assert r.status_code == 200, r.text
            r = call(order, "POST", f"/api/v1/work-orders/{code}/actions/accept", f"accept-{i}", json={},
                     headers_override={"Authorization": f"Bearer {engineer}"})
            assert r.status_code == 200, r.text

        assert len(set(codes)) == n
        assert WorkOrder.objects.filter(title__startswith="并发工单").count() == n
        assert Attachment.objects.filter(work_order__code__in=codes).count() == n
        # Each action happened once: one status change per action on every work order.
        for code in codes:
            changes = list(TimelineEvent.objects.filter(work_order__code=code, kind=TimelineEvent.Kind.TRANSITION)
                           .values_list("action", flat=True))
            assert sorted(changes) == sorted({*changes}) and {"assign", "accept"} <= set(changes), (code, changes)

        # Every due ladder level fired for every work order (the unique constraint makes a second
        # firing impossible; none may be lost to a killed worker).
        _wait_for(lambda: Escalation.objects.filter(work_order__code__in=codes, milestone="response").count() == 2 * n,
                  timeout=120, what="both response levels fired for every work order")
        hook = Channel.objects.get(name="hook")
        _wait_for(lambda: Delivery.objects.filter(channel=hook, status=Status.DELIVERED).count() == n,
                  timeout=120, what="every assignment message delivered")
        expected = set(Delivery.objects.filter(channel=hook).values_list("key", flat=True))
        got = {r["headers"]["X-Closeloop-Delivery"] for r in sink.requests}
        assert len(expected) == n and got == expected  # each once or more, always under its one id

        # Every file comes back through the surviving server, from the bucket (none on a local disk).
        assert not list((tmp_path / "var").rglob("*.pdf"))
        for i, code in enumerate(codes):
            att = Attachment.objects.get(work_order__code=code)
            r = httpx.get(f"{bases[1]}/api/v1/work-orders/{code}/attachments/{att.id}", headers=headers, timeout=20)
            assert r.status_code == 200 and r.content == b"%PDF-1.4 " + str(i).encode() * 100
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        sink.close()
