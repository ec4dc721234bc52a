"""`closeloop serve` in a demo starts the notification sink before the worker; log lines carry
time and level."""

import io
import logging
import re
import socket
import urllib.request

import pytest
from django.conf import settings

from closeloop.core.management.commands import serve


def _run_handle(monkeypatch, demo: bool) -> list[str]:
    calls = []
    monkeypatch.setattr(settings, "DEMO_MODE", demo)
    monkeypatch.setattr("gunicorn.app.wsgiapp.run", lambda: calls.append("gunicorn"))
    monkeypatch.setattr(serve.Command, "_ensure_static", lambda self: None)
    monkeypatch.setattr(serve.Command, "_start_sink", lambda self: calls.append("sink"))
    monkeypatch.setattr(serve.Command, "_start_worker", lambda self: calls.append("worker"))
    monkeypatch.setattr("sys.argv", ["closeloop"])
    serve.Command(stdout=io.StringIO()).handle(host="127.0.0.1", port=0, workers=1, no_worker=False)
    return calls


def test_demo_serve_starts_the_sink_before_the_worker(monkeypatch):
    assert _run_handle(monkeypatch, demo=True) == ["sink", "worker", "gunicorn"]


def test_serve_outside_the_demo_starts_no_sink(monkeypatch):
    assert _run_handle(monkeypatch, demo=False) == ["worker", "gunicorn"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_started_sink_receives_and_lists_messages():
    http_port, smtp_port = _free_port(), _free_port()
    proc = serve.Command(stdout=io.StringIO())._start_sink(http_port=http_port, smtp_port=smtp_port, wait=60)
    try:
        assert proc is not None and proc.poll() is None
        req = urllib.request.Request(f"http://127.0.0.1:{http_port}/hook", data=b'{"hello": "sink"}',
                                     headers={"Content-Type": "application/json"}, method="POST")
        assert urllib.request.urlopen(req, timeout=10).status == 200
        page = urllib.request.urlopen(f"http://127.0.0.1:{http_port}/", timeout=10).read().decode()
        assert "hello" in page and "Webhook" in page
        # A second serve finds it listening and starts none.
        assert serve.Command(stdout=io.StringIO())._start_sink(http_port=http_port, smtp_port=smtp_port) is None
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize("level", [logging.WARNING, logging.ERROR])
def test_log_lines_carry_time_and_level(level):
    handler = settings.LOGGING["handlers"]["console"]
    spec = settings.LOGGING["formatters"][handler["formatter"]]
    fmt = logging.Formatter(spec["format"], spec.get("datefmt"))
    record = logging.LogRecord("closeloop.outbox.services", level, __file__, 1, "outbox %s delivery failed", ("k",),
                               None)
    from closeloop.core.logs import RequestIdFilter

    RequestIdFilter().filter(record)
    line = fmt.format(record)
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", line), line
    assert logging.getLevelName(level) in line and "delivery failed" in line
