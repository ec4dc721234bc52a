"""The demo runs without debug pages (issue 19): `make demo`'s way of serving
(`CLOSELOOP_DEMO=1 closeloop serve`), even from a shell that exports CLOSELOOP_DEBUG=1,
answers a missing page, a hostile upload and a NUL in the path without Django's
technical pages (settings, URL patterns, tracebacks)."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEBUG_MARKS = (b"Using the URLconf", b"Traceback", b"DEBUG = True", b"technical_500", b"Request Method:")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(base, path, data=None, headers=None):
    req = urllib.request.Request(base + path, data=data, headers=headers or {}, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    data = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOSELOOP_", "DJANGO_"))}
    env.pop("DATABASE_URL", None)
    env.update({"CLOSELOOP_DEMO": "1", "CLOSELOOP_DEBUG": "1", "CLOSELOOP_DATA_DIR": str(data)})
    subprocess.run([sys.executable, "-m", "closeloop.cli", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=300)
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "closeloop.cli", "serve", "--port", str(port), "--workers", "1",
                               "--no-worker", "--no-sink"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(1200):
            if server.poll() is not None:
                pytest.fail("closeloop serve exited: " + server.stdout.read())
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing", "/static/no-such-file.js", "/healthz/../../etc"])
def test_a_missing_page_is_not_a_debug_page(demo_server, path):
    status, _headers, body = _request(demo_server, path)
    assert status in (301, 302, 404), status
    assert not any(m in body for m in DEBUG_MARKS), body[:400]


def test_hostile_requests_get_problem_json_not_a_debug_page(demo_server):
    for path, data, headers, expected in [
        ("/api/v1/work-orders/WD%00X", None, {}, 422),
        ("/api/v1/work-orders", b"--x\r\n\r\nhello", {"Content-Type": "multipart/form-data"}, 400),
    ]:
        status, headers_out, body = _request(demo_server, path, data, headers)
        assert status == expected, (path, status, body[:300])
        assert headers_out["Content-Type"] == "application/problem+json"
        assert not any(m in body for m in DEBUG_MARKS)
