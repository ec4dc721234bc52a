"""Benchmark ledger imports: an .xlsx of N asset rows (default 100,000) through the whole
pipeline the console uses: upload checks and header guess, staging and validating (the worker
step, in chunks), commit (the worker step), then the rollback.

    python bench/ledgers.py                  # fresh SQLite file under /tmp
    python bench/ledgers.py --db postgres    # fresh PostgreSQL database closeloop_bench_ledgers
    python bench/ledgers.py -n 20000

Prints each phase's wall time and the process's peak RSS after each phase (memory flat:
the peak must not grow with N; the file itself is held in memory once, at most 20 MB).
Target (issue 14): 100,000 rows imported (upload + validate + commit) in at most 60 s.
"""

import argparse
import io
import os
import resource
import sys
import time
from datetime import date, timedelta
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH_DIR.parent)]


def setup(db: str):
    if db == "postgres":
        import psycopg

        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
            c.execute("DROP DATABASE IF EXISTS closeloop_bench_ledgers")
            c.execute("CREATE DATABASE closeloop_bench_ledgers")
        os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/closeloop_bench_ledgers"
    else:
        path = Path("/tmp/closeloop-bench-ledgers.sqlite3")
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    # As the worker runs in production: DEBUG on keeps every query's SQL (memory grows).
    os.environ["CLOSELOOP_DEBUG"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "closeloop.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def cpu() -> float:
    """This process's CPU seconds (user + system): unlike wall time, it does not grow when
    other programs load the machine."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_file(n: int, customers: int) -> bytes:
    """Written with openpyxl's write-only mode, like the exports (not part of the timing)."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("设备台账")
    ws.append(["2024年 设备台账"])
    ws.append(["序列号", "设备名称", "型号", "批次", "安装日期", "客户编码", "厂家"])
    d0 = date(2018, 1, 1)
    for i in range(n):
        ws.append([f"SN-{i:07d}", "呼吸机" if i % 2 else "监护仪", f"V{i % 90}", f"B{i % 300}",
                   d0 + timedelta(days=i % 2000), f"c-{i % customers}", "迈瑞"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("-n", type=int, default=100_000)
    ap.add_argument("--customers", type=int, default=500)
    args = ap.parse_args()
    setup(args.db)
    from django.conf import settings

    from closeloop.accounts.models import User
    from closeloop.customers.models import Asset, Customer
    from closeloop.ledgers import services
    from closeloop.ledgers.models import ImportBatch

    settings.LEDGERS_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
    admin = User.objects.create(username="bench-admin", role="admin")
    Customer.objects.bulk_create([Customer(code=f"c-{i}", name=f"客户{i}") for i in range(args.customers)])
    data = make_file(args.n, args.customers)
    print(f"{args.db}: {args.n:,} asset rows, file {len(data) / 1e6:.1f} MB, peak RSS before {peak_mb():.0f} MB")

    total, total_cpu = time.perf_counter(), cpu()
    t, c = time.perf_counter(), cpu()
    b = services.do_upload(admin, kind="asset", filename="设备台账.xlsx", data=data)
    del data
    services.do_set_mapping(admin, b, b.mapping)
    print(f"  upload + header guess      {time.perf_counter() - t:7.1f} s  CPU {cpu() - c:6.1f} s   peak RSS {peak_mb():.0f} MB")
    t, c = time.perf_counter(), cpu()
    services.run_until_idle()
    b.refresh_from_db()
    assert b.status == "preview", (b.status, b.error)
    print(f"  stage + validate           {time.perf_counter() - t:7.1f} s  CPU {cpu() - c:6.1f} s   peak RSS {peak_mb():.0f} MB   {b.counts}")
    t, c = time.perf_counter(), cpu()
    services.do_confirm(admin, b)
    services.run_until_idle()
    b.refresh_from_db()
    assert b.status == "committed", (b.status, b.error)
    print(f"  commit                     {time.perf_counter() - t:7.1f} s  CPU {cpu() - c:6.1f} s   peak RSS {peak_mb():.0f} MB")
    print(f"  import in all              {time.perf_counter() - total:7.1f} s  CPU {cpu() - total_cpu:6.1f} s   (target <= 60 s)")
    assert Asset.objects.count() == args.n
    t, c = time.perf_counter(), cpu()
    services.do_rollback(admin, b)
    services.run_until_idle()
    b = ImportBatch.objects.get(id=b.id)
    assert b.status == "rolled_back", (b.status, b.error)
    print(f"  rollback                   {time.perf_counter() - t:7.1f} s  CPU {cpu() - c:6.1f} s   peak RSS {peak_mb():.0f} MB")
    assert Asset.objects.count() == 0


if __name__ == "__main__":
    main()
