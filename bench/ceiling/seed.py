"""Seed the ceiling's one table with N work orders like bench/seed.py's (same vocabulary,
codes in closeloop's format, statuses by age, priorities, teams), fast: executemany on
SQLite, COPY on PostgreSQL, the secondary index built after the load."""

import random
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import seed as closeloop_seed  # bench/seed.py: STATUS_BY_AGE, PRIORITIES
import vocab

COLUMNS = ["code", "type", "title", "description", "status", "priority", "customer", "site", "asset", "contact",
           "team", "assignee", "version", "created_at", "updated_at"]


def rows(n: int, rng: random.Random, days: int = 365):
    tz = ZoneInfo("Asia/Shanghai")
    now = datetime.now(tz).replace(microsecond=0)
    start = now - timedelta(days=days)
    step = (now - start) / n
    type_keys = [t[0] for t in vocab.TYPES]
    type_w = [t[4] for t in vocab.TYPES]
    prefixes = {t[0]: t[3] for t in vocab.TYPES}
    team_of_group = {g: f"bench-{code}" for code, _name, groups in vocab.TEAMS for g in groups}
    counters: dict = {}
    for i in range(n):
        created = start + step * i
        key = rng.choices(type_keys, type_w)[0]
        name, group, _w, faults, _models = rng.choices(vocab.EQUIPMENT, [e[2] for e in vocab.EQUIPMENT])[0]
        fault = rng.choices([f for f, _w in faults], [w for _f, w in faults])[0]
        r = rng.random()
        loc = "" if r < 0.5 else rng.choice(vocab.LOCATIONS_CJK) if r < 0.75 else rng.choice(vocab.LOCATIONS_MIXED)
        age = (now - created).days
        statuses = next(s for max_age, s in closeloop_seed.STATUS_BY_AGE if age <= max_age)
        status = rng.choices([s for s, _w in statuses], [w for _s, w in statuses])[0]
        day = created.date()
        seq = counters[(key, day)] = counters.get((key, day), 0) + 1
        c = rng.randint(1, 200)
        yield (f"{prefixes[key]}{day:%Y%m%d}{seq:05d}", key, f"{loc}{name}{fault}",
               f"{rng.choice(vocab.REPORTERS)}反映{loc}{name}{fault}，{rng.choice(vocab.OBSERVATIONS)}，"
               f"{rng.choice(vocab.IMPACTS)}。{rng.choice(vocab.REQUESTS)}",
               status, "urgent" if fault == "困人" else rng.choices(*closeloop_seed.PRIORITIES)[0],
               f"bench-c{c:04d}", f"bench-c{c:04d}-s1", "" if rng.random() < 0.4 else f"BSN{rng.randint(1, 99999):08d}",
               c, team_of_group.get(group, "bench-general"),
               "" if status in ("new", "cancelled") else f"bench-eng{rng.randint(1, 60):03d}",
               1 + closeloop_seed.REACHED.get(status, 0), created, created)


def seed(n: int, *, batch: int = 10_000, rnd_seed: int = 42, log=print) -> dict:
    from django.db import connection, transaction

    rng = random.Random(rnd_seed)
    t0 = time.perf_counter()
    pg = connection.vendor == "postgresql"
    with connection.cursor() as cur:
        cur.execute("DROP INDEX IF EXISTS ceiling_status_team")
    it = rows(n, rng)
    done = 0
    while done < n:
        chunk = [next(it) for _i in range(min(batch, n - done))]
        with transaction.atomic(), connection.cursor() as cur:
            if pg:
                with cur.cursor.copy(f"COPY ceiling_workorder ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                    for row in chunk:
                        copy.write_row(row)
            else:
                cur.executemany(f"INSERT INTO ceiling_workorder ({', '.join(COLUMNS)}) "
                                f"VALUES ({', '.join(['%s'] * len(COLUMNS))})", chunk)
        done += len(chunk)
        if done % 100_000 == 0 or done == n:
            log(f"  ceiling seed: {done:,} work orders ({time.perf_counter() - t0:.0f}s)")
    with connection.cursor() as cur:
        cur.execute("CREATE INDEX ceiling_status_team ON ceiling_workorder (status, team, id DESC)")
        cur.execute("ANALYZE")
    return {"work_orders": n, "seconds": round(time.perf_counter() - t0, 1)}
