"""Benchmark notification delivery: deliveries per second with one worker, and the time
from cause to delivery when idle.

    python bench/notify.py                         # SQLite, 3,000 messages, 200 latency samples
    python bench/notify.py --db postgres           # PostgreSQL (database name must contain "bench")
    python bench/notify.py -n 10000 --samples 500

Steps: a fresh database, migrate, one webhook channel pointing at a local sink (a raw
asyncio HTTP server in its own process that answers 200 and records each
X-Closeloop-Delivery id with its arrival time).
1. Throughput: write N "notify" rows (one webhook delivery each), start one
   `closeloop worker`, time until the sink has N distinct ids. Reported end to end
   (fan-out + delivery: two outbox rows per message) and for the delivery phase alone
   (N delivery rows already fanned out).
2. Latency: with the worker idle, write one "notify" row at a time (its own
   transaction, like a cause would) and time until the sink receives it; p50/p99/max.
Targets (issue 4): >= 500 deliveries/s, p99 <= 1 s when idle.
"""

import argparse
import asyncio
import json
import os
import random
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
TICK = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---- the sink (runs as `python bench/notify.py --sink PORT`) -------------------------------------

async def _sink_main(port: int) -> None:
    out = sys.stdout

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length, did = 0, b""
                for line in head.split(b"\r\n"):
                    k, _, v = line.partition(b":")
                    k = k.strip().lower()
                    if k == b"content-length":
                        length = int(v)
                    elif k == b"x-closeloop-delivery":
                        did = v.strip()
                if length:
                    await reader.readexactly(length)
                out.write(f"{time.time():.6f} {did.decode()}\n")
                out.flush()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    out.write("ready\n")
    out.flush()
    async with server:
        await server.serve_forever()


class SinkProcess:
    def __init__(self, port: int):
        self.proc = subprocess.Popen([sys.executable, __file__, "--sink", str(port)], stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        assert self.proc.stdout.readline().strip() == "ready"
        self.arrivals: dict[str, float] = {}
        self.count = 0
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            t, _, did = line.strip().partition(" ")
            with self.cond:
                self.arrivals.setdefault(did, float(t))
                self.count += 1
                self.cond.notify_all()

    def wait_ids(self, n: int, timeout: float) -> bool:
        end = time.monotonic() + timeout
        with self.cond:
            while len(self.arrivals) < n:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True

    def cpu(self) -> float:
        return _cpu(self.proc.pid)

    def stop(self):
        self.proc.terminate()


def _cpu(pid: int) -> float:
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / TICK
    except (OSError, IndexError):
        return 0.0


# ---- the benchmark -------------------------------------------------------------------------------

def reset_database(args) -> dict:
    env = dict(os.environ)
    env.update({"DJANGO_SETTINGS_MODULE": "closeloop.settings", "CLOSELOOP_SECRET_KEY": secrets.token_urlsafe(40),
                "CLOSELOOP_LOG_LEVEL": "WARNING", "CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS": "1",
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
        db = data_dir / "bench-notify.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        env["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ.update(env)
    return env


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] if v else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    ap.add_argument("-n", type=int, default=3000, help="messages for the throughput run")
    ap.add_argument("--samples", type=int, default=200, help="latency samples when idle")
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/closeloop_bench_notify")
    ap.add_argument("--data-dir", default=str(BENCH_DIR / "data"))
    ap.add_argument("--port", type=int, default=18090)
    ap.add_argument("--poll", type=float, default=0.5, help="worker --poll (default as shipped)")
    args = ap.parse_args()
    if args.sink:
        asyncio.run(_sink_main(args.sink))
        return
    env = reset_database(args)
    log(f"migrating a fresh {args.db} database")
    subprocess.run([sys.executable, "-m", "closeloop.cli", "migrate", "--no-input", "-v0"], env=env, check=True,
                   cwd=ROOT)
    import django

    django.setup()
    from django.db import transaction

    from closeloop.core.clock import now
    from closeloop.notify.models import Channel
    from closeloop.notify.services import fan_out_payload
    from closeloop.outbox.services import enqueue

    sink = SinkProcess(args.port)
    Channel.objects.create(kind="webhook", name="bench", config={"url": f"http://127.0.0.1:{args.port}/in"},
                           created_at=now())
    payload = {"event": "bench", "recipients": [{"channel": "bench"}], "no_robots": True, "message": "bench"}

    def worker():
        return subprocess.Popen([sys.executable, "-m", "closeloop.cli", "worker", "--poll", str(args.poll)],
                                env=env, cwd=ROOT)

    results: dict = {"db": args.db, "n": args.n, "samples": args.samples, "poll": args.poll}

    # 1a. end to end: N causes, fan-out + delivery by one worker.
    log(f"writing {args.n} notify rows")
    with transaction.atomic():
        for i in range(args.n):
            enqueue("notify", f"bench:e2e:{i}", payload)
    w = worker()
    c0, s0, t0 = _cpu(w.pid), sink.cpu(), time.monotonic()
    ok = sink.wait_ids(args.n, timeout=600)
    dt = time.monotonic() - t0
    results["e2e"] = {"seconds": round(dt, 2), "per_s": round(args.n / dt, 1), "complete": ok,
                      "worker_cpu_s": round(_cpu(w.pid) - c0, 2), "sink_cpu_s": round(sink.cpu() - s0, 2)}
    log(f"end to end: {args.n} in {dt:.2f} s = {args.n / dt:.0f}/s (worker CPU {_cpu(w.pid) - c0:.1f} s)")
    w.terminate()
    w.wait()

    # 1b. delivery phase alone: fan out in this process first, then one worker delivers.
    log(f"fanning out {args.n} more (in the bench process)")
    base = len(sink.arrivals)
    with transaction.atomic():
        for i in range(args.n):
            fan_out_payload(f"bench:d:{i}", payload, now())
    w = worker()
    c0, s0, t0 = _cpu(w.pid), sink.cpu(), time.monotonic()
    ok = sink.wait_ids(base + args.n, timeout=600)
    dt = time.monotonic() - t0
    results["delivery"] = {"seconds": round(dt, 2), "per_s": round(args.n / dt, 1), "complete": ok,
                           "worker_cpu_s": round(_cpu(w.pid) - c0, 2), "sink_cpu_s": round(sink.cpu() - s0, 2)}
    log(f"delivery only: {args.n} in {dt:.2f} s = {args.n / dt:.0f}/s")

    # 2. latency when idle (the same worker, now idle).
    time.sleep(1.0)
    lat = []
    for i in range(args.samples):
        key = f"bench:lat:{i}"
        t_cause = time.time()
        with transaction.atomic():
            enqueue("notify", key, payload)
        did = f"{key}:c1:webhook"
        end = time.monotonic() + 10
        while did not in sink.arrivals and time.monotonic() < end:
            with sink.cond:
                sink.cond.wait(0.05)
        if did in sink.arrivals:
            lat.append(sink.arrivals[did] - t_cause)
        time.sleep(random.uniform(0.0, 0.3))
    w.terminate()
    w.wait()
    sink.stop()
    results["latency"] = {"received": len(lat), "p50_ms": round(pct(lat, 50) * 1000), "p99_ms":
                          round(pct(lat, 99) * 1000), "max_ms": round(max(lat) * 1000) if lat else None}
    log(f"idle cause→delivery: p50 {pct(lat, 50) * 1000:.0f} ms, p99 {pct(lat, 99) * 1000:.0f} ms, "
        f"max {max(lat) * 1000:.0f} ms ({len(lat)}/{args.samples})")
    out = BENCH_DIR / "results"
    out.mkdir(exist_ok=True)
    path = out / f"notify-{args.db}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
