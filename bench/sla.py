"""Benchmark the SLA worker: deadline -> escalation latency, and idle cost.

    python bench/sla.py                                   # SQLite, 100k open work orders, 1 worker
    python bench/sla.py --db postgres --workers 3         # PostgreSQL, three worker processes
    python bench/sla.py -n 10000 --due 500 --spread 30    # smaller

Steps: a fresh database (SQLite file under --data-dir, or a PostgreSQL database whose
name contains "bench"), migrate, seed N open work orders, each with a first-response
target (a 24x7 policy, one ladder level "at breach"); `--due` of them have deadlines
staggered over `--spread` seconds starting `--lead` seconds after the workers start,
the rest fall due hours later. Start `--workers` `closeloop worker` processes, wait
until every deadline in the window has its escalation, then report the time from
each deadline to its escalation (Escalation.fired_at - due_at: p50/p99/max),
duplicates (levels recorded twice) and misses against an offline oracle (every work
order whose deadline passed must have exactly one escalation), and the CPU the
workers use over --idle seconds with nothing due. Results also go to
bench/results/sla-*.json. Target (issue 3): p99 <= 2 s, no duplicates, no misses.
"""

import argparse
import json
import os
import platform
import secrets
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
TICK = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def reset_database(args) -> dict:
    env = dict(os.environ)
    env.update({"DJANGO_SETTINGS_MODULE": "closeloop.settings", "CLOSELOOP_SECRET_KEY": secrets.token_urlsafe(40),
                "CLOSELOOP_LOG_LEVEL": "WARNING",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))})
    env.pop("CLOSELOOP_DEMO", None)
    if args.db == "postgres":
        import psycopg

        u = urlsplit(args.database_url)
        name = u.path.lstrip("/")
        if "bench" not in name:
            raise SystemExit(f"refusing to drop database {name!r}: its name must contain 'bench'.")
        with psycopg.connect(u._replace(path="/postgres").geturl(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = args.database_url
    else:
        data_dir = Path(args.data_dir).resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        db = data_dir / "bench-sla.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        env["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ.update(env)
    return env


def seed(args) -> tuple[int, list[datetime]]:
    """N work orders + their ledger rows; returns (policy id, deadlines inside the window).
    The work orders due hours later go in first; the window's deadlines are computed
    from the clock once they are in, so seeding time never eats into the lead."""
    start = datetime.now(UTC)
    from closeloop.accounts.models import Role, Team, User
    from closeloop.customers.models import Customer, Site
    from closeloop.sla.models import BusinessCalendar, SLAPolicy, SLATarget
    from closeloop.workorders import timeline
    from closeloop.workorders.models import WorkOrder, WorkOrderType

    team = Team.objects.create(name="Bench", code="bench")
    eng = User.objects.create(username="bench-eng", role=Role.ENGINEER, team=team)
    team.supervisor = User.objects.create(username="bench-mgr", role=Role.MANAGER)
    team.save()
    customer = Customer.objects.create(code="bench", name="Bench hospital")
    site = Site.objects.create(customer=customer, code="bench", name="Bench site")
    wo_type = WorkOrderType.objects.create(key="repair", name="Repair", prefix="WD")
    cal = BusinessCalendar.objects.create(key="24x7", name="24x7", kind="always", tz="Asia/Shanghai")
    target = 3600
    policy = SLAPolicy.objects.create(key="bench", name="bench", calendar=cal, targets={"response": target},
                                      response_actions=["depart", "arrive"], updated_at=start,
                                      ladder=[{"level": 1, "after": 0, "actions": ["remind_assignee"]}])
    due_window: list[datetime] = []
    later = [start + timedelta(hours=3, seconds=i / 10) for i in range(args.n - args.due)]
    deadlines: list[datetime] = later
    batch = 5000
    lo = 0
    while lo < args.n:
        if lo >= len(later) and len(deadlines) == len(later):
            # The window: from `lead` seconds after now (the workers start right after seeding).
            t = datetime.now(UTC) + timedelta(seconds=args.lead + 3)
            due_window = [t + timedelta(seconds=args.spread * i / max(1, args.due - 1)) for i in range(args.due)]
            deadlines = later + due_window
        hi = min(len(deadlines), lo + batch)
        wos = []
        for i in range(lo, hi):
            created = deadlines[i] - timedelta(seconds=target)
            wos.append(WorkOrder(code=f"WD{i:012d}", wo_type=wo_type, title=f"bench {i}", status="assigned",
                                 priority="normal", customer=customer, site=site, team=team, assignee=eng,
                                 created_at=created, updated_at=created, assigned_at=created))
        WorkOrder.objects.bulk_create(wos, batch_size=1000)
        wos = list(WorkOrder.objects.filter(code__in=[w.code for w in wos]).only("id", "created_at"))
        timeline.append_events(
            [timeline.new_event(w.id, "created", at=w.created_at, to_state="new") for w in wos], batch_size=1000)
        SLATarget.objects.bulk_create([SLATarget(
            work_order_id=w.id, milestone="response", policy=policy, policy_version=1, calendar=cal,
            target_seconds=target, started_at=w.created_at, due_at=w.created_at + timedelta(seconds=target),
            state="on_track", computed_at=start, next_check_at=w.created_at + timedelta(seconds=target))
            for w in wos], batch_size=1000)
        lo = hi
        log(f"seeded {lo:,} / {args.n:,}")
    return policy.pk, due_window


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (FileNotFoundError, IndexError):
        return 0.0


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL",
                                                             "postgres://postgres@127.0.0.1:5432/closeloop_bench_sla"))
    ap.add_argument("--data-dir", default=str(BENCH_DIR / ".data"))
    ap.add_argument("-n", type=int, default=100_000, help="open work orders (default 100,000)")
    ap.add_argument("--due", type=int, default=2000, help="deadlines inside the measured window")
    ap.add_argument("--spread", type=float, default=60.0, help="seconds the due deadlines are spread over")
    ap.add_argument("--lead", type=float, default=15.0, help="seconds from worker start to the first deadline")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--poll", type=float, default=0.5)
    ap.add_argument("--idle", type=float, default=10.0, help="seconds to measure idle CPU")
    args = ap.parse_args(argv)
    if args.db == "sqlite" and args.workers != 1:
        raise SystemExit("one worker against SQLite (DESIGN.md §4)")

    env = reset_database(args)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    log(f"migrating a fresh {args.db} database")
    call_command("migrate", verbosity=0)
    t_seed = time.perf_counter()
    _policy_id, window = seed(args)
    seed_s = time.perf_counter() - t_seed
    log(f"seeded {args.n:,} work orders in {seed_s:.1f} s; first deadline in "
        f"{(window[0] - datetime.now(UTC)).total_seconds():.1f} s")
    connection.close()

    procs = [subprocess.Popen([sys.executable, "-m", "closeloop.cli", "worker", "--poll", str(args.poll),
                               "--id", f"bench{i}"], cwd=ROOT, env=env) for i in range(args.workers)]
    from closeloop.sla.models import Escalation, SLATarget

    try:
        end = window[-1]
        deadline = end + timedelta(seconds=60)
        while datetime.now(UTC) < deadline:
            done = Escalation.objects.filter(due_at__lte=end).count()
            if datetime.now(UTC) > end and done >= len(window):
                break
            time.sleep(1)
        time.sleep(2)
        rows = list(Escalation.objects.values_list("work_order_id", "level", "due_at", "fired_at", "worker"))
        lat = [(f - d).total_seconds() for _w, _l, d, f, _k in rows]
        # Offline oracle: every target whose deadline passed before the last one measured
        # must have exactly one escalation; nothing else may have one.
        now = datetime.now(UTC)
        expected = set(SLATarget.objects.filter(due_at__lte=now).values_list("work_order_id", flat=True))
        got = [w for w, *_ in rows]
        duplicates = len(got) - len(set(got))
        misses = len(expected - set(got))
        unexpected = len(set(got) - expected)
        per_worker: dict[str, int] = {}
        for *_x, k in rows:
            per_worker[k] = per_worker.get(k, 0) + 1
        connection.close()
        log(f"measuring idle CPU for {args.idle:.0f} s (next deadline in "
            f"{(SLATarget.objects.filter(next_check_at__isnull=False).order_by('next_check_at').values_list('next_check_at', flat=True).first() - datetime.now(UTC)).total_seconds():.0f} s)")
        connection.close()
        before = [cpu_seconds(p.pid) for p in procs]
        t0 = time.perf_counter()
        time.sleep(args.idle)
        idle_wall = time.perf_counter() - t0
        idle_cpu = [(cpu_seconds(p.pid) - b) / idle_wall * 100 for p, b in zip(procs, before, strict=True)]
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()

    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"), "db": args.db, "open_work_orders": args.n,
        "due_in_window": len(window), "spread_s": args.spread, "workers": args.workers, "poll_s": args.poll,
        "seed_s": round(seed_s, 1), "escalations": len(rows), "per_worker": per_worker,
        "latency_s": {"p50": round(pct(lat, 50), 3), "p99": round(pct(lat, 99), 3), "max": round(max(lat), 3)
                      if lat else None},
        "duplicates": duplicates, "misses": misses, "unexpected": unexpected,
        "idle_cpu_percent_per_worker": [round(c, 2) for c in idle_cpu],
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "git": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip(),
    }
    ok = result["latency_s"]["p99"] <= 2.0 and not duplicates and not misses and not unexpected
    print(f"\nSLA worker benchmark: {args.db}, {args.n:,} open work orders, {len(window):,} deadlines over "
          f"{args.spread:g} s, {args.workers} worker(s), poll {args.poll:g} s")
    print(f"  deadline -> escalation   p50 {result['latency_s']['p50']:.3f} s   p99 {result['latency_s']['p99']:.3f} s"
          f"   max {result['latency_s']['max']} s   (target p99 <= 2 s)")
    print(f"  escalations {len(rows):,}  duplicates {duplicates}  misses {misses}  unexpected {unexpected}  "
          f"per worker {per_worker}")
    print(f"  idle CPU per worker (nothing due): {', '.join(f'{c:.2f} %' for c in idle_cpu)}")
    print(f"  verdict: {'PASS' if ok else 'FAIL'}")
    out = BENCH_DIR / "results"
    out.mkdir(exist_ok=True)
    path = out / f"sla-{args.db}-{args.workers}w-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2))
    log(f"wrote {path.relative_to(ROOT)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
