"""Measure the ceiling (a bare Django + django-ninja app, bench/ceiling/) with the same
load client, requests and CPU accounting as bench/workorders.py.

    python bench/ceiling/run.py                          # SQLite, 100k rows (also: make bench-ceiling)
    python bench/ceiling/run.py --db postgres -n 1000000
    python bench/ceiling/run.py --reuse --ops get,list-team

Run it in the same session as bench/workorders.py (same -n, --duration, --concurrency) and
compare CPU ms/req first: it does not depend on what else the machine is doing. Only
loopback: the server binds 127.0.0.1 and the client talks to it.
"""

import argparse
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

CEILING_DIR = Path(__file__).resolve().parent
BENCH_DIR = CEILING_DIR.parent
ROOT = BENCH_DIR.parent
sys.path[:0] = [str(BENCH_DIR)]
import vocab  # noqa: E402
import workorders as wb  # noqa: E402  (the load client, CPU tracking and table of bench/workorders.py)

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/ceiling_bench"
OPS = ["get", "list-team", "list-urgent", "create", "transition"]


class CeilingServer(wb.Server):
    def start(self) -> None:
        import socket

        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", self.port)) == 0:
                raise SystemExit(f"port {self.port} is taken; pass --port")
        cmd = [sys.executable, "-m", "gunicorn", "ceiling.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
               "--workers", str(self.workers), "--access-logfile", "/dev/null", "--graceful-timeout", "10",
               "--timeout", "60"]  # as `closeloop serve` runs gunicorn
        self.logfile = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, env=self.env, cwd=BENCH_DIR, stdout=self.logfile,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited ({self.proc.returncode}); see {self.log_path}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v1/work-orders/none", timeout=2)
            except urllib.error.HTTPError as e:  # 401 without a token: it answers
                if e.code == 401 and len(wb.children(self.proc.pid)) >= self.workers:
                    return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        raise SystemExit(f"the ceiling did not answer within 60 s; see {self.log_path}")


def fixtures(rng: random.Random, token: str, samples: int = 5000) -> dict:
    from django.db import connection

    from ceiling.models import WorkOrder

    lo = WorkOrder.objects.order_by("id").values_list("id", flat=True).first()
    hi = WorkOrder.objects.order_by("-id").values_list("id", flat=True).first()
    codes = list(WorkOrder.objects.filter(id__in=[rng.randint(lo, hi) for _i in range(samples)])
                 .values_list("code", flat=True))
    rng.shuffle(codes)
    teams = [f"bench-{code}" for code, _name, _groups in vocab.TEAMS]
    bodies = []
    for _i in range(2000):
        c = rng.randint(1, 200)
        name, _group, _w, faults, _models = rng.choice(vocab.EQUIPMENT)
        fault = rng.choice(faults)[0]
        loc = rng.choice(vocab.LOCATIONS_CJK + vocab.LOCATIONS_MIXED + [""] * 10)
        body = {"type": rng.choice(vocab.TYPES)[0], "customer": f"bench-c{c:04d}", "site": f"bench-c{c:04d}-s1",
                "title": f"{loc}{name}{fault}",
                "description": f"{rng.choice(vocab.REPORTERS)}反映{loc}{name}{fault}，{rng.choice(vocab.OBSERVATIONS)}，"
                               f"{rng.choice(vocab.IMPACTS)}。{rng.choice(vocab.REQUESTS)}",
                "priority": rng.choices(["low", "normal", "high", "urgent"], [15, 55, 22, 8])[0],
                "team": rng.choice(teams), "contact": c}
        if rng.random() < 0.6:
            body["asset"] = f"BSN{rng.randint(1, 99999):08d}"
        bodies.append(body)
    assignable = list(WorkOrder.objects.filter(status__in=["new", "assigned", "accepted"]).order_by("-id")
                      .values_list("code", flat=True)[:2000])
    rng.shuffle(assignable)
    assigns = [(c, f"bench-eng{rng.randint(1, 60):03d}") for c in assignable]
    count = WorkOrder.objects.count()
    connection.close()
    return {"token": token, "codes": codes, "teams": teams, "bodies": bodies, "assigns": assigns,
            "work_orders": count}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--database-url", default=DEFAULT_PG)
    p.add_argument("-n", type=int, default=100_000)
    p.add_argument("--duration", type=float, default=20)
    p.add_argument("--warmup", type=float, default=3)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--reuse", action="store_true")
    p.add_argument("--data-dir", default=str(ROOT / "var" / "ceiling"))
    p.add_argument("--port", type=int, default=8766)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    p.add_argument("--ops", default=",".join(OPS))
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args(argv)
    chosen = [o.strip() for o in args.ops.split(",") if o.strip()]
    if unknown := [o for o in chosen if o not in OPS]:
        p.error(f"unknown operation(s): {', '.join(unknown)} (of {', '.join(OPS)})")
    client = wb.pick_client(args.client)
    data_dir = Path(args.data_dir).resolve()
    token = secrets.token_urlsafe(32)
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="ceiling.settings", CEILING_DATA_DIR=str(data_dir),
               CEILING_TOKEN=token, CEILING_SECRET_KEY=secrets.token_urlsafe(50),
               PYTHONPATH=os.pathsep.join(filter(None, [str(BENCH_DIR), os.environ.get("PYTHONPATH", "")])))
    env.pop("CEILING_DATABASE_URL", None)
    db = data_dir / "ceiling.sqlite3"
    if args.db == "postgres":
        env["CEILING_DATABASE_URL"] = args.database_url
        fresh = wb.reset_postgres(args.database_url, args.reuse)
        data_dir.mkdir(parents=True, exist_ok=True)
    else:
        data_dir.mkdir(parents=True, exist_ok=True)
        fresh = not (args.reuse and db.exists())
        if fresh:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
    os.environ.update(env)
    if args.db == "sqlite":
        os.environ.pop("CEILING_DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    from ceiling import seed as ceiling_seed
    from ceiling.models import WorkOrder

    started = datetime.now().astimezone()
    wb.log(f"ceiling bench: {args.db}, n={args.n:,}, {args.duration:g}s per operation at concurrency "
           f"{args.concurrency}, client {client}")
    call_command("migrate", run_syncdb=True, verbosity=0, interactive=False)
    seeding = None
    if fresh or not WorkOrder.objects.exists():
        seeding = ceiling_seed.seed(args.n, rnd_seed=args.seed, log=wb.log)
    fx = fixtures(random.Random(args.seed), token)

    tmp = Path(tempfile.mkdtemp(prefix="ceiling-bench-"))
    server = CeilingServer(env, args.port, args.workers, data_dir / "ceiling-server.log")
    url = f"http://127.0.0.1:{args.port}"
    client_env = dict(os.environ, BENCH_AUTH=f"Bearer {token}")
    db_pids = wb.pg_backend_pids_fn(args.database_url) if args.db == "postgres" else None
    ops = {o.name: o for o in wb.OPS}
    results = []
    try:
        server.start()
        for name in [o for o in OPS if o in chosen]:
            req_file = tmp / f"{name}.tsv"
            req_file.write_text("\n".join(wb.request_lines(name, fx)) + "\n", encoding="utf-8")
            if args.warmup > 0:
                wb.run_load(client, url, req_file, args.warmup, args.concurrency, client_env, server)
            r = wb.run_load(client, url, req_file, args.duration, args.concurrency, client_env, server, db_pids)
            results.append((ops[name], r))
            wb.log(f"  {name:<12} {r['rps']:>8,.0f} req/s  p99 {r['p99_ms']:6.1f} ms  "
                   f"{r['server_cpu_ms_per_request']:.2f} CPU ms/req  errors {r['errors']}"
                   + (f"  first error: {r['first_error'][:200]}" if r["first_error"] else ""))
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        if db_pids is not None:
            db_pids.close()
    table = wb.print_table(results, show_db=args.db == "postgres")
    wb.log(f"\nceiling (bare Django + ninja): {args.db}, {fx['work_orders']:,} rows; {args.workers} gunicorn workers; "
           f"concurrency {args.concurrency}, {args.duration:g}s per operation, client {client}; "
           f"{started:%Y-%m-%d %H:%M}\n{table}")
    out_dir = BENCH_DIR / "results"
    out_dir.mkdir(exist_ok=True)
    out = out_dir / f"{started:%Y%m%d-%H%M%S}-ceiling-{args.db}-{fx['work_orders']}.json"
    out.write_text(json.dumps({"started": started.isoformat(), "db": args.db, "work_orders": fx["work_orders"],
                               "seeding": seeding, "machine": wb.machine(), "table": table,
                               "operations": {op.name: r for op, r in results}}, indent=2, ensure_ascii=False,
                              default=str))
    wb.log(f"results: {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
