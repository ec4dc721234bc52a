"""Local servers for the notification tests: an HTTP server per test that records the
requests and answers what the test tells it to, and an aiosmtpd SMTP server."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Sink:
    """Records requests; `responses` is a list of (status, headers, body) or callables, popped
    per request (the last one repeats)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.responses: list = [(200, {}, b'{"errcode":0,"errmsg":"ok","code":0}')]
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                sink.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                      "body": body})
                r = sink.responses.pop(0) if len(sink.responses) > 1 else sink.responses[0]
                if callable(r):
                    r = r(self, body)
                    if r is None:
                        return
                status, headers, payload = r
                if isinstance(payload, (dict, list)):
                    payload = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = _handle
            do_GET = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda *a: None  # a client that hung up (timeout tests) is expected
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sink(settings):
    settings.CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS = True
    s = Sink()
    yield s
    s.close()


class Mailbox:
    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list = []
        self.refuse: set[str] = set()
        box = self

        class H:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
                if address in box.refuse:
                    return "550 5.1.1 No such user"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                box.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                     "data": envelope.content.decode("utf-8", "replace")})
                return "250 Message accepted"

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.controller = Controller(H(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def close(self):
        if not getattr(self, "closed", False):
            self.closed = True
            self.controller.stop()


@pytest.fixture
def smtp(settings):
    settings.CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS = True
    box = Mailbox()
    yield box
    box.close()


def drain(limit: int = 200, at=None) -> int:
    """Run the outbox until nothing is due (at `at`, default now)."""
    from closeloop.outbox.services import handle_one_outbox

    n = 0
    while n < limit and handle_one_outbox("test", at=at):
        n += 1
    return n


def wait_for(cond, timeout=2.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def make_delivery(channel, *, address="", body="冷却报警 WD1", subject="紧急 WD1", key="k1", event="test", **kw):
    from closeloop.core.clock import now
    from closeloop.notify.models import Delivery

    t = now()
    return Delivery.objects.create(key=key, event=event, medium=channel.medium, channel=channel, address=address,
                                   subject=subject, body=body, markdown=kw.pop("markdown", "### " + subject),
                                   recipient="张伟", created_at=t, scheduled_at=t, updated_at=t, **kw)
