"""/metrics: who may scrape, request counts by route, the database's gauges, the workers'
step counters, and the multiprocess mode used under gunicorn."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.management import call_command

from closeloop.core.clock import now
from closeloop.notify.models import Channel, Delivery
from closeloop.outbox import services as outbox


def _scrape(client, **headers) -> str:
    r = client.get("/metrics", **headers)
    assert r.status_code == 200, r.content
    assert r["Content-Type"].startswith("text/plain")
    return r.content.decode()


def _value(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} not in the metrics")


def test_loopback_may_scrape_outside_production(client, db):
    _scrape(client)


def test_a_request_through_a_proxy_needs_the_token(client, db, settings):
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    r = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert r.status_code == 403 and r["Content-Type"] == "application/problem+json"
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9",
                                           "Authorization": "Bearer wrong"}).status_code == 403
    _scrape(client, headers={"X-Forwarded-For": "203.0.113.9", "Authorization": "Bearer s3cret-metrics-token"})


def test_nothing_is_allowed_unless_configured(client, db, settings):
    settings.METRICS_ALLOW = []
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 403


def test_requests_are_counted_by_route_pattern(client, db):
    before = _scrape(client)
    series = 'closeloop_http_requests_total{method="GET",route="/livez",status="200"}'
    start = _value(before, series) if series in before else 0.0
    client.get("/livez")
    client.get("/livez")
    client.get("/no/such/page/123")
    text = _scrape(client)
    assert _value(text, series) == start + 2
    assert 'route="(unmatched)",status="404"' in text
    assert "/no/such/page/123" not in text
    assert 'closeloop_http_request_duration_seconds_bucket{le="0.01",method="GET",route="/livez"}' in text


def test_outbox_depth_and_oldest_age_by_kind(client, db):
    t = now()
    outbox.enqueue("ops-a", "a1", {}, at=t - timedelta(seconds=90))
    outbox.enqueue("ops-a", "a2", {}, at=t + timedelta(hours=1))
    outbox.enqueue("ops-b", "b1", {}, at=t - timedelta(seconds=5))
    text = _scrape(client)
    assert _value(text, 'closeloop_outbox_pending{kind="ops-a"}') == 2
    assert _value(text, 'closeloop_outbox_due{kind="ops-a"}') == 1
    assert _value(text, 'closeloop_outbox_oldest_due_age_seconds{kind="ops-a"}') >= 90
    assert _value(text, 'closeloop_outbox_pending{kind="ops-b"}') == 1


def test_deliveries_by_channel_and_outcome_and_the_other_gauges(client, db):
    t = now()
    ch = Channel.objects.create(kind="webhook", name="hook", created_at=t, config={"url": "https://hooks.example.com/x", "secret": "s"})
    for i, status in enumerate(["sent", "sent", "failed"]):
        Delivery.objects.create(key=f"d{i}", event="x", medium="webhook", channel=ch, recipient="hook",
                                created_at=t, scheduled_at=t, updated_at=t, status=status)
    text = _scrape(client)
    assert _value(text, 'closeloop_notify_deliveries{channel="webhook",medium="webhook",status="sent"}') == 2
    assert _value(text, 'closeloop_notify_deliveries{channel="webhook",medium="webhook",status="failed"}') == 1
    assert _value(text, "closeloop_notify_ack_chains_open") == 0
    assert _value(text, "closeloop_sla_checks_due") == 0
    assert _value(text, 'closeloop_ledgers_import_batches_running{status="committing"}') == 0


@pytest.mark.django_db(transaction=True)
def test_worker_steps_are_reported_through_the_heartbeat(client):
    call_command("worker", "--until-idle", "--id", "metrics-test-worker")
    text = _scrape(client)
    assert _value(text, 'closeloop_worker_step_runs_total{result="idle",step="outbox",worker="metrics-test-worker"}') >= 1
    assert 'closeloop_worker_step_duration_seconds_count{step="sla.timers",worker="metrics-test-worker"}' in text
    assert 'closeloop_worker_last_seen_age_seconds{worker="metrics-test-worker"}' in text


def test_multiprocess_mode_adds_up_every_process(tmp_path):
    """Under gunicorn each process counts its own requests into PROMETHEUS_MULTIPROC_DIR;
    any process's /metrics reports the sum."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "closeloop.settings"}
    count = ("import django; django.setup(); from closeloop.ops import metrics; "
             "metrics.observe_request('GET', '/x', 200, 0.01)")
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], env=env, check=True, timeout=120)
    render = ("import django; django.setup(); from closeloop.ops import metrics; "
              "print(metrics.render(database=False)[0].decode())")
    out = subprocess.run([sys.executable, "-c", render], env=env, check=True, timeout=120, capture_output=True,
                         text=True).stdout
    assert _value(out, 'closeloop_http_requests_total{method="GET",route="/x",status="200"}') == 2
