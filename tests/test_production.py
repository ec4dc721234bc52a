"""The README's "Running it for real", run as an operator would (issue 21).

Production settings (DEBUG off, manifest static storage), a fresh data directory,
`closeloop migrate`, `closeloop collectstatic --no-input`, `closeloop check --deploy`,
then `closeloop serve`; every console, phone and portal page fetched as each role
over HTTP, and every static URL those pages name fetched too. The database is a fresh
SQLite file, or a fresh PostgreSQL database when the suite runs on PostgreSQL.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent

STAFF_PAGES = [
    "/", "/work-orders/", "/work-orders/new", "/dashboard/", "/board/", "/lookup/", "/lookup/?q=WD",
    "/approvals/", "/approvals/flows/", "/approvals/reports/", "/approvals/handoffs/",
    "/notifications/", "/notifications/preferences", "/notifications/channels/", "/notifications/deliveries/",
    "/notifications/policies/", "/rules/", "/rules/new", "/rules/keywords/", "/dispatch/settings/",
    "/dispatch/roster/", "/fieldwork/gates/", "/settings/tokens/", "/work-orders/{code}/",
    "/settings/telemetry/", "/settings/telemetry/meters/", "/settings/telemetry/conditions/",
]
PHONE_PAGES = ["/m/", "/m/wo/{code}/", "/m/manifest.webmanifest", "/m/sw.js"]
PORTAL_PAGES = ["/portal/", "/portal/new", "/portal/w/{code}/"]
PUBLIC_PAGES = ["/login/", "/healthz", "/api/v1/docs", "{qr}", "{track}"]

# Pages each role must get (200); everything else a role asks for may be refused or
# redirected, but never a 5xx.
MUST_SEE = {
    "admin": [p for p in STAFF_PAGES if p != "/"],
    "manager": ["/work-orders/", "/work-orders/{code}/", "/dashboard/", "/board/", "/lookup/",
                "/approvals/", "/approvals/flows/", "/rules/", "/dispatch/roster/", "/notifications/"],
    "dispatcher": ["/work-orders/", "/work-orders/new", "/work-orders/{code}/", "/board/", "/lookup/",
                   "/notifications/", "/approvals/"],
    "finance": ["/work-orders/", "/work-orders/{code}/", "/notifications/"],
    "engineer": PHONE_PAGES + ["/notifications/"],
    "customer": ["/portal/", "/portal/new", "/portal/w/{code}/"],
    None: PUBLIC_PAGES,
}
HASHED = re.compile(r"\.[0-9a-f]{12}\.")
STATIC_REF = re.compile(r"""(?:src|href)=["'](/static/[^"'#?]+)""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _get(base: str, path: str, session: str | None = None) -> tuple[int, dict, bytes]:
    # Behind a TLS-terminating proxy, as production runs (SECURE_PROXY_SSL_HEADER).
    headers = {"X-Forwarded-Proto": "https", "Accept-Language": "zh-hans"}
    if session:
        headers["Cookie"] = f"sessionid={session}"
    req = urllib.request.Request(base + path, headers=headers)
    try:
        with _opener.open(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.fixture(scope="module")
def database_url():
    """A fresh database for the production run, of the kind the suite runs on."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        yield ""
        return
    import psycopg

    parts = urlsplit(url)
    name = (parts.path.lstrip("/") or "closeloop") + "_production_check"
    admin = {"host": parts.hostname, "port": parts.port or 5432, "user": parts.username or "postgres",
             "password": parts.password, "dbname": "postgres", "autocommit": True}
    with psycopg.connect(**admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(parts._replace(path="/" + name))
    with psycopg.connect(**admin) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def production(tmp_path_factory, database_url):
    data = tmp_path_factory.mktemp("production")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOSELOOP_", "DJANGO_"))}
    env.pop("DATABASE_URL", None)
    env.update({"CLOSELOOP_ENV": "production", "CLOSELOOP_SECRET_KEY": "t" * 20 + "production-check-key" * 3,
                "CLOSELOOP_ALLOWED_HOSTS": "127.0.0.1", "CLOSELOOP_DATA_DIR": str(data)})
    if database_url:
        env["DATABASE_URL"] = database_url

    def closeloop(*args, check=True):
        return subprocess.run([sys.executable, "-m", "closeloop.cli", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300, check=check)

    # Before collectstatic, the deploy check must refuse (the pages would all be 500).
    closeloop("migrate", "--no-input", "-v0")
    before = closeloop("check", "--deploy", check=False)
    # The README's commands, in its order.
    closeloop("collectstatic", "--no-input", "-v0")
    after = closeloop("check", "--deploy", check=False)
    seeded = subprocess.run([sys.executable, "tests/production_seed.py"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120, check=True)
    world = json.loads(seeded.stdout.strip().splitlines()[-1])

    port = _free_port()
    # The access log is on: the server's output goes to a file (a pipe nobody reads would fill up).
    log = (data / "serve.log").open("w+")
    server = subprocess.Popen([sys.executable, "-m", "closeloop.cli", "serve", "--host", "127.0.0.1", "--port",
                               str(port), "--workers", "2", "--no-worker"], cwd=ROOT,
                              env={**env, "CLOSELOOP_METRICS_TOKEN": METRICS_TOKEN},
                              stdout=log, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if server.poll() is not None:
                pytest.fail("closeloop serve exited: " + (data / "serve.log").read_text())
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield {"base": base, "world": world, "data": data, "before": before, "after": after, "closeloop": closeloop,
               "log": data / "serve.log"}
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


METRICS_TOKEN = "production-metrics-token-for-tests"


def test_liveness_readiness_and_metrics_behind_the_proxy(production):
    """Served by gunicorn with two processes: /livez is up, /readyz names the missing worker
    (serve --no-worker), /metrics needs the token and adds up both processes' requests, and
    the access log carries the request id."""
    base = production["base"]
    assert _get(base, "/livez")[0] == 200
    status, _h, body = _get(base, "/readyz")
    assert status == 503 and json.loads(body)["failed"] == ["workers"]
    for _ in range(6):
        assert _get(base, "/livez")[0] == 200
    assert _get(base, "/metrics")[0] == 403  # production: no network is allowed by default
    req = urllib.request.Request(base + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}",
                                                            "X-Forwarded-Proto": "https"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        text = resp.read().decode()
    line = next(x for x in text.splitlines()
                if x.startswith('closeloop_http_requests_total{method="GET",route="/livez",status="200"}'))
    assert float(line.rsplit(" ", 1)[1]) >= 7
    assert "closeloop_outbox_pending" in text and "closeloop_worker_step_runs_total" in text
    rid = "trace-me-123"
    req = urllib.request.Request(base + "/livez", headers={"X-Request-ID": rid, "X-Forwarded-Proto": "https"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.headers["X-Request-ID"] == rid
    for _ in range(100):
        if f"rid={rid}" in production["log"].read_text():
            break
        time.sleep(0.05)
    assert '"GET /livez HTTP/1.1" 200' in production["log"].read_text() and f"rid={rid}" in production["log"].read_text()


def test_deploy_check_refuses_without_collected_static_and_passes_after(production):
    before, after = production["before"], production["after"]
    assert before.returncode != 0
    assert "closeloop.E001" in before.stderr and "staticfiles.json" in before.stderr
    assert after.returncode == 0, after.stderr
    assert "closeloop.E001" not in after.stderr


def test_deploy_check_names_a_stale_bundle(production):
    collected = production["data"] / "static" / "dist" / "favicon.svg"
    original = collected.read_bytes()
    try:
        collected.write_bytes(original + b"<!-- stale -->")
        stale = production["closeloop"]("check", "--deploy", check=False)
        assert stale.returncode != 0
        assert "dist/favicon.svg changed since it was collected" in stale.stderr
    finally:
        collected.write_bytes(original)


def _pages_for(world):
    return [p.format(**world) for p in STAFF_PAGES + PHONE_PAGES + PORTAL_PAGES + PUBLIC_PAGES]


@pytest.mark.parametrize("role", ["admin", "manager", "dispatcher", "finance", "engineer", "customer", None])
def test_every_page_of_every_role_answers_and_its_static_files_resolve(production, role):
    base, world = production["base"], production["world"]
    session = world["sessions"][role] if role else None
    must = {p.format(**world) for p in MUST_SEE[role]}
    statics: set[str] = set()
    for path in _pages_for(world):
        status, headers, body = _get(base, path, session)
        assert status < 500, f"{role} {path}: {status}\n{body[:2000].decode(errors='replace')}"
        if path in must:
            assert status == 200, f"{role} must see {path}, got {status} {headers.get('Location', '')}"
        elif role is None and status in (301, 302):
            assert urlsplit(headers["Location"]).path == "/login/", f"{path} redirects to {headers['Location']}"
        if status == 200 and headers.get("Content-Type", "").startswith("text/html"):
            statics.update(STATIC_REF.findall(body.decode()))
    assert statics, f"{role}: no page referenced a static file"
    for url in sorted(statics):
        assert HASHED.search(url), f"{url} is not a hashed (manifest) name"
        status, headers, body = _get(base, url)
        assert status == 200 and body, f"{url}: {status}"
        assert "immutable" in headers.get("Cache-Control", ""), f"{url}: {headers.get('Cache-Control')}"
