"""`closeloop notify_sink`: local endpoints to watch notifications arrive without any
provider account: a DingTalk/WeCom/Feishu robot, the Twilio SMS and call APIs and a
generic webhook on one HTTP port, and an SMTP server (aiosmtpd). Every request is
checked (DingTalk signature), printed, and listed at http://127.0.0.1:8025/.

The demo's channels point here (closeloop/notify/demo.py).
"""

import asyncio
import base64
import hashlib
import hmac
import html
import json
import threading
from collections import deque
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from django.core.management.base import BaseCommand

RECEIVED: deque = deque(maxlen=200)


def check_dingtalk(query: dict, secret: str) -> str:
    ts, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]
    if not secret:
        return "unsigned"
    if not ts or not sign:
        return "MISSING SIGNATURE"
    want = base64.b64encode(hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()).decode()
    return "signature ok" if sign == want else "BAD SIGNATURE"  # parse_qs decoded it


def _print_received(kind: str, summary: str, detail: str, out) -> None:
    RECEIVED.appendleft((datetime.now().strftime("%H:%M:%S"), kind, summary, detail))
    out.write(f"[{RECEIVED[0][0]}] {kind}: {summary}\n")
    out.flush()


def make_handler(secret: str, out):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def _reply(self, status: int, body: bytes, ctype="application/json"):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802
            rows = "".join(f"<tr><td>{html.escape(t)}</td><td>{html.escape(k)}</td><td>{html.escape(s)}</td>"
                           f"<td><pre>{html.escape(d)}</pre></td></tr>" for t, k, s, d in RECEIVED)
            page = (f"<!doctype html><meta charset=utf-8><title>closeloop notify sink</title>"
                    f"<h1>closeloop notify sink</h1><p>{len(RECEIVED)} messages (newest first; reload to refresh)</p>"
                    f"<table border=1 cellpadding=4><tr><th>time</th><th>kind</th><th>summary</th><th>body</th></tr>"
                    f"{rows}</table>").encode()
            self._reply(200, page, "text/html; charset=utf-8")

        def do_POST(self):  # noqa: N802
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            if parts.path.startswith("/robot/send"):
                body = json.loads(raw or b"{}")
                md = body.get("markdown", {})
                _print_received("DingTalk", f"{md.get('title', '')} ({check_dingtalk(query, secret)})", md.get("text", ""), out)
                return self._reply(200, b'{"errcode":0,"errmsg":"ok"}')
            if parts.path.startswith("/cgi-bin/webhook/send"):
                body = json.loads(raw or b"{}")
                _print_received("WeCom", "markdown", body.get("markdown", {}).get("content", ""), out)
                return self._reply(200, b'{"errcode":0,"errmsg":"ok"}')
            if parts.path.startswith("/open-apis/bot/"):
                body = json.loads(raw or b"{}")
                _print_received("Feishu", body.get("card", {}).get("header", {}).get("title", {}).get("content", ""),
                        json.dumps(body.get("card", {}), ensure_ascii=False), out)
                return self._reply(200, b'{"code":0,"msg":"success"}')
            if parts.path.endswith("/Messages.json") or parts.path.endswith("/Calls.json"):
                form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                kind = "SMS" if parts.path.endswith("Messages.json") else "Voice call"
                _print_received(kind, f"to {form.get('To', '')}", form.get("Body") or form.get("Twiml", ""), out)
                return self._reply(201, json.dumps({"sid": "SM" + hashlib.sha1(raw).hexdigest()[:32]}).encode())
            _print_received("Webhook", f"{parts.path} id={self.headers.get('X-Closeloop-Delivery', '')}",
                    raw.decode("utf-8", "replace"), out)
            return self._reply(200, b'{"ok":true}')

    return Handler


class Command(BaseCommand):
    help = "Run local notification endpoints (robots, SMS/voice API, webhook, SMTP) and print what arrives."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--http-port", type=int, default=8025)
        parser.add_argument("--smtp-port", type=int, default=1025)
        parser.add_argument("--dingtalk-secret", default="SECdemo", help="Verify DingTalk signatures with it")
        parser.add_argument("--max-seconds", type=float, default=0, help="Stop after this long (0: never)")

    def handle(self, *args, host, http_port, smtp_port, dingtalk_secret, max_seconds, **opts):
        out = self.stdout
        server = ThreadingHTTPServer((host, http_port), make_handler(dingtalk_secret, out))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        controller = None
        try:
            from aiosmtpd.controller import Controller

            class Mail:
                async def handle_DATA(self, server_, session, envelope):  # noqa: N802
                    from email import message_from_bytes, policy

                    msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
                    body = msg.get_body(("plain",))
                    _print_received("Email", f"{msg['Subject']} → {', '.join(envelope.rcpt_tos)}",
                            body.get_content() if body else "", out)
                    return "250 Message accepted"

            controller = Controller(Mail(), hostname=host, port=smtp_port)
            controller.start()
            out.write(f"SMTP on {host}:{smtp_port}\n")
        except ImportError:
            out.write("aiosmtpd is not installed: no SMTP sink (pip install aiosmtpd)\n")
        out.write(f"HTTP endpoints on http://{host}:{http_port}/ (robot: /robot/send, Twilio: /2010-04-01/...)\n")
        out.flush()
        try:
            asyncio.run(asyncio.sleep(max_seconds if max_seconds else 10 ** 9))
        except KeyboardInterrupt:
            pass
        finally:
            server.shutdown()
            if controller is not None:
                controller.stop()
