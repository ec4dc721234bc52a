"""Server time of the console pages and the service report PDF on the demo's data (issue 15:
every console page <= 300 ms, the PDF <= 1 s).

    CLOSELOOP_DATA_DIR=var/demo CLOSELOOP_DEMO=1 .venv/bin/closeloop migrate && ... closeloop demo
    CLOSELOOP_DATA_DIR=var/demo .venv/bin/python bench/pages.py [--rounds 10] [--profile dashboard]

In the process (Django's test client: middleware, views, templates, no HTTP), each page as the
role that uses it (a manager for the dashboard, roster and delivery log, a dispatcher for the
board and the work order page, the report as the dispatcher), production settings (DEBUG off,
collected static files). Prints per page: median and min wall ms, median CPU ms (the figure
that does not depend on what else the machine runs), queries. Loopback only: nothing leaves
the process.
"""

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGES = [  # name, path (or a function of the data), role, budget ms
    ("dashboard", "/dashboard/", "manager", 300),
    ("board", "/board/", "dispatcher", 300),
    ("roster", "/dispatch/roster/", "manager", 300),
    ("delivery log", "/notifications/deliveries/", "manager", 300),
    ("work order list", "/work-orders/", "dispatcher", 300),
    ("work order page", "wo", "dispatcher", 300),
    ("service report PDF", "pdf", "dispatcher", 1000),
]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--profile", default="", help="name of one page to profile with cProfile (top 40 by cumulative)")
    p.add_argument("--only", default="", help="comma-separated page names")
    args = p.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "closeloop.settings")
    os.environ.update(CLOSELOOP_ENV="production", CLOSELOOP_SSL_REDIRECT="0",
                      CLOSELOOP_ALLOWED_HOSTS="testserver,127.0.0.1", CLOSELOOP_LOG_LEVEL="WARNING")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from closeloop.accounts.models import User
    from closeloop.workorders.models import WorkOrder

    call_command("collectstatic", interactive=False, verbosity=0)
    users = {}
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    for role in sorted({r for name, _p, r, _b in PAGES if not only or name in only}):
        users[role] = User.objects.filter(role=role, is_active=True).order_by("id").first()
        if users[role] is None:
            raise SystemExit(f"no active {role}: load the demo first (closeloop demo)")
    # The busiest work order: the longest timeline.
    from django.db.models import Count

    wo = (WorkOrder.objects.annotate(n=Count("events")).order_by("-n", "-id").first())
    print(f"{WorkOrder.objects.count():,} work orders; work order page and report: {wo.code} "
          f"({wo.n} timeline events)")
    rows = []
    for name, path, role, budget in PAGES:
        if only and name not in only:
            continue
        path = {"wo": f"/work-orders/{wo.code}/", "pdf": f"/fieldwork/work-orders/{wo.code}/report.pdf"}.get(path, path)
        c = Client()
        c.force_login(users[role])
        r = c.get(path)
        if r.status_code != 200:
            raise SystemExit(f"{name}: {path} answered {r.status_code}")
        wall, cpu = [], []
        for _i in range(args.rounds):
            t0, c0 = time.perf_counter(), time.process_time()
            c.get(path)
            wall.append(1000 * (time.perf_counter() - t0))
            cpu.append(1000 * (time.process_time() - c0))
        with CaptureQueriesContext(connection) as q:
            c.get(path)
        rows.append((name, path, role, statistics.median(wall), min(wall), statistics.median(cpu), len(q), budget))
        if args.profile == name:
            prof = cProfile.Profile()
            prof.enable()
            for _i in range(3):
                c.get(path)
            prof.disable()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
    print("| page | as | median ms | min ms | CPU ms | queries | budget |\n|---|---|---|---|---|---|---|")
    for name, path, role, med, mn, cpu, nq, budget in rows:
        print(f"| {name} (`{path}`) | {role} | {med:.0f} | {mn:.0f} | {cpu:.0f} | {nq} | "
              f"{'ok' if med <= budget else 'MISS'} (<= {budget} ms) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
