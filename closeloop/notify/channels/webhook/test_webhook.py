"""The generic webhook, and through it every way an HTTP endpoint can fail."""

import hashlib
import hmac
import json
import socket
import threading
import time

import pytest

from closeloop.notify.channels import base, webhook
from closeloop.notify.channels.base import Permanent, Refused, Retryable
from closeloop.notify.conftest import make_delivery
from closeloop.notify.models import Channel

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    from django.utils import translation

    with translation.override("en"):  # these tests read the English error texts
        yield


def _ch(url):
    from closeloop.core.clock import now

    return Channel.objects.create(kind="webhook", name="hook", created_at=now(), config={"url": url, "secret": "whs"})


def test_signed_json_with_delivery_id(sink):
    ch = _ch(sink.url + "/in")
    webhook.send(ch, make_delivery(ch, key="notify:1:u2:webhook"))
    req = sink.requests[0]
    h = req["headers"]
    assert h["X-Closeloop-Delivery"] == "notify:1:u2:webhook" == h["webhook-id"]
    mac = hmac.new(b"whs", h["X-Closeloop-Timestamp"].encode() + b"." + req["body"], hashlib.sha256).hexdigest()
    assert h["X-Closeloop-Signature"] == "sha256=" + mac
    assert json.loads(req["body"])["id"] == "notify:1:u2:webhook"


@pytest.mark.parametrize("status,exc", [(500, Retryable), (503, Retryable), (408, Retryable), (404, Permanent),
                                        (400, Permanent), (410, Permanent), (302, Permanent)])
def test_status_classes(sink, status, exc):
    ch = _ch(sink.url)
    sink.responses = [(status, {"Location": "http://169.254.169.254/"}, b"no")]
    with pytest.raises(exc):
        webhook.send(ch, make_delivery(ch))
    assert len(sink.requests) == 1  # the redirect was not followed


def test_429_retry_after(sink):
    ch = _ch(sink.url)
    sink.responses = [(429, {"Retry-After": "30"}, b"slow down")]
    with pytest.raises(Retryable) as e:
        webhook.send(ch, make_delivery(ch))
    assert e.value.retry_after == 30


def test_timeout_and_slow_body(sink, monkeypatch):
    monkeypatch.setattr(base, "TIMEOUT", base.httpx.Timeout(0.2))
    monkeypatch.setattr(base, "DEADLINE", 0.3)
    monkeypatch.setattr(base, "_client", None)
    ch = _ch(sink.url)

    def hang(handler, body):
        time.sleep(0.5)
        return (200, {}, b"late")

    sink.responses = [hang]
    with pytest.raises(Retryable, match="Timed out"):
        webhook.send(ch, make_delivery(ch))

    def trickle(handler, body):
        handler.send_response(200)
        handler.send_header("Content-Length", "100")
        handler.end_headers()
        for _ in range(10):
            handler.wfile.write(b"x")
            handler.wfile.flush()
            time.sleep(0.1)
        return None

    sink.responses = [trickle]
    with pytest.raises(Retryable):
        webhook.send(ch, make_delivery(ch, key="k2"))
    monkeypatch.setattr(base, "_client", None)


def test_connection_reset_and_refused(settings):
    settings.CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS = True
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]

    def reset():
        conn, _ = srv.accept()
        conn.recv(1024)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()

    threading.Thread(target=reset, daemon=True).start()
    ch = _ch(f"http://127.0.0.1:{port}/")
    with pytest.raises(Retryable, match="Network error"):
        webhook.send(ch, make_delivery(ch))
    srv.close()
    with pytest.raises(Retryable):
        webhook.send(ch, make_delivery(ch, key="k2"))  # nothing listens now


def test_response_size_is_capped(sink):
    ch = _ch(sink.url)
    sink.responses = [(200, {}, b"y" * (base.MAX_RESPONSE_BYTES * 4))]
    assert webhook.send(ch, make_delivery(ch)) == ""  # a huge answer is still a success...
    resp = base.request("POST", sink.url, content=b"{}")
    assert resp.status_code == 200
    assert len(resp.content) == base.MAX_RESPONSE_BYTES  # ... of which only the cap is read


def test_private_addresses_are_refused_by_default(sink, settings):
    ch = _ch(sink.url)
    settings.CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS = False
    with pytest.raises(Refused):
        webhook.send(ch, make_delivery(ch))
    assert sink.requests == []
    with pytest.raises(Refused):  # a name that resolves to loopback is checked when connecting
        webhook.send(ch.__class__(kind="webhook", config={"url": sink.url.replace("127.0.0.1", "localhost")}),
                     make_delivery(ch, key="k2"))
    from closeloop.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        _ch("http://10.0.0.8/hook").save()


def test_loopback_is_refused_when_nothing_allows_it(sink, settings):
    del settings.CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS  # the default: no setting, no env, not the demo database
    ch = Channel(kind="webhook", name="h", config={"url": sink.url})
    with pytest.raises(Refused):
        webhook.send(ch, _delivery_for(ch))
    assert sink.requests == []


def _delivery_for(ch):
    from types import SimpleNamespace

    return SimpleNamespace(key="k", event="e", work_order_code="", recipient="r", subject="s", body="b", url="")


def test_the_demo_database_relaxes_nothing(sink, settings):
    """A database `closeloop demo` loaded is marked as the demo, and still the guard holds:
    the demo allows its sink explicitly (CLOSELOOP_NOTIFY_PRIVATE_ALLOWLIST, set by `make demo`)."""
    from closeloop.core.clock import now
    from closeloop.core.demo_database import forget_cached_marker, is_demo_database
    from closeloop.demo.models import DemoMarker

    del settings.CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS
    DemoMarker.objects.create(loaded_at=now(), seed=1, scale=0.1, data_version=1)
    forget_cached_marker()
    assert is_demo_database()
    ch = Channel(kind="webhook", name="h", config={"url": sink.url})
    with pytest.raises(Refused):
        webhook.send(ch, _delivery_for(ch))
    assert sink.requests == []


def test_the_allowlist_lets_through_only_what_it_names(sink, settings):
    del settings.CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS
    port = int(sink.url.rsplit(":", 1)[1].split("/")[0])
    ch = Channel(kind="webhook", name="h", config={"url": sink.url})
    settings.CLOSELOOP_NOTIFY_PRIVATE_ALLOWLIST = [f"127.0.0.1:{port + 1}", "10.0.0.0/8"]
    with pytest.raises(Refused):  # another port of the same address
        webhook.send(ch, _delivery_for(ch))
    settings.CLOSELOOP_NOTIFY_PRIVATE_ALLOWLIST = [f"127.0.0.1:{port}"]
    webhook.send(ch, _delivery_for(ch))
    assert len(sink.requests) == 1
    settings.CLOSELOOP_NOTIFY_PRIVATE_ALLOWLIST = ["127.0.0.0/8"]  # a network, any port
    webhook.send(ch, _delivery_for(ch))
    assert len(sink.requests) == 2
    # Saving a channel checks the same list: 10.0.0.8 is listed, 192.168.1.1 is not.
    settings.CLOSELOOP_NOTIFY_PRIVATE_ALLOWLIST = ["10.0.0.0/8", "[::1]:8025"]
    _ch("http://10.0.0.8/hook").save()
    from closeloop.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        _ch("http://192.168.1.1/hook").save()
    base.check_ip("::1", 8025)
    with pytest.raises(Refused):
        base.check_ip("::1", 8026)


def test_a_malformed_allowlist_entry_fails_the_system_check(settings):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.CLOSELOOP_NOTIFY_PRIVATE_ALLOWLIST = ["127.0.0.1:8025", "not-an-address"]
    with pytest.raises(SystemCheckError, match="notify.E001"):
        call_command("check")
    settings.CLOSELOOP_NOTIFY_PRIVATE_ALLOWLIST = ["127.0.0.1:8025", "10.0.0.0/8", "[::1]:25"]
    call_command("check")
