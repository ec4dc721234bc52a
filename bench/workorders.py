"""Benchmark the work order core over HTTP, against a production-style server.

    python bench/workorders.py                         # SQLite, 100k work orders (also: make bench)
    python bench/workorders.py --db postgres -n 1000000
    python bench/workorders.py --reuse --ops get,search --duration 30

Steps: migrate a fresh database (or --reuse the seeded one), seed N work orders with
bench/seed.py, create an API token for a dispatcher, start `closeloop serve --workers 2`
(gunicorn sync workers, CLOSELOOP_ENV=production, DEBUG off), warm up, then load each
operation for --duration seconds at --concurrency connections with `wrk`
(`apt-get install wrk`) or, when wrk is missing, bench/httpload.py (raw asyncio).
Prints requests/s, latency percentiles, errors (every non-2xx and socket error), and
the CPU used by the server, the database server (PostgreSQL backends), the load client
and the whole machine; writes the same as JSON into bench/results/. See
docs/performance.md.
"""

import argparse
import json
import os
import platform
import random
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:0] = [str(BENCH_DIR), str(ROOT)]
import vocab  # noqa: E402

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/closeloop_bench"
MARKER = ".closeloop-bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
API = "/api/v1/work-orders"


@dataclass
class Op:
    name: str
    what: str
    target: tuple | None = None  # ("rps", ">=", 300) or ("p99", "<=", 15)


OPS = [
    Op("create", "POST /api/v1/work-orders (type, title, description, priority, customer, site, asset (60 %), "
                 "contact, team)",
       ("rps", ">=", 300)),
    Op("get", "GET /api/v1/work-orders/{code}, random codes over the whole table", ("p99", "<=", 15)),
    Op("list-team", "GET ?status=assigned&team={team}, first page of 25, the 5 teams in turn", ("p99", "<=", 50)),
    Op("list-urgent", "GET ?priority=urgent, first page of 25", ("p99", "<=", 50)),
    Op("search", "GET ?q=制冷, first page of 25", ("p99", "<=", 150)),
    Op("search-mix", f"GET ?q= one of {'/'.join(vocab.SEARCH_WORDS)} in turn", ("p99", "<=", 150)),
    Op("timeline", "GET /api/v1/work-orders/{code}/timeline, random codes", None),
    Op("transition", "POST /api/v1/work-orders/{code}/actions/assign (assignee: an engineer of its team), "
                     "open work orders in new/assigned/accepted in turn (assign leaves them assigned, so it repeats)",
       None),
]
# Reads first, on the seeded data as it is; create last.
RUN_ORDER = ["get", "timeline", "list-team", "list-urgent", "search", "search-mix", "create", "transition"]


def log(msg: str) -> None:
    print(msg, flush=True)


# ---- the database --------------------------------------------------------------------------

def prepare_environment(args) -> dict:
    """Environment for this process's Django and for the server: production settings, our own data."""
    data_dir = Path(args.data_dir).resolve()
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "closeloop.settings",
        "CLOSELOOP_ENV": "production",
        "CLOSELOOP_SSL_REDIRECT": "0",
        "CLOSELOOP_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "CLOSELOOP_DATA_DIR": str(data_dir),
        "CLOSELOOP_SECRET_KEY": secrets.token_urlsafe(50),
        "CLOSELOOP_LOG_LEVEL": "WARNING",
        # One token drives thousands of calls a second: the limits are checked (their cost is
        # measured) but set far above what the load sends.
        "CLOSELOOP_API_RATE_PER_TOKEN": "100000000/60",
        "CLOSELOOP_API_RATE_PER_ORG": "100000000/60",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
    })
    for var in ("CLOSELOOP_DEBUG", "CLOSELOOP_ACCESS_LOG", "CLOSELOOP_DEMO", "REDIS_URL"):
        env.pop(var, None)
    if args.db == "postgres":
        env["DATABASE_URL"] = args.database_url
    else:
        env.pop("DATABASE_URL", None)
    return env


def reset_sqlite(data_dir: Path, reuse: bool) -> bool:
    """Returns True when the database must be seeded."""
    db = data_dir / "closeloop.sqlite3"
    if data_dir.exists() and any(data_dir.iterdir()) and not (data_dir / MARKER).exists():
        raise SystemExit(f"{data_dir} holds files the benchmark did not create; pass another --data-dir "
                         f"(the benchmark deletes its database there).")
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / MARKER).touch()
    if reuse and db.exists():
        return False
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return True


def reset_postgres(url: str, reuse: bool) -> bool:
    import psycopg

    u = urlsplit(url)
    name = u.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to drop database {name!r}: the benchmark only recreates databases whose name "
                         f"contains 'bench'.")
    admin = u._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if reuse and exists:
            return False
        if exists:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return True


def setup_django(env: dict) -> None:
    os.environ.update(env)
    if "DATABASE_URL" not in env:
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()


def make_fixtures(rng: random.Random, samples: int) -> dict:
    """Token and the request material: existing codes, team codes, create bodies."""
    from django.db import connection

    from closeloop.accounts.models import User
    from closeloop.accounts.services import do_create_token
    from closeloop.customers.models import Asset, Contact, Site
    from closeloop.workorders.models import WorkOrder

    dispatcher = User.objects.get(username="bench-dispatcher")
    _token, clear = do_create_token(user=dispatcher, name=f"bench {datetime.now():%Y-%m-%d %H:%M}",
                                    scopes=["read", "write"])
    lo, hi = WorkOrder.objects.order_by("id").values_list("id", flat=True).first(), \
        WorkOrder.objects.order_by("-id").values_list("id", flat=True).first()
    ids = [rng.randint(lo, hi) for _i in range(samples)]
    codes = list(WorkOrder.objects.filter(id__in=ids).values_list("code", flat=True))
    rng.shuffle(codes)
    contacts = dict(Contact.objects.filter(customer__code__startswith="bench-c").values_list("customer_id", "id"))
    assets: dict[int, list] = {}
    for site_id, serial, category in Asset.objects.filter(site__code__startswith="bench-c").values_list(
            "site_id", "serial_number", "category"):
        assets.setdefault(site_id, []).append((serial, category))
    sites = list(Site.objects.filter(code__startswith="bench-c").values_list("id", "code", "customer_id",
                                                                             "customer__code"))
    equipment = {e[0]: e for e in vocab.EQUIPMENT}
    teams = [f"bench-{code}" for code, _name, _groups in vocab.TEAMS]
    bodies = []
    for _i in range(2000):
        site_id, site, customer_id, customer = rng.choice(sites)
        body = {"type": rng.choice(vocab.TYPES)[0], "customer": customer, "site": site}
        if assets.get(site_id) and rng.random() < 0.6:  # like the seeded ones: most name an asset
            body["asset"], category = rng.choice(assets[site_id])
            name, _group, _w, faults, _models = equipment[category]
        else:
            name, _group, _w, faults, _models = rng.choice(vocab.EQUIPMENT)
        fault = rng.choice(faults)[0]
        loc = rng.choice(vocab.LOCATIONS_CJK + vocab.LOCATIONS_MIXED + [""] * 10)
        body.update(
            title=f"{loc}{name}{fault}",
            description=f"{rng.choice(vocab.REPORTERS)}反映{loc}{name}{fault}，{rng.choice(vocab.OBSERVATIONS)}，"
                        f"{rng.choice(vocab.IMPACTS)}。{rng.choice(vocab.REQUESTS)}",
            priority=rng.choices(["low", "normal", "high", "urgent"], [15, 55, 22, 8])[0],
            team=rng.choice(teams))
        if customer_id in contacts:
            body["contact"] = contacts[customer_id]
        bodies.append(body)
    # Transitions: re-assigning open work orders (new/assigned/accepted -> assigned) repeats without
    # running out; many different work orders so that two connections rarely hit the same one (a 409).
    engineers: dict[int, list[str]] = {}
    for team_id, username in User.objects.filter(role="engineer", team__isnull=False, is_active=True).values_list(
            "team_id", "username"):
        engineers.setdefault(team_id, []).append(username)
    assignable = list(WorkOrder.objects.filter(status__in=["new", "assigned", "accepted"], team__isnull=False)
                      .order_by("-id").values_list("code", "team_id")[:2000])
    rng.shuffle(assignable)
    assigns = [(c, rng.choice(engineers[t])) for c, t in assignable if engineers.get(t)]
    count = WorkOrder.objects.count()
    connection.close()
    return {"token": clear, "codes": codes, "teams": teams, "bodies": bodies, "work_orders": count,
            "assigns": assigns}


def request_lines(op: str, fx: dict) -> list[str]:
    if op == "create":
        return [f"POST\t{API}\t{json.dumps(b, ensure_ascii=False)}" for b in fx["bodies"]]
    if op == "get":
        return [f"GET\t{API}/{c}" for c in fx["codes"]]
    if op == "transition":
        return [f"POST\t{API}/{c}/actions/assign\t{json.dumps({'assignee': u})}" for c, u in fx["assigns"]]
    if op == "timeline":
        return [f"GET\t{API}/{c}/timeline" for c in fx["codes"]]
    if op == "list-team":
        return [f"GET\t{API}?status=assigned&team={t}" for t in fx["teams"]]
    if op == "list-urgent":
        return [f"GET\t{API}?priority=urgent"]
    if op == "search":
        return [f"GET\t{API}?q={quote(vocab.SEARCH_WORDS[0])}"]
    if op == "search-mix":
        return [f"GET\t{API}?q={quote(w)}" for w in vocab.SEARCH_WORDS]
    raise ValueError(op)


def db_info(vendor_hint: str) -> dict:
    from django.db import connection

    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SELECT version(), pg_database_size(current_database())")
            version, size = cur.fetchone()
        else:
            import sqlite3

            version = f"SQLite {sqlite3.sqlite_version}"
            path = Path(connection.settings_dict["NAME"])
            size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    connection.close()
    return {"vendor": vendor_hint, "version": version, "size_mb": round(size / 2**20)}


def pg_backend_pids_fn(url: str):
    """A function listing the PostgreSQL backends connected to the benchmark database (not itself)."""
    import psycopg

    conn = psycopg.connect(url, autocommit=True)

    def pids() -> list[int]:
        return [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")]

    pids.close = conn.close
    return pids


# ---- processes and CPU ---------------------------------------------------------------------

def proc_cpu(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return out


def proc_start(pid: int) -> float | None:
    """Seconds since boot when the process started."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[19]) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def uptime_s() -> float:
    with open("/proc/uptime") as fh:
        return float(fh.read().split()[0])


class CpuTracker:
    """CPU seconds used by a changing set of processes (gunicorn workers, PostgreSQL backends)
    during a run: samples every 0.25 s, so processes that start during the run (a backend for
    a new connection, a restarted worker) are counted from their start."""

    def __init__(self, pids_fn):
        self.pids_fn = pids_fn
        self.base: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self._stop = threading.Event()

    def _sample(self) -> None:
        try:
            pids = self.pids_fn()
        except Exception:  # a monitoring hiccup must not end the benchmark
            return
        for pid in pids:
            cpu = proc_cpu(pid)
            if cpu is None:
                continue
            if pid not in self.base:
                started = proc_start(pid)
                self.base[pid] = 0.0 if started is not None and started >= self.t0 else cpu
            self.last[pid] = cpu

    def _loop(self) -> None:
        while not self._stop.wait(0.25):
            self._sample()

    def __enter__(self):
        self.t0 = uptime_s()
        self._sample()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def seconds(self) -> float:
        return sum(self.last[p] - self.base[p] for p in self.last)


def machine_busy() -> tuple[float, float]:
    with open("/proc/stat") as fh:
        v = [int(x) for x in fh.readline().split()[1:]]
    idle = v[3] + v[4]
    return (sum(v) - idle) / CLK_TCK, sum(v) / CLK_TCK


def machine_busy_pct(seconds: float) -> float:
    b0, t0 = machine_busy()
    time.sleep(seconds)
    b1, t1 = machine_busy()
    return 100 * (b1 - b0) / max(1e-9, t1 - t0) * (os.cpu_count() or 1)


class Server:
    def __init__(self, env: dict, port: int, workers: int, log_path: Path):
        self.env, self.port, self.workers, self.log_path = env, port, workers, log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", self.port)) == 0:
                raise SystemExit(f"port {self.port} is taken; pass --port")
        exe = Path(sys.executable).parent / "closeloop"
        base = [str(exe)] if exe.exists() else [sys.executable, "-m", "closeloop.cli"]
        # As the README's production path: the pages need the collected static files.
        subprocess.run(base + ["collectstatic", "--no-input", "-v0"], env=self.env, cwd=ROOT, check=True)
        cmd = base + ["serve", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)]
        self.logfile = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, env=self.env, cwd=ROOT, stdout=self.logfile, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited ({self.proc.returncode}); see {self.log_path}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                    if r.status == 200 and len(children(self.proc.pid)) >= self.workers:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        raise SystemExit(f"the server did not answer /healthz within 60 s; see {self.log_path}")

    def pids(self) -> list[int]:
        return [self.proc.pid, *children(self.proc.pid)]

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self.logfile.close()


# ---- load ----------------------------------------------------------------------------------

def pick_client(choice: str) -> str:
    if choice == "auto":
        return "wrk" if shutil.which("wrk") else "python"
    if choice == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (Debian/Ubuntu: apt-get install wrk); use --client python")
    return choice


def run_load(client: str, url: str, req_file: Path, duration: float, concurrency: int, env: dict,
             server: Server, db_pids_fn=None) -> dict:
    if client == "wrk":
        cmd = ["wrk", "-t", str(min(2, concurrency)), "-c", str(concurrency), "-d", f"{duration:g}s",
               "--timeout", "10s", "-s", str(BENCH_DIR / "requests.lua"), url, "--", str(req_file)]
    else:
        cmd = [sys.executable, str(BENCH_DIR / "httpload.py"), "--url", url, "--requests", str(req_file),
               "--duration", f"{duration:g}", "--concurrency", str(concurrency)]
    m0 = machine_busy()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    with CpuTracker(server.pids) as srv, CpuTracker(db_pids_fn or list) as db:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    m1 = machine_busy()
    result = None
    first_error = ""
    for line in p.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            result = json.loads(line[len("BENCH_JSON "):])
        elif line.startswith("BENCH_ERROR "):
            first_error = line[len("BENCH_ERROR "):]
    if result is None:
        raise SystemExit(f"the load client failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    client_cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    server_cpu, db_cpu = srv.seconds, db.seconds
    secs = result["duration_us"] / 1e6
    lat = result["latency_us"]
    errs = result["non2xx"] + sum(result["socket_errors"].values())
    out = {
        "requests": result["requests"], "seconds": round(secs, 2), "rps": round(result["requests"] / secs, 1),
        "p50_ms": lat["p50"] / 1000, "p90_ms": lat["p90"] / 1000, "p95_ms": lat["p95"] / 1000,
        "p99_ms": lat["p99"] / 1000, "max_ms": lat["max"] / 1000, "mean_ms": round(lat["mean"] / 1000, 2),
        "ok": result["ok"], "non2xx": result["non2xx"], "socket_errors": result["socket_errors"], "errors": errs,
        "first_error": first_error,
        "server_cpu_pct": round(100 * server_cpu / wall, 1),
        "server_cpu_ms_per_request": round(1000 * server_cpu / max(1, result["requests"]), 2),
        "db_cpu_pct": round(100 * db_cpu / wall, 1) if db_pids_fn else None,
        "db_cpu_ms_per_request": round(1000 * db_cpu / max(1, result["requests"]), 2) if db_pids_fn else None,
        "client_cpu_pct": round(100 * client_cpu / wall, 1),
        "machine_cpu_pct": round(100 * (m1[0] - m0[0]) / (m1[1] - m0[1]) * os.cpu_count(), 1),
    }
    out["other_cpu_pct"] = round(max(0.0, out["machine_cpu_pct"] - out["server_cpu_pct"] - (out["db_cpu_pct"] or 0)
                                     - out["client_cpu_pct"]), 1)
    return out


def verdict(op: Op, r: dict) -> str:
    if op.target is None:
        return ""
    metric, cmp, limit = op.target
    value = r["rps"] if metric == "rps" else r["p99_ms"]
    ok = value >= limit if cmp == ">=" else value <= limit
    unit = "/s" if metric == "rps" else " ms"
    return f"{'ok' if ok else 'MISS'} ({metric} {cmp} {limit}{unit})"


def print_table(rows: list[tuple[Op, dict]], show_db: bool) -> str:
    head = ["operation", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "server CPU%", "CPU ms/req"]
    if show_db:
        head += ["db CPU%", "db ms/req"]
    head += ["client CPU%", "other CPU%", "target"]
    lines = [head]
    for op, r in rows:
        line = [op.name, f"{r['requests']:,}", f"{r['rps']:,.0f}", f"{r['p50_ms']:.1f}", f"{r['p95_ms']:.1f}",
                f"{r['p99_ms']:.1f}", f"{r['errors']:,}", f"{r['server_cpu_pct']:.0f}",
                f"{r['server_cpu_ms_per_request']:.1f}"]
        if show_db:
            line += [f"{r['db_cpu_pct']:.0f}", f"{r['db_cpu_ms_per_request']:.1f}"] if r["db_cpu_pct"] is not None \
                else ["-", "-"]
        line += [f"{r['client_cpu_pct']:.0f}", f"{r['other_cpu_pct']:.0f}", verdict(op, r)]
        lines.append(line)
    widths = [max(len(str(ln[i])) for ln in lines) for i in range(len(head))]
    out = []
    for k, ln in enumerate(lines):
        out.append("| " + " | ".join(str(c).ljust(widths[i]) if i == 0 or i == len(head) - 1
                                     else str(c).rjust(widths[i]) for i, c in enumerate(ln)) + " |")
        if k == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


# ---- main ----------------------------------------------------------------------------------

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--database-url", default=DEFAULT_PG, help=f"for --db postgres (default {DEFAULT_PG})")
    p.add_argument("-n", type=int, default=100_000, help="work orders to seed (default 100000)")
    p.add_argument("--duration", type=float, default=20, help="seconds of load per operation (default 20)")
    p.add_argument("--warmup", type=float, default=3, help="seconds of unmeasured load first (default 3)")
    p.add_argument("--concurrency", type=int, default=8, help="connections (default 8)")
    p.add_argument("--reuse", action="store_true", help="keep an existing benchmark database instead of reseeding")
    p.add_argument("--data-dir", default=os.environ.get("CLOSELOOP_BENCH_DIR", str(ROOT / "var" / "bench")),
                   help="CLOSELOOP_DATA_DIR of the benchmark: SQLite file, server log (default var/bench, "
                        "or $CLOSELOOP_BENCH_DIR)")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--client", choices=["auto", "wrk", "python"], default="auto",
                   help="load client: wrk if installed, else bench/httpload.py")
    p.add_argument("--ops", default=",".join(RUN_ORDER), help=f"comma-separated subset of {','.join(RUN_ORDER)}")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args(argv)

    ops = {o.name: o for o in OPS}
    chosen = [o.strip() for o in args.ops.split(",") if o.strip()]
    unknown = [o for o in chosen if o not in ops]
    if unknown:
        p.error(f"unknown operation(s): {', '.join(unknown)}")
    client = pick_client(args.client)
    data_dir = Path(args.data_dir).resolve()
    env = prepare_environment(args)
    started = datetime.now().astimezone()
    load0 = os.getloadavg()
    log(f"closeloop bench: {args.db}, n={args.n:,}, {args.duration:g}s per operation at concurrency "
        f"{args.concurrency}, client {client}, load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}")
    busy = machine_busy_pct(2.0)
    if busy > 30:
        log(f"warning: the machine is already {busy:.0f}% busy (200% = both cores); the numbers will be lower "
            f"than it can do")

    if args.db == "sqlite":
        fresh = reset_sqlite(data_dir, args.reuse)
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        (data_dir / MARKER).touch()
        fresh = reset_postgres(args.database_url, args.reuse)
    setup_django(env)
    import seed as seeder
    from django.core.management import call_command
    from django.db import connection

    t = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    migrate_s = round(time.perf_counter() - t, 1)
    from closeloop.workorders.models import WorkOrder

    seeding = None
    if fresh or not WorkOrder.objects.exists():
        log(f"migrated a fresh database in {migrate_s}s")
        seeding = seeder.seed(args.n, rnd_seed=args.seed, log=log)
    else:
        log(f"reusing the seeded database ({WorkOrder.objects.count():,} work orders)")
    fractions = seeder.search_fractions()
    log("search matches: " + ", ".join(f"{w} {f:.1%}" for w, f in fractions.items()))
    rng = random.Random(args.seed)
    fx = make_fixtures(rng, 5000)
    info = db_info(args.db)
    connection.close()

    tmp = Path(tempfile.mkdtemp(prefix="closeloop-bench-"))
    server = Server(env, args.port, args.workers, data_dir / "bench-server.log")
    url = f"http://127.0.0.1:{args.port}"
    client_env = dict(os.environ, BENCH_AUTH=f"Bearer {fx['token']}")
    results: list[tuple[Op, dict]] = []
    db_pids = pg_backend_pids_fn(args.database_url) if args.db == "postgres" else None
    try:
        server.start()
        log(f"server up: closeloop serve --workers {args.workers} on {url} (pid {server.proc.pid}, log "
            f"{server.log_path})")
        for name in [o for o in RUN_ORDER if o in chosen]:
            op = ops[name]
            req_file = tmp / f"{name}.tsv"
            req_file.write_text("\n".join(request_lines(name, fx)) + "\n", encoding="utf-8")
            if args.warmup > 0:
                run_load(client, url, req_file, args.warmup, args.concurrency, client_env, server)
            r = run_load(client, url, req_file, args.duration, args.concurrency, client_env, server, db_pids)
            results.append((op, r))
            log(f"  {name:<12} {r['rps']:>8,.0f} req/s  p50 {r['p50_ms']:6.1f}  p95 {r['p95_ms']:6.1f}  "
                f"p99 {r['p99_ms']:6.1f} ms  errors {r['errors']}"
                + (f"  first error: {r['first_error'][:200]}" if r["first_error"] else ""))
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        if db_pids is not None:
            db_pids.close()

    results.sort(key=lambda x: [o.name for o in OPS].index(x[0].name))
    load1 = os.getloadavg()
    table = print_table(results, show_db=args.db == "postgres")
    log("")
    log(f"closeloop work order benchmark: {args.db} ({info['version'].split(' on ')[0]}), "
        f"{fx['work_orders']:,} work orders, {info['size_mb']:,} MB; {args.workers} gunicorn workers; "
        f"concurrency {args.concurrency}, {args.duration:g}s per operation, client {client}; {started:%Y-%m-%d %H:%M}")
    log(table)
    log(f"CPU% is of one core (200 = both cores of this machine); CPU ms/req is the server's (gunicorn) CPU time "
        f"per request; other = the rest of the machine (other processes, kernel). Load average before "
        f"{load0[0]:.2f}, after {load1[0]:.2f}.")
    busiest = max((r["other_cpu_pct"] for _op, r in results), default=0)
    if busiest > 25:
        log(f"warning: other processes used up to {busiest:.0f}% CPU during the run; throughput and latency above "
            f"are lower than this machine can do (CPU ms/req is less affected).")

    out_dir = BENCH_DIR / "results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"{started:%Y%m%d-%H%M%S}-{args.db}-{fx['work_orders']}.json"
    out.write_text(json.dumps({
        "started": started.isoformat(), "db": args.db, "database": info, "work_orders": fx["work_orders"],
        "params": vars(args) | {"database_url": redact(args.database_url) if args.db == "postgres" else None},
        "client": client, "machine": machine(), "load_average": {"before": load0, "after": load1},
        "machine_busy_before_pct": busy,
        "migrate_s": migrate_s, "seeding": seeding, "search_fractions": fractions,
        "operations": {op.name: r | {"what": op.what, "verdict": verdict(op, r)} for op, r in results},
        "table": table,
    }, indent=2, ensure_ascii=False, default=str))
    log(f"results: {out.relative_to(ROOT)}")
    return 0


def redact(url: str) -> str:
    u = urlsplit(url)
    return u._replace(netloc=f"{u.username or ''}@{u.hostname}:{u.port or 5432}").geturl()


def machine() -> dict:
    cpu = ""
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    wrk = ""
    if shutil.which("wrk"):
        v = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
        wrk = (v.stdout + v.stderr).split("\n")[0].strip()
    import django

    git = {}
    try:
        git["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                       text=True).stdout.strip()
        git["uncommitted_files"] = len(subprocess.run(["git", "status", "--porcelain", "closeloop"], cwd=ROOT,
                                                      capture_output=True, text=True).stdout.splitlines())
    except OSError:
        pass
    return {"git": git, "cpu": cpu, "cores": os.cpu_count(), "mem_gb": round(os.sysconf("SC_PAGE_SIZE")
                                                                 * os.sysconf("SC_PHYS_PAGES") / 2**30),
            "kernel": platform.release(), "python": platform.python_version(), "django": django.get_version(),
            "wrk": wrk}


if __name__ == "__main__":
    sys.exit(main())
