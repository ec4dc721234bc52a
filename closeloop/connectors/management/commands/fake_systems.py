"""`closeloop fake_systems`: a fake CRM and a fake ERP on one local port (127.0.0.1:8026), for the
demo and the tests, so the lookup's "CRM conversation, ERP delivery date and our check-in side
by side" can be seen working without any real system.

    GET /crm/opportunities/<id>   the CRM opportunity: customer, stage, owner, the conversation
                                  (needs `Authorization: Bearer demo-crm-token`, else 401)
    GET /erp/purchases/<id>       the ERP purchase: status, supplier, lines, promised delivery date
    GET /slow/<anything>          answers after --slow seconds (a system that does not answer in time)
    GET /fail/<anything>          500
    ids starting with MISSING     404

Answers are made up from the id (the same id always gives the same record). `closeloop serve`
starts this in a demo (CLOSELOOP_DEMO=1) as it starts notify_sink.
"""

import hashlib
import json
import threading
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from django.core.management.base import BaseCommand

CRM_TOKEN = "Bearer demo-crm-token"
PORT = 8026

STAGES = ["需求确认", "方案报价", "商务谈判", "已签约", "售后服务"]
OWNERS = ["王销售", "李经理", "赵客户成功"]
SUPPLIERS = ["华东医疗器械有限公司", "深圳精密配件厂", "北京康达备件中心"]
PARTS = [("PSU-650W", "服务器电源模块 650W"), ("FAN-120", "散热风扇 120mm"), ("SNS-O2", "氧浓度传感器"),
         ("BAT-UPS", "UPS 蓄电池组")]
LINES = ["客户来电: 设备又报警了, 能否今天派人?", "已告知客户工程师今天下午到场。", "客户确认备件到货后再安排更换。",
         "客户询问保修范围, 已转服务经理。"]


def _n(ident: str, salt: str) -> int:
    return int(hashlib.sha256(f"{salt}:{ident}".encode()).hexdigest()[:8], 16)


def crm_record(ident: str) -> dict:
    n = _n(ident, "crm")
    start = date(2026, 11, 1) + timedelta(days=n % 30)
    convo = [{"at": f"{start + timedelta(days=i)}T{9 + i}:1{i}:00+08:00", "by": "客户" if i % 2 == 0 else OWNERS[n % 3],
              "text": LINES[(n + i) % len(LINES)]} for i in range(2 + n % 3)]
    return {"id": ident, "stage": STAGES[n % len(STAGES)], "owner": OWNERS[n % len(OWNERS)],
            "customer": {"name": "甲医院设备科", "level": "VIP" if n % 2 else "标准"},
            "amount": 10000 + n % 90000, "conversation": convo, "last_message": convo[-1]}


def erp_record(ident: str) -> dict:
    n = _n(ident, "erp")
    code, label = PARTS[n % len(PARTS)]
    promised = date(2026, 12, 8) + timedelta(days=n % 10)
    return {"po": ident, "status": ["已下单", "已发货", "部分到货"][n % 3], "supplier": SUPPLIERS[n % len(SUPPLIERS)],
            "lines": [{"sku": code, "name": label, "qty": 1 + n % 3}],
            "delivery": {"promised": promised.isoformat(), "carrier": "顺丰速运", "tracking": f"SF{n % 10**10:010d}"}}


def make_handler(*, slow_seconds: float = 5.0, release: threading.Event | None = None, hits: list | None = None):
    """The request handler; `release` ends a slow answer early (tests set it at teardown),
    `hits` records (path, auth header) of each request."""
    release = release or threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def _reply(self, status: int, payload, ctype="application/json; charset=utf-8"):
            body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def do_GET(self):  # noqa: N802
            path = urlsplit(self.path).path
            if hits is not None:
                hits.append((path, self.headers.get("Authorization", "")))
            parts = [unquote(p) for p in path.strip("/").split("/")]
            ident = parts[-1] if parts else ""
            if path in ("", "/"):
                return self._reply(200, INDEX.encode(), "text/html; charset=utf-8")
            if parts[0] == "slow":
                release.wait(slow_seconds)
                return self._reply(200, {"id": ident, "note": "late"})
            if parts[0] == "fail":
                return self._reply(500, {"error": "internal error"})
            if ident.upper().startswith("MISSING"):
                return self._reply(404, {"error": "not found"})
            if parts[:2] == ["crm", "opportunities"] and len(parts) == 3:
                if self.headers.get("Authorization") != CRM_TOKEN:
                    return self._reply(401, {"error": "bad token"})
                return self._reply(200, crm_record(ident))
            if parts[:2] == ["erp", "purchases"] and len(parts) == 3:
                return self._reply(200, erp_record(ident))
            return self._reply(404, {"error": "no such endpoint"})

    return Handler


INDEX = """<!doctype html><meta charset=utf-8><title>closeloop fake systems</title>
<h1>closeloop fake systems</h1><ul>
<li><a href="/crm/opportunities/CRM-60012001">/crm/opportunities/&lt;id&gt;</a> (Authorization: Bearer demo-crm-token)
<li><a href="/erp/purchases/PO-1">/erp/purchases/&lt;id&gt;</a>
<li>/slow/&lt;id&gt; answers late, /fail/&lt;id&gt; fails, ids starting with MISSING are 404</ul>"""


def serve(port: int = 0, **kw) -> ThreadingHTTPServer:
    """A running server on 127.0.0.1 (port 0: any free port) in a daemon thread."""
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(**kw))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True, name="fake-systems").start()
    return server


class Command(BaseCommand):
    help = "Serve a fake CRM and ERP on 127.0.0.1 (the demo's connected systems)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=PORT)
        parser.add_argument("--slow", type=float, default=5.0, help="Seconds /slow/ waits before answering.")

    def handle(self, *args, port, slow, **options):
        server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(slow_seconds=slow))
        server.daemon_threads = True
        self.stdout.write(f"closeloop fake_systems: CRM and ERP on http://127.0.0.1:{port}/")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
