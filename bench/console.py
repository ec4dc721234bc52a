"""Benchmark the staff console's universal lookup, live-update poll, board and dashboard.

    python bench/console.py                    # fresh SQLite file under /tmp, 100k work orders
    python bench/console.py --db postgres      # fresh PostgreSQL database closeloop_bench_console
    python bench/console.py -n 1000000

Seeds with bench/seed.py, then links 10% of the work orders to external references
(CRM/ERP ids, as an integration would) and gives them a contact. Times, per call, in the
process (ORM + template rendering, no HTTP): lookup by work order code, external
reference, asset serial number and phone number, for a dispatcher and for a customer
contact (visibility applied); the live-update poll with nothing new (the common case) and
with 20 changed work orders; the board (every open column) and the dashboard.
Target (issue 7): lookup well under a second; here p99 in milliseconds.
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


def setup(db: str):
    if db == "postgres":
        import psycopg

        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
            c.execute("DROP DATABASE IF EXISTS closeloop_bench_console")
            c.execute("CREATE DATABASE closeloop_bench_console")
        os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/closeloop_bench_console"
    else:
        path = Path("/tmp/closeloop-bench-console.sqlite3")
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "closeloop.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def link_refs(fraction: float = 0.1) -> None:
    from django.db import connection, transaction

    from closeloop.workorders.models import ExternalRef, WorkOrder

    ids = list(WorkOrder.objects.values_list("id", "customer_id", "created_at"))
    step = max(1, int(1 / fraction))
    from closeloop.customers.models import Contact

    contact_by_customer = dict(Contact.objects.values_list("customer_id", "id"))
    refs = []
    with transaction.atomic():
        for i, (pk, _cust, at) in enumerate(ids[::step]):
            refs.append(ExternalRef(work_order_id=pk, system="crm" if i % 2 else "erp",
                                    external_id=f"{'CRM' if i % 2 else 'PO'}-{pk:08d}", created_at=at))
            if len(refs) >= 5000:
                ExternalRef.objects.bulk_create(refs)
                refs = []
        ExternalRef.objects.bulk_create(refs)
        # External ids are part of the search document, tokenized as services.search_document_for does.
        from closeloop.core.text import document_tokens

        pairs = [(" " + document_tokens(ext), pk) for pk, ext in
                 ExternalRef.objects.values_list("work_order_id", "external_id")]
        with connection.cursor() as cur:
            cur.executemany("UPDATE workorders_workorder SET search_document = search_document || %s WHERE id = %s",
                            pairs)
        for cust, contact in contact_by_customer.items():
            WorkOrder.objects.filter(customer_id=cust, id__in=[p for p, c, _ in ids[::7] if c == cust]).update(
                contact_id=contact)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")


def timeit(fn, runs: int) -> dict:
    fn()  # warm-up: template compilation, first query plans
    xs = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        xs.append((time.perf_counter() - t0) * 1000)
    return {"p50": statistics.median(xs), "p99": pct(xs, 99), "max": max(xs)}


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("-n", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=50)
    args = p.parse_args(argv)
    setup(args.db)
    import seed as seeder

    t0 = time.perf_counter()
    seeder.seed(args.n, log=lambda *a: None)
    link_refs()
    print(f"seeded {args.n:,} work orders on {args.db} in {time.perf_counter() - t0:.0f} s")

    import random

    from django.template.loader import render_to_string
    from django.test import RequestFactory

    from closeloop.accounts.models import Role, User
    from closeloop.console import selectors as console
    from closeloop.console import views as console_views
    from closeloop.customers.models import Asset, Contact
    from closeloop.workorders.models import ExternalRef, TimelineEvent, WorkOrder

    rng = random.Random(7)
    disp = User.objects.filter(role=Role.DISPATCHER).first()
    wo_ids = list(WorkOrder.objects.values_list("id", flat=True))
    sample = WorkOrder.objects.filter(id__in=rng.sample(wo_ids, 200)).exclude(customer__isnull=True)
    codes = [w.code for w in sample]
    refs = list(ExternalRef.objects.order_by("?").values_list("external_id", flat=True)[:200])
    serials = list(Asset.objects.order_by("?").values_list("serial_number", flat=True)[:200])
    phones = [p for p in Contact.objects.exclude(phone="").order_by("?").values_list("phone", flat=True)[:200]]
    cust_user = User.objects.filter(role=Role.CUSTOMER).first()
    if cust_user is None:
        cust_user = User.objects.create(username="bench-customer", role=Role.CUSTOMER,
                                        customer_id=sample[0].customer_id)
    rf = RequestFactory()

    def lookup(user, values):
        it = iter(values * (args.runs // max(1, len(values)) + 1))

        def run():
            r = console.lookup_results(user, next(it))
            render_to_string("console/_lookup_results.html", {"r": r}, request=_req(rf, user))
            assert r["kinds"], r["q"]
        return run

    rows = []
    for who, user in (("dispatcher", disp), ("customer", cust_user)):
        for kind, values in (("code", codes), ("external ref", refs), ("serial", serials), ("phone", phones)):
            if who == "customer":  # a customer's lookups are about its own organisation
                values = _own(kind, values, cust_user) or values[:1]
                fn = _lenient(console, rf, cust_user, values, args.runs)
            else:
                fn = lookup(user, values)
            rows.append((f"lookup {kind} ({who})", timeit(fn, args.runs)))

    last = TimelineEvent.objects.order_by("-id").values_list("id", flat=True).first()
    req = rf.get("/console/changes", {"since": str(last), "view": "list"})
    req.user = disp
    req.htmx = False
    rows.append(("live poll, nothing new (204)", timeit(lambda: console_views.changes.__wrapped__.__wrapped__(req), 200)))
    since20 = TimelineEvent.objects.order_by("-id").values_list("id", flat=True)[60]
    req20 = rf.get("/console/changes", {"since": str(since20), "view": "board"})
    req20.user = disp
    req20.htmx = False
    rows.append(("live poll, ~20 changed (board cards)", timeit(lambda: console_views.changes.__wrapped__.__wrapped__(req20),
                                                                 args.runs)))
    from closeloop.workorders.selectors import WorkOrderFilter

    rows.append(("board columns (all open, 40/column)", timeit(lambda: console.board_columns(disp, WorkOrderFilter()),
                                                                max(5, args.runs // 5))))
    rows.append(("dashboard data", timeit(lambda: console.dashboard_data(disp), max(5, args.runs // 5))))
    print(f"\n{'operation':44} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, r in rows:
        print(f"{name:44} {r['p50']:8.1f} {r['p99']:8.1f} {r['max']:8.1f}")


def _req(rf, user):
    r = rf.get("/lookup/")
    r.user = user
    return r


def _own(kind, values, user):
    from closeloop.customers.models import Asset, Contact
    from closeloop.workorders.models import ExternalRef, WorkOrder

    cid = user.customer_id
    if kind == "code":
        return list(WorkOrder.objects.filter(customer_id=cid).values_list("code", flat=True)[:50])
    if kind == "external ref":
        return list(ExternalRef.objects.filter(work_order__customer_id=cid).values_list("external_id", flat=True)[:50])
    if kind == "serial":
        return list(Asset.objects.filter(customer_id=cid).values_list("serial_number", flat=True)[:50])
    return list(Contact.objects.filter(customer_id=cid).exclude(phone="").values_list("phone", flat=True)[:50])


def _lenient(console, rf, user, values, runs):
    from django.template.loader import render_to_string

    it = iter(values * (runs // max(1, len(values)) + 1))

    def run():
        r = console.lookup_results(user, next(it))
        render_to_string("console/_lookup_results.html", {"r": r}, request=_req(rf, user))
    return run


if __name__ == "__main__":
    main()
