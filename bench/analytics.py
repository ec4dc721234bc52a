"""Benchmark the analytics: the full rebuild, the worker's incremental step, and the pages.

    python bench/analytics.py                    # fresh SQLite file under /tmp, 100k work orders
    python bench/analytics.py --db postgres      # fresh PostgreSQL database closeloop_bench_analytics
    python bench/analytics.py -n 1000000
    python bench/analytics.py --reuse            # the database seeded by an earlier run, as it is
    python bench/analytics.py --reuse --pages-only --profile overview,365   # cProfile one page

BENCH_SQLITE names the SQLite file, BENCH_PG_DB the PostgreSQL database (seed either with
`bench/seed.py -n N --migrate` and the same DATABASE_URL, then run this with --reuse).

Every figure is printed with the process's CPU time beside the wall time and the load
average before and after (the machine is shared: wall time alone says little).

Seeds with bench/seed.py (a year of history), runs `analytics.refresh.rebuild()` (timed),
appends 2,000 timeline events through the services' timeline writer and times the worker
step that folds them in, then times each page's view, server side, in the process (ORM +
template rendering, no HTTP): the overview and the heat map for the last 30 days, the last
365 days, one team, and one customer (the customer filter reads the per-work-order facts,
the others the rollups), and the drill-down list behind the worst heat-map cell.
Target (issue 16): ≤ 300 ms server time at 1,000,000 work orders.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH_DIR), str(BENCH_DIR.parent)]


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def setup(db: str, reuse: bool = False):
    name = os.environ.get("BENCH_PG_DB", "closeloop_bench_analytics")
    if db == "postgres" and not reuse:
        import psycopg

        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}"')
            c.execute(f'CREATE DATABASE "{name}"')
    if db == "postgres":
        os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{name}"
    else:
        path = Path(os.environ.get("BENCH_SQLITE", "/tmp/closeloop-bench-analytics.sqlite3"))
        for suffix in ("", "-wal", "-shm") if not reuse else ():
            Path(str(path) + suffix).unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "closeloop.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def load() -> str:
    a, b, c = os.getloadavg()
    return f"load {a:.2f} {b:.2f} {c:.2f}"


def timeit(fn, runs: int) -> dict:
    fn()  # warm-up
    xs, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        xs.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return {"p50": statistics.median(xs), "p99": pct(xs, 99), "max": max(xs), "cpu": statistics.median(cpu)}


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("-n", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--reuse", action="store_true", help="keep the database of an earlier run (no seeding)")
    p.add_argument("--pages-only", action="store_true", help="with --reuse: no rebuild and no step, the pages only")
    p.add_argument("--profile", default="", help="PAGE,DAYS (overview|heatmap, e.g. overview,365): cProfile "
                   "that page once (after a warm-up), print the top functions and the queries, and stop")
    args = p.parse_args(argv)
    setup(args.db, args.reuse)
    import seed as seeder

    print(load())
    if not args.reuse:
        t0 = time.perf_counter()
        seeder.seed(args.n, log=lambda *a: None)
        print(f"seeded {args.n:,} work orders on {args.db} in {time.perf_counter() - t0:.0f} s ({load()})")

    from django.db import connection

    from closeloop.analytics import refresh
    from closeloop.core.clock import now
    from closeloop.workorders import timeline
    from closeloop.workorders.models import TimelineEvent, WorkOrder

    if args.pages_only:
        return pages(args)
    t0, c0 = time.perf_counter(), time.process_time()
    out = refresh.rebuild()
    rebuild_s, rebuild_cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"rebuild: {out['work_orders']:,} work orders in {rebuild_s:.1f} s wall, {rebuild_cpu:.1f} s CPU "
          f"(this process; the database server's own CPU not included) ({load()})")
    with connection.cursor() as cur:
        cur.execute("ANALYZE")

    # 2,000 new events on 1,000 open work orders (comments and hand-overs), then the step.
    from django.db import transaction

    open_wos = list(WorkOrder.objects.exclude(status__in=["closed", "cancelled"]).order_by("-id")[:1000])
    with transaction.atomic():
        for wo in open_wos:
            timeline.append_event(wo, TimelineEvent.Kind.COMMENT, at=now(), data={"body": "bench"})
            timeline.append_event(wo, TimelineEvent.Kind.UPDATED, at=now(), data={"changes": {}})
    t0, c0 = time.perf_counter(), time.process_time()
    steps = 1
    while refresh.step("bench"):
        steps += 1
    step_s, step_cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"incremental: 2,000 events on 1,000 work orders folded in {step_s:.2f} s wall, {step_cpu:.2f} s CPU "
          f"({steps} step(s)) ({load()})")
    pages(args)


def pages(args):
    from django.test import RequestFactory

    from closeloop.accounts.models import Role, Team, User
    from closeloop.analytics import measures, views
    from closeloop.analytics.selectors import scope_from

    manager = User.objects.filter(role=Role.MANAGER).first() or User.objects.create(
        username="bench-manager", role=Role.MANAGER)
    team = Team.objects.order_by("id").first()
    from closeloop.customers.models import Customer

    customer = Customer.objects.order_by("id").first()
    rf = RequestFactory()

    def page(view, params):
        def run():
            r = rf.get("/analytics/", params)
            r.user = manager
            r.htmx = False
            resp = view.__wrapped__.__wrapped__(r)
            assert resp.status_code == 200
        return run

    if args.profile:
        import cProfile
        import pstats

        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        name, days = args.profile.split(",")
        run = page(views.overview if name == "overview" else views.heatmap, {"days": int(days)})
        run()
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            run()
            print(f"{name} {days} days: {(time.perf_counter() - t0) * 1000:.0f} ms, {len(ctx)} queries")
        for q in ctx.captured_queries:
            print(f"{float(q['time']) * 1000:8.1f} ms  {q['sql'][:160]}")
        prof = cProfile.Profile()
        prof.runcall(run)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
        return
    rows = []
    for label, params in (("30 days", {"days": 30}), ("365 days", {"days": 365}),
                          ("30 days, one team", {"days": 30, "team": team.code}),
                          ("30 days, one customer", {"days": 30, "customer": customer.code})):
        rows.append((f"overview, {label}", timeit(page(views.overview, params), args.runs)))
        rows.append((f"heat map, {label}", timeit(page(views.heatmap, params), args.runs)))
    scope = scope_from(manager, {"days": 30}).scope
    worst = measures.heatmap(scope)[0]
    from urllib.parse import urlencode

    from closeloop.workorders import views as wo_views

    spec = urlencode({"from": scope.start.isoformat(), "to": scope.end.isoformat(), "m": "cell",
                      "state": worst["state"], "cell_team": worst["key"]})

    def drill():
        r = rf.get("/work-orders/", {"drill": spec})
        r.user = manager
        r.htmx = False
        from django.contrib.messages.storage.fallback import FallbackStorage

        r.session = {}
        r._messages = FallbackStorage(r)
        assert wo_views.work_order_list.__wrapped__.__wrapped__(r).status_code == 200
    rows.append(("drill-down list, worst cell (30 days)", timeit(drill, args.runs)))
    print(f"\n{'operation':44} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'CPU p50':>8}   ({load()})")
    for name, r in rows:
        print(f"{name:44} {r['p50']:8.1f} {r['p99']:8.1f} {r['max']:8.1f} {r['cpu']:8.1f}")


if __name__ == "__main__":
    main()
