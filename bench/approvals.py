"""Benchmark approvals: starting and deciding requests, the inbox with many waiting tasks,
the preview, and what the approval and handoff guards add to every work order transition.

    python bench/approvals.py                  # fresh SQLite file under /tmp, 5,000 requests
    python bench/approvals.py --db postgres    # fresh PostgreSQL database closeloop_bench_approvals
    python bench/approvals.py -n 20000

Times are per call, in the process (ORM, no HTTP), p50 / p99 in milliseconds.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH_DIR.parent)]


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def setup(db: str):
    if db == "postgres":
        import psycopg

        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
            c.execute("DROP DATABASE IF EXISTS closeloop_bench_approvals")
            c.execute("CREATE DATABASE closeloop_bench_approvals")
        os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/closeloop_bench_approvals"
    else:
        path = Path("/tmp/closeloop-bench-approvals.sqlite3")
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "closeloop.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def timed(fn, reps):
    out = []
    for i in range(reps):
        t = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t) * 1000)
    return out


def row(name, xs):
    print(f"{name:<48} {len(xs):>7} {statistics.median(xs):>9.2f} {pct(xs, 99):>9.2f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("-n", type=int, default=5000, help="approval requests to seed (half left waiting)")
    args = ap.parse_args()
    setup(args.db)

    from django.utils import translation

    translation.activate("en")
    from closeloop.accounts.models import Role, Team, User
    from closeloop.approvals import handoffs, selectors, services
    from closeloop.approvals.tests.conftest import purchase_tree
    from closeloop.core.clock import now
    from closeloop.workorders import lifecycle
    from closeloop.workorders.lifecycle import S
    from closeloop.workorders.models import WorkOrder, WorkOrderType
    from closeloop.workorders.services import do_transition, next_code

    def user(name, role, team=None):
        return User.objects.create(username=name, role=role, display_name=name, team=team)

    ceo = user("ceo", Role.MANAGER)
    company = Team.objects.create(name="Company", code="company", supervisor=ceo)
    head = user("head", Role.MANAGER)
    ops = Team.objects.create(name="Ops", code="ops", parent=company, supervisor=head)
    lead = user("lead", Role.MANAGER)
    team = Team.objects.create(name="Team", code="team", parent=ops, supervisor=lead)
    user("admin", Role.ADMIN)
    user("dispatcher", Role.DISPATCHER)
    user("finance", Role.FINANCE)
    eng = user("eng", Role.ENGINEER, team)
    wtype = WorkOrderType.objects.create(key="repair", name="Repair", prefix="WD")
    flow = services.do_create_flow(actor=lead, data={"name": "Purchase", "action": "purchase_part",
                                                     "tree": purchase_tree()})
    services.do_publish(actor=lead, flow=flow)
    t = now()

    def mk(status=S.IN_PROGRESS):
        return WorkOrder.objects.create(code=next_code("WD", t), wo_type=wtype, title="bench", status=status,
                                        team=team, assignee=eng, created_at=t, updated_at=t)

    n = args.n
    print(f"database: {args.db}; seeding {n} requests …", flush=True)
    wos = [mk() for _ in range(n)]
    amounts = [100, 1200, 8000]
    start = timed(lambda i: services.do_start_request(actor=eng, wo=wos[i], action="purchase_part",
                                                      data={"amount": amounts[i % 3]}), n)
    reqs = list(services.ApprovalRequest.objects.order_by("id"))
    decide = timed(lambda i: services.do_decide(actor=lead, req=reqs[i], decision="approve"), n // 2)
    print(f"\n{'operation':<48} {'calls':>7} {'p50 ms':>9} {'p99 ms':>9}")
    row("start a request (plan + first step + notify)", start)
    row("decide (approve, advance, notify)", decide)
    waiting_lead = selectors.inbox(lead).count()
    waiting_fin = selectors.inbox(User.objects.get(username="finance")).count()
    row(f"inbox page, lead ({waiting_lead} waiting), first 50",
        timed(lambda i: list(selectors.inbox(lead)[:50]), 200))
    row(f"inbox badge count, finance ({waiting_fin} waiting)",
        timed(lambda i: selectors.inbox_count(User.objects.get(username="finance")), 200))
    row("preview (8,000, three levels)", timed(lambda i: services.preview(flow=flow, data={"amount": 8000},
                                                                           requester=eng), 200))

    # What the guards add to a transition (no flow for start/complete: lookups only).
    fresh = [mk(S.ACCEPTED) for _ in range(600)]
    with_hooks = timed(lambda i: do_transition(actor=eng, wo=fresh[i], action="start"), 300)
    saved = {k: list(v) for k, v in lifecycle._guards.items()}
    mine = {services.guard, handoffs.handoff_guard, services.consume, handoffs.handoff_effect}
    for k in lifecycle._guards:
        lifecycle._guards[k] = [f for f in lifecycle._guards[k] if f not in mine]
    gone = lifecycle.unregister_effects(mine)
    without = timed(lambda i: do_transition(actor=eng, wo=fresh[300 + i], action="start"), 300)
    lifecycle._guards.clear()
    lifecycle._guards.update(saved[0])
    lifecycle.restore_effects(gone)
    row("transition start, with approval/handoff hooks", with_hooks)
    row("transition start, without them", without)


if __name__ == "__main__":
    main()
