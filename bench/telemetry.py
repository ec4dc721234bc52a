"""Telemetry: ingestion throughput and CPU per batch through the real WSGI application, and one
condition evaluated over every asset.

    .venv/bin/python bench/telemetry.py                                   # SQLite in var/bench-telemetry
    .venv/bin/python bench/telemetry.py --db postgres                     # database telemetry_bench
    .venv/bin/python bench/telemetry.py --assets 10000 --batches 200      # the defaults

Steps: a fresh database (a SQLite file in --data-dir, or a PostgreSQL database whose name
contains "bench", dropped and recreated), migrate, seed --assets assets (with a temperature
and a running_hours meter each) and a gateway. Then:

1. ingestion: --batches POSTs of 500 readings each (new ones: 500 assets × one kind, the next
   minute each batch; every 10th batch also carries 50 alarm events) to /api/v1/telemetry/batches
   through closeloop.wsgi (production settings, every middleware, the gateway's bearer token),
   in this process, no HTTP. Reported: readings/s (wall), CPU ms of this process per batch
   (min and median), the same for a replayed batch (500 duplicates); with PostgreSQL also the
   CPU of the connection's backend process (from /proc, when the server runs on this machine),
   and readings per CPU second (this process + the backend): the rate one core would sustain,
   which a loaded machine's wall figures hide.
2. conditions over every asset: alarms are added so that a tenth of the assets have 6 in the
   last 30 days, and each expression below is evaluated with selectors.assets_matching at "now"
   (wall ms and CPU ms of this process, min of 3 each, and the queries it ran).

Target (issue 17): >= 5,000 readings/s in batches of 500; a condition over 10,000 assets <= 2 s.
"""

import argparse
import io
import json
import os
import secrets
import shutil
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
EXPRESSIONS = [
    "alarms.door_delay.count_30d > 5",
    "reading.temperature.last > 80",
    "reading.temperature.rate_per_hour > 2",
    'alarms.door_delay.count_30d > 5 && asset.model == "GX-2" && asset.age_years > 5',
    "reading.running_hours.last > 1000 || reading.temperature.max_7d > 95",
]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def fresh_database(args) -> None:
    os.environ.update({"DJANGO_SETTINGS_MODULE": "closeloop.settings", "CLOSELOOP_ENV": "production",
                       "CLOSELOOP_SSL_REDIRECT": "0", "CLOSELOOP_ALLOWED_HOSTS": "127.0.0.1,localhost",
                       "CLOSELOOP_SECRET_KEY": "bench-" + secrets.token_urlsafe(40),
                       "CLOSELOOP_LOG_LEVEL": "WARNING", "CLOSELOOP_API_RATE_PER_TOKEN": "",
                       "CLOSELOOP_API_RATE_PER_ORG": ""})
    data_dir = Path(args.data_dir).resolve()
    if args.db == "postgres":
        import psycopg

        u = urlsplit(args.database_url)
        name = u.path.lstrip("/")
        if "bench" not in name:
            raise SystemExit(f"refusing to drop database {name!r}: its name must contain 'bench'.")
        with psycopg.connect(u._replace(path="/postgres").geturl(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = args.database_url
    else:
        os.environ.pop("DATABASE_URL", None)
        if data_dir.exists():
            if not (data_dir / ".closeloop-bench").exists():
                raise SystemExit(f"{data_dir} exists and is not a bench directory (no .closeloop-bench).")
            shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / ".closeloop-bench").touch()
    os.environ["CLOSELOOP_DATA_DIR"] = str(data_dir)
    sys.path.insert(0, str(ROOT))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/telemetry_bench")
    p.add_argument("--data-dir", default=os.environ.get("CLOSELOOP_BENCH_DIR", str(ROOT / "var/bench-telemetry")))
    p.add_argument("--assets", type=int, default=10_000)
    p.add_argument("--batches", type=int, default=200)
    p.add_argument("--skip-conditions", action="store_true")
    args = p.parse_args()
    fresh_database(args)

    import django

    django.setup()
    from django.core.management import call_command

    log("migrating")
    call_command("migrate", verbosity=0)
    import gc

    from closeloop.wsgi import application

    gc.unfreeze()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from closeloop.core.clock import now
    from closeloop.customers.models import Asset, Customer
    from closeloop.telemetry import selectors, services
    from closeloop.telemetry.models import AlarmEvent, Meter, Reading

    log(f"seeding {args.assets} assets with two meters each")
    cust = Customer.objects.create(code="bench-lifts", name="电梯公司")
    Asset.objects.bulk_create([Asset(customer=cust, name=f"电梯 {i}", serial_number=f"EL-{i:06d}",
                                     model="GX-2" if i % 2 else "HX-1", batch=f"B{i % 12}",
                                     install_date=datetime(2018 + i % 6, 3, 1).date())
                               for i in range(args.assets)], batch_size=2000)
    assets = list(Asset.objects.order_by("pk").values_list("pk", "serial_number"))
    t0 = now()
    Meter.objects.bulk_create([Meter(asset_id=pk, kind=k, unit=u, mode=m, created_at=t0) for pk, _s in assets
                               for k, u, m in (("temperature", "°C", "gauge"),
                                               ("running_hours", "h", "cumulative"))], batch_size=5000)
    _gw, token = services.do_create_gateway(actor=None, name="bench")

    def post(items):
        data = json.dumps({"items": items}, ensure_ascii=False).encode()
        env = {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/telemetry/batches", "QUERY_STRING": "",
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1",
               "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(data), "CONTENT_LENGTH": str(len(data)),
               "CONTENT_TYPE": "application/json", "HTTP_AUTHORIZATION": f"Bearer {token}",
               "HTTP_ACCEPT": "application/json", "wsgi.errors": sys.stderr, "SERVER_PROTOCOL": "HTTP/1.1"}
        status = []
        body = b"".join(application(env, lambda s, h: status.append(s)))
        assert status[0].startswith("200"), (status, body[:300])
        return json.loads(body)

    start = (now() - timedelta(minutes=args.batches + 10)).replace(second=0, microsecond=0)

    def batch(i):
        at = start + timedelta(minutes=i)
        lo = (i * 500) % len(assets)
        chunk = [assets[(lo + j) % len(assets)] for j in range(500)]
        kind, unit = ("temperature", "°C") if (i // max(1, len(assets) // 500)) % 2 == 0 else ("running_hours", "h")
        items = [{"type": "reading", "asset": s, "kind": kind, "at": at.isoformat(), "unit": unit,
                  "value": 60 + (pk * 7 + i) % 40 if kind == "temperature" else float(i + pk % 900)}
                 for pk, s in chunk]
        if i % 10 == 0:
            items = items[:450] + [{"type": "alarm", "asset": s, "kind": "door_delay", "at": at.isoformat()}
                                   for _pk, s in chunk[:50]]
        return items

    tick = os.sysconf("SC_CLK_TCK")

    pids = set()

    def backend_cpu() -> float:
        """CPU seconds of this connection's PostgreSQL backend (0 on SQLite: it runs in this process)."""
        if connection.vendor != "postgresql":
            return 0.0
        with connection.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            pid = cur.fetchone()[0]
        pids.add(pid)
        if len(pids) > 1:  # the connection was replaced meanwhile: the figure would be wrong
            return float("nan")
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # a server on another machine
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / tick

    log(f"ingesting {args.batches} batches of 500")
    post(batch(-5))  # warm up: imports, caches
    db0 = backend_cpu()
    cpu, walls, readings = [], [], 0
    w0 = time.perf_counter()
    for i in range(args.batches):
        items = batch(i)
        c = time.process_time()
        w = time.perf_counter()
        out = post(items)
        walls.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
        assert out["accepted"] == len(items), out
        readings += sum(1 for x in items if x["type"] == "reading")
    total_wall = time.perf_counter() - w0
    db_cpu = backend_cpu() - db0
    replay_cpu, replay_wall = [], []
    for i in range(20):
        items = batch(i)
        c = time.process_time()
        w = time.perf_counter()
        out = post(items)
        replay_wall.append(time.perf_counter() - w)
        replay_cpu.append(time.process_time() - c)
        assert out["duplicate"] == len(items), out
    with CaptureQueriesContext(connection) as q:
        post(batch(args.batches + 1))
    result = {
        "db": args.db, "assets": len(assets), "batches": args.batches,
        "readings_per_s": round(readings / total_wall),
        "items_per_s": round(args.batches * 500 / total_wall),
        "batch_wall_ms_median": round(statistics.median(walls) * 1000, 1),
        "batch_cpu_ms_min": round(min(cpu) * 1000, 1), "batch_cpu_ms_median": round(statistics.median(cpu) * 1000, 1),
        "db_backend_cpu_ms_per_batch": round(db_cpu / args.batches * 1000, 1),
        "readings_per_cpu_s": round(readings / (sum(cpu) + db_cpu)),
        "replay_cpu_ms_median": round(statistics.median(replay_cpu) * 1000, 1),
        "replay_wall_ms_median": round(statistics.median(replay_wall) * 1000, 1),
        "queries_per_batch": len(q.captured_queries),
    }
    result["load_average"] = os.getloadavg()
    log(json.dumps(result))

    if args.skip_conditions:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    log("alarms: a tenth of the assets get 6 door-delay alarms in the last 30 days, the rest 1")
    t = now()
    rows = []
    for n, (pk, _s) in enumerate(assets):
        for d in range(6 if n % 10 == 0 else 1):
            rows.append(AlarmEvent(asset_id=pk, kind="door_delay", at=t - timedelta(days=d + 1, minutes=n % 60),
                                   received_at=t))
    AlarmEvent.objects.bulk_create(rows, batch_size=5000, ignore_conflicts=True)
    log(f"{Reading.objects.count()} readings, {AlarmEvent.objects.count()} alarms")
    result["conditions"] = []
    for expr in EXPRESSIONS:
        best, best_cpu, hits, nq = 1e9, 1e9, None, 0
        for _round in range(3):
            with CaptureQueriesContext(connection) as q:
                w, c = time.perf_counter(), time.process_time()
                hits = selectors.assets_matching(expr, at=t)
                best = min(best, time.perf_counter() - w)
                best_cpu = min(best_cpu, time.process_time() - c)
            nq = len(q.captured_queries)
        row = {"expression": expr, "assets": len(assets), "matched": len(hits), "wall_ms": round(best * 1000),
               "cpu_ms": round(best_cpu * 1000), "queries": nq}
        result["conditions"].append(row)
        log(json.dumps(row, ensure_ascii=False))
    out_dir = ROOT / "bench/results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"telemetry-{time.strftime('%Y%m%d-%H%M%S')}-{args.db}.json").write_text(
        json.dumps(result, ensure_ascii=False, indent=2))
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
