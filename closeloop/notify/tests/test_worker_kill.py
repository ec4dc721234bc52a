"""A real `closeloop worker` killed (SIGKILL) in the middle of deliveries loses nothing:
after a restart every message arrives, each under its one stable delivery id."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from closeloop.core.clock import now
from closeloop.notify.conftest import Sink
from closeloop.notify.models import Channel, Delivery, Status
from closeloop.outbox.services import enqueue

ROOT = Path(__file__).resolve().parents[3]
N = 60


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_sigkill_mid_delivery_then_restart_delivers_everything(world, settings):
    settings.CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS = True
    sink = Sink()

    def slow(handler, body):
        time.sleep(0.03)
        return (200, {}, b"ok")

    sink.responses = [slow]
    try:
        Channel.objects.create(kind="webhook", name="hook", config={"url": sink.url + "/in"}, created_at=now())
        for i in range(N):
            enqueue("notify", f"kill:{i}", {"event": "ev", "recipients": [{"channel": "hook"}], "no_robots": True})
        env = {**os.environ, "DATABASE_URL": _database_url(), "CLOSELOOP_WORKER_POLL": "0.1",
               "CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS": "1", "CLOSELOOP_OUTBOX_LEASE": "1",
               "CLOSELOOP_NOTIFY_LEASE": "1"}
        p = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "worker", "--id", "doomed"], cwd=ROOT, env=env)
        deadline = time.monotonic() + 60
        while len(sink.requests) < 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        p.send_signal(signal.SIGKILL)
        p.wait()
        before = len(sink.requests)
        assert 0 < before < N
        time.sleep(1.2)  # the dead worker's leases run out
        p2 = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "worker", "--until-idle", "--id", "phoenix"],
                              cwd=ROOT, env=env)
        assert p2.wait(timeout=120) == 0
        ids = [r["headers"]["X-Closeloop-Delivery"] for r in sink.requests]
        expected = set(Delivery.objects.values_list("key", flat=True))
        assert len(expected) == N and set(ids) == expected  # every message, none under another id
        assert Delivery.objects.filter(status=Status.DELIVERED).count() == N
    finally:
        sink.close()
