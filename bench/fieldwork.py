"""Benchmark field work: photo processing (decode, re-encode, watermark), the service report
PDF, gate evaluation, check-ins, signatures, and what the close guard and the repeat check add.

    python bench/fieldwork.py                 # fresh SQLite file under /tmp
    python bench/fieldwork.py --db postgres   # fresh PostgreSQL database closeloop_bench_fieldwork
    python bench/fieldwork.py -n 5000         # work orders seeded for the repeat check

Times are per call, in the process (ORM, no HTTP), p50 / p99 in milliseconds.
"""

import argparse
import io
import os
import statistics
import sys
import tempfile
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
            c.execute("DROP DATABASE IF EXISTS closeloop_bench_fieldwork")
            c.execute("CREATE DATABASE closeloop_bench_fieldwork")
        os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/closeloop_bench_fieldwork"
    else:
        path = Path("/tmp/closeloop-bench-fieldwork.sqlite3")
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "closeloop.settings")
    os.environ["CLOSELOOP_MEDIA_ROOT"] = tempfile.mkdtemp(prefix="closeloop-bench-media-")
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
    print(f"{name:<52} {len(xs):>6} {statistics.median(xs):>9.2f} {pct(xs, 99):>9.2f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("-n", type=int, default=5000, help="work orders seeded (the repeat check searches them)")
    args = ap.parse_args()
    setup(args.db)

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import translation

    translation.activate("en")
    from closeloop.accounts.models import Role, Team, User
    from closeloop.core.clock import now
    from closeloop.customers.models import Asset, Customer, Site
    from closeloop.fieldwork import evidence, gates, report, services
    from closeloop.fieldwork.tests.helpers import gate_policy, jpeg, png
    from closeloop.workorders.lifecycle import S
    from closeloop.workorders.models import WorkOrder, WorkOrderType
    from closeloop.workorders.services import do_create_work_order, next_code

    team = Team.objects.create(name="T", code="t")
    disp = User.objects.create(username="disp", role=Role.DISPATCHER)
    eng = User.objects.create(username="eng", role=Role.ENGINEER, team=team)
    org = Customer.objects.create(code="org", name="甲医院")
    site = Site.objects.create(customer=org, code="s1", name="本部", latitude=31.2, longitude=121.4)
    assets = [Asset.objects.create(customer=org, site=site, name=f"设备{i}", serial_number=f"SN{i}") for i in range(200)]
    repair = WorkOrderType.objects.create(key="repair", name="维修", prefix="WD")
    gate_policy(repair, auto_close=False)
    t0 = now()
    WorkOrder.objects.bulk_create([
        WorkOrder(code=f"WD2026010{i:07d}", wo_type=repair, title="历史工单", customer=org, site=site,
                  asset=assets[i % 200], fault_code=f"F{i % 50}", status=S.CLOSED, created_at=t0, updated_at=t0)
        for i in range(args.n)], batch_size=2000)

    print(f"database: {args.db}; {args.n} work orders seeded")
    print(f"{'operation':<52} {'n':>6} {'p50 ms':>9} {'p99 ms':>9}")

    def in_progress(i=0):
        t = now()
        return WorkOrder.objects.create(code=next_code("WD", t), wo_type=repair, title="注塑机", customer=org, site=site,
                                        asset=assets[0], status=S.IN_PROGRESS, assignee=eng, team=team, created_at=t,
                                        updated_at=t)

    row("create work order (with the repeat check)", timed(lambda i: do_create_work_order(actor=disp, data={
        "type": "repair", "title": "又坏了", "customer": "org", "asset": f"SN{i % 200}", "fault_code": "F1"}), 200))
    wo = in_progress()
    small, large = jpeg((1600, 1200)), jpeg((4000, 3000))
    row("photo 1600x1200 (validate, re-encode, watermark, store)", timed(lambda i: evidence.do_add_photo(
        actor=eng, wo=wo, upload=SimpleUploadedFile("p.jpg", small), kind="nameplate"), 30))
    row("photo 4000x3000 (12 MP phone photo)", timed(lambda i: evidence.do_add_photo(
        actor=eng, wo=wo, upload=SimpleUploadedFile("p.jpg", large), kind="after"), 10))
    im = io.BytesIO()
    from PIL import Image

    Image.new("1", (20000, 20000)).save(im, "PNG")
    bomb = im.getvalue()

    def refuse(i):
        try:
            evidence.do_add_photo(actor=eng, wo=wo, upload=SimpleUploadedFile("b.png", bomb), kind="x")
        except Exception:
            pass

    row("refuse a 400 MP decompression bomb", timed(refuse, 30))
    for i in range(2):
        services.do_record_step(actor=eng, wo=wo, index=i, result="pass")
    services.do_submit_closure_form(actor=eng, wo=wo, data={"temperature": 180, "pressure": 8})
    row("evaluate gates (3 gates, 2 photos + form + steps)", timed(lambda i: gates.evaluate(wo), 300))
    qr = evidence.qr_payload(site)

    def checkin(i):
        w = in_progress()
        WorkOrder.objects.filter(pk=w.pk).update(status=S.EN_ROUTE)
        w.status = S.EN_ROUTE
        evidence.do_check_in(actor=eng, wo=w, qr=qr, latitude=31.2001, longitude=121.4001)

    row("check-in by QR (verify, GPS, arrive transition)", timed(checkin, 100))

    def sign(i):
        w = in_progress()
        WorkOrder.objects.filter(pk=w.pk).update(status=S.RESOLVED, resolution="ok")
        w.refresh_from_db()
        services.do_sign_and_confirm(w, signer_name="王", image_png=png(i), version=w.version, actor=eng)

    row("signature + confirm", timed(sign, 100))
    WorkOrder.objects.filter(pk=wo.pk).update(status=S.RESOLVED, resolution="更换加热圈")
    wo.refresh_from_db()
    report.render(wo, disp)  # font load
    row("service report PDF (2 photos, CJK font subset)", timed(lambda i: report.render(wo, disp), 10))
    pdf = report.render(wo, disp)
    print(f"report size: {len(pdf) / 1024:.0f} KB")


if __name__ == "__main__":
    main()
