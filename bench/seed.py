"""Seed N work orders straight into the database, fast (for benchmarks, never for real data).

    python bench/seed.py -n 100000            # into the database the environment selects
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/closeloop_bench python bench/seed.py -n 1000000

Reference data goes through the ORM (types, 5 teams, 60 engineers, a dispatcher and a
finance clerk, ~200 customers with ~330 sites, assets and contacts). Work orders and
their 3-8 timeline events each are generated in order of creation over the last 365
days and written in large batches, one transaction per batch: `executemany` on SQLite,
`COPY` on PostgreSQL. Everything a real write would produce is produced here too:
codes in the real format (prefix + YYYYMMDD in the business time zone + 5-digit daily
sequence, with CodeCounter left consistent so the API continues the sequences),
milestone timestamps, versions, and `search_document` computed by the same
`closeloop.core.text.document_tokens` call as `services.search_document_for`.

For speed, the load steps around the search and list indexes and rebuilds them:
SQLite: the FTS5 triggers are dropped, the rows loaded, the index rebuilt
(`INSERT INTO workorders_search(workorders_search) VALUES('rebuild')`) and the triggers
recreated with the exact SQL of migration 0002. PostgreSQL: the secondary indexes of
the two big tables are dropped and recreated from their own definitions
(`pg_get_indexdef`). Both end with ANALYZE.
"""

import argparse
import importlib
import json
import os
import random
import sys
import time
from bisect import bisect
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import accumulate
from pathlib import Path
from zoneinfo import ZoneInfo

BENCH_DIR = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH_DIR), str(BENCH_DIR.parent)]  # vocab, and closeloop from this checkout
import vocab  # noqa: E402

DAY = 86400.0


# ---- reference data ------------------------------------------------------------------------

@dataclass
class SiteRef:
    id: int
    code: str
    name: str
    customer_id: int
    customer_code: str
    customer_name: str
    contact_id: int | None
    equipment: list  # [(index into vocab.EQUIPMENT, weight)]
    assets: list = field(default_factory=list)  # [(id, name, serial, model, equipment index)]


@dataclass
class Reference:
    types: list  # [(id, key, prefix, weight)]
    teams: dict  # group -> (team id, team code, [engineer (id, username, name)])
    team_codes: list
    sites: list
    site_weights: list
    dispatcher_id: int
    finance_id: int


def _weighted(rng: random.Random, items: list, weights: list):
    return rng.choices(items, weights)[0]


def ensure_reference(rng: random.Random) -> Reference:
    """Create (or find) the small tables. Idempotent: a second seed adds work orders only."""
    from django.contrib.auth.hashers import make_password

    from closeloop.accounts.models import Role, Team, User
    from closeloop.customers.models import Asset, Contact, Customer, Site
    from closeloop.workorders.models import WorkOrderType

    types = []
    for key, name, kind, prefix, weight in vocab.TYPES:
        t, _ = WorkOrderType.objects.get_or_create(key=key, defaults={"name": name, "kind": kind, "prefix": prefix})
        types.append((t.pk, t.key, t.prefix, weight))

    unusable = make_password(None)
    dispatcher, _ = User.objects.get_or_create(
        username="bench-dispatcher", defaults={"role": Role.DISPATCHER, "display_name": "调度员（压测）",
                                               "password": unusable})
    finance, _ = User.objects.get_or_create(
        username="bench-finance", defaults={"role": Role.FINANCE, "display_name": "财务（压测）", "password": unusable})

    teams: dict = {}
    n = 0
    for code, name, groups in vocab.TEAMS:
        team, _ = Team.objects.get_or_create(code=f"bench-{code}", defaults={"name": f"{name}（压测）"})
        wanted = []
        for _i in range(12):
            n += 1
            username = f"bench-eng{n:03d}"
            wanted.append(User(username=username, role=Role.ENGINEER, team=team, password=unusable,
                               display_name=rng.choice(vocab.SURNAMES) + rng.choice(vocab.GIVEN)))
        have = set(User.objects.filter(username__in=[u.username for u in wanted]).values_list("username", flat=True))
        User.objects.bulk_create([u for u in wanted if u.username not in have])
        engineers = [(u.pk, u.username, str(u)) for u in User.objects.filter(team=team, role=Role.ENGINEER)
                     .order_by("username")]
        for g in groups:
            teams[g] = (team.pk, team.code, engineers)
    team_codes = [f"bench-{code}" for code, _n, _g in vocab.TEAMS]

    if not Customer.objects.filter(code__startswith="bench-c").exists():
        names: set[str] = set()
        customers = []
        while len(customers) < 200:
            city, brand = rng.choice(vocab.CITIES), rng.choice(vocab.BRANDS)
            org, group = rng.choice(vocab.ORG_KINDS)
            name = f"{city}{brand}{org}"
            if name in names:
                continue
            names.add(name)
            customers.append(Customer(code=f"bench-c{len(customers) + 1:04d}", name=name,
                                      province=vocab.PROVINCES.get(city, ""),
                                      phone=f"0{rng.randint(10, 999)}-{rng.randint(10000000, 99999999)}"))
        Customer.objects.bulk_create(customers)
        customers = list(Customer.objects.filter(code__startswith="bench-c").order_by("code"))
        sites, contacts = [], []
        for c in customers:
            city, short, _group = _split_name(c.name)
            for k in range(rng.choice((1, 1, 2, 2, 3))):
                sites.append(Site(customer=c, code=f"{c.code}-s{k + 1}", name=f"{short}{vocab.SITE_NAMES[k * 3]}",
                                  province=c.province, city=city, address=f"{city}市建设路{rng.randint(1, 999)}号"))
            contacts.append(Contact(customer=c, name=rng.choice(vocab.SURNAMES) + rng.choice(vocab.GIVEN),
                                    phone=f"1{rng.randint(3000000000, 9999999999)}"))
        Site.objects.bulk_create(sites)
        Contact.objects.bulk_create(contacts)
        sites = list(Site.objects.filter(code__startswith="bench-c").select_related("customer").order_by("code"))
        assets = []
        for s in sites:
            equipment = _site_equipment(_split_name(s.customer.name)[2])
            for k in range(rng.randint(2, 4)):
                e = _weighted(rng, [i for i, _w in equipment], [w for _i, w in equipment])
                name, _g, _w, _faults, models = vocab.EQUIPMENT[e]
                model = f"{rng.choice(models)}-{rng.randint(100, 999)}"
                assets.append(Asset(customer=s.customer, site=s, name=f"{name}{k + 1}号", category=name, model=model,
                                    serial_number=f"BSN{s.pk:05d}{k:02d}{rng.randint(1000, 9999)}"))
        Asset.objects.bulk_create(assets)

    contacts = dict(Contact.objects.filter(customer__code__startswith="bench-c").values_list("customer_id", "id"))
    equipment_index = {e[0]: i for i, e in enumerate(vocab.EQUIPMENT)}
    sites = []
    for s in Site.objects.filter(code__startswith="bench-c").select_related("customer").order_by("code"):
        ref = SiteRef(s.pk, s.code, s.name, s.customer_id, s.customer.code, s.customer.name,
                      contacts.get(s.customer_id), _site_equipment(_split_name(s.customer.name)[2]))
        sites.append(ref)
    by_site = {s.id: s for s in sites}
    for a in Asset.objects.filter(site__in=by_site).order_by("id"):
        by_site[a.site_id].assets.append((a.pk, a.name, a.serial_number, a.model, equipment_index[a.category]))
    # A few big customers, a long tail: Zipf-like weights.
    site_weights = [1.0 / (1 + i) ** 0.6 for i in range(len(sites))]
    rng.shuffle(site_weights)
    return Reference(types, teams, team_codes, sites, site_weights, dispatcher.pk, finance.pk)


def _split_name(name: str) -> tuple[str, str, str]:
    """(city, city + brand, equipment group) of a generated customer name."""
    city = next((c for c in vocab.CITIES if name.startswith(c)), "")
    for org, group in vocab.ORG_KINDS:
        if name.endswith(org):
            return city, name[: -len(org)], group
    return city, name, ""


def _site_equipment(org_group: str) -> list:
    out = []
    for i, (_name, group, weight, _faults, _models) in enumerate(vocab.EQUIPMENT):
        if group in ("medical", "plant") and group != org_group:
            continue
        out.append((i, weight * (4 if group == org_group else 1)))
    return out


# ---- work orders ---------------------------------------------------------------------------

# Final status by age: (max age in days, [(status, weight)])
STATUS_BY_AGE = [
    (7, [("new", 12), ("assigned", 18), ("accepted", 10), ("en_route", 5), ("on_site", 5), ("in_progress", 15),
         ("waiting_parts", 5), ("waiting_customer", 5), ("resolved", 12), ("confirmed", 5), ("closed", 5),
         ("cancelled", 3)]),
    (30, [("new", 1), ("assigned", 3), ("accepted", 2), ("on_site", 2), ("in_progress", 6), ("waiting_parts", 4),
          ("waiting_customer", 2), ("resolved", 15), ("confirmed", 10), ("invoiced", 10), ("closed", 40),
          ("cancelled", 5)]),
    (10_000, [("new", 1), ("assigned", 1), ("in_progress", 1), ("waiting_parts", 1), ("resolved", 4),
              ("confirmed", 4), ("invoiced", 4), ("closed", 78), ("cancelled", 6)]),
]
PRIORITIES = (["low", "normal", "high", "urgent"], [15, 55, 22, 8])
# The lifecycle a status implies (travel is optional: remote work starts from accepted).
PATH = ["assign", "accept", "depart", "arrive", "start", "complete", "confirm", "invoice", "close"]
REACHED = {"new": 0, "assigned": 1, "accepted": 2, "en_route": 3, "on_site": 4, "in_progress": 5,
           "waiting_parts": 5, "waiting_customer": 5, "resolved": 6, "confirmed": 7, "invoiced": 8, "closed": 9}
TARGET = {"assign": "assigned", "accept": "accepted", "depart": "en_route", "arrive": "on_site",
          "start": "in_progress", "complete": "resolved", "confirm": "confirmed", "invoice": "invoiced",
          "close": "closed"}
MILESTONE = {"assign": "assigned_at", "accept": "accepted_at", "depart": "departed_at", "arrive": "arrived_at",
             "start": "started_at", "complete": "resolved_at", "confirm": "confirmed_at", "invoice": "invoiced_at",
             "close": "closed_at", "cancel": "cancelled_at"}


class Generator:
    """Produces (work order row, [event rows]) dicts in creation order."""

    def __init__(self, ref: Reference, rng: random.Random, tz: ZoneInfo, counters: dict):
        self.ref, self.rng, self.tz, self.counters = ref, rng, tz, counters
        self.site_cum = list(accumulate(ref.site_weights))
        self.type_cum = list(accumulate(t[3] for t in ref.types))
        self.equipment_cum = {}

    def _pick(self, items, cum):
        return items[bisect(cum, self.rng.random() * cum[-1])]

    def work_order(self, wo_id: int, created: datetime, now: datetime):
        from closeloop.core.text import document_tokens

        rng, ref = self.rng, self.ref
        type_id, type_key, prefix, _w = self._pick(ref.types, self.type_cum)
        site = self._pick(ref.sites, self.site_cum)
        asset = rng.choice(site.assets) if site.assets and rng.random() < 0.6 else None
        if asset is not None:
            e = asset[4]
        else:
            cum = self.equipment_cum.get(site.id)
            if cum is None:
                cum = self.equipment_cum[site.id] = list(accumulate(w for _i, w in site.equipment))
            e = self._pick(site.equipment, cum)[0]
        equipment, group, _w, faults, _models = vocab.EQUIPMENT[e]
        fault_i = _weighted(rng, range(len(faults)), [w for _f, w in faults])
        fault = faults[fault_i][0]
        r = rng.random()
        loc = "" if r < 0.5 else rng.choice(vocab.LOCATIONS_CJK) if r < 0.75 else rng.choice(vocab.LOCATIONS_MIXED)
        title = f"{loc}{equipment}{fault}"
        description = (f"{rng.choice(vocab.REPORTERS)}反映{loc}{equipment}{fault}，{rng.choice(vocab.OBSERVATIONS)}，"
                       f"{rng.choice(vocab.IMPACTS)}。{rng.choice(vocab.REQUESTS)}")
        if asset is not None and rng.random() < 0.5:
            description += f"设备型号{asset[3]}。"
        priority = "urgent" if fault == "困人" else _weighted(rng, *PRIORITIES)
        fault_code = "" if rng.random() < 0.4 else f"{group.upper()}-{fault_i + 1:02d}"

        day = created.astimezone(self.tz).date()
        seq = self.counters.get((prefix, day), 0) + 1
        self.counters[(prefix, day)] = seq
        code = f"{prefix}{day:%Y%m%d}{seq:05d}"

        age_days = (now - created).total_seconds() / DAY
        dist = next(d for max_age, d in STATUS_BY_AGE if age_days <= max_age)
        status = _weighted(rng, [s for s, _w in dist], [w for _s, w in dist])
        team_id, team_code, engineers = ref.teams[group]
        engineer = rng.choice(engineers)

        wo = {
            "id": wo_id, "code": code, "wo_type_id": type_id, "title": title, "description": description,
            "priority": priority, "status": status, "customer_id": site.customer_id, "site_id": site.id,
            "asset_id": asset[0] if asset else None, "contact_id": site.contact_id, "fault_code": fault_code,
            "team_id": team_id if status != "new" or rng.random() < 0.5 else None,
            "created_by_id": ref.dispatcher_id, "created_at": created,
        }
        parts = [code, title, description, fault_code, site.customer_name, site.name]
        if asset is not None:
            parts += [asset[1], asset[2], asset[3]]
        wo["search_document"] = document_tokens(*parts)

        # The timeline: created, the transitions the status implies, comments to 3-8 events.
        actions: list[str] = []
        if status == "cancelled":
            actions = (["assign"] if rng.random() < 0.6 else []) + ["cancel"]
        else:
            actions = PATH[: REACHED[status]]
            if status.startswith("waiting_"):
                actions.append("wait")
            # Remote work skips travel; so does any timeline that would pass 8 events.
            if "start" in actions and (len(actions) > 7 or rng.random() < 0.6):
                actions = [a for a in actions if a not in ("depart", "arrive")]
        # 3-8 events in all: created + transitions + comments (anywhere after creation).
        room = 8 - 1 - len(actions)
        slots = actions[:]
        for _c in range(rng.randint(max(0, 2 - len(actions)), max(0, min(room, 2)))):
            slots.insert(rng.randint(0, len(slots)), "comment")
        span = max(60.0, min((now - created).total_seconds() * 0.9, 14 * DAY))
        gap = span / (len(slots) + 1)
        t = created
        events = [{"work_order_id": wo_id, "at": created, "actor_id": ref.dispatcher_id, "kind": "created",
                   "to_state": "new", "public": True,
                   "data": json.dumps({"title": title, "priority": priority, "type": type_key, "external_refs": []},
                                      ensure_ascii=False)}]
        state = "new"
        version = 1
        for action in slots:
            t = t + timedelta(seconds=rng.uniform(0.2, 1.0) * gap)
            if action == "comment":
                events.append({"work_order_id": wo_id, "at": t, "actor_id": engineer[0], "kind": "comment",
                               "public": rng.random() < 0.3,
                               "data": json.dumps({"body": rng.choice(vocab.COMMENTS)}, ensure_ascii=False)})
                continue
            data: dict = {}
            actor = engineer[0]
            if action == "assign":
                actor = ref.dispatcher_id
                data = {"assignee": engineer[1], "assignee_name": engineer[2], "team": team_code}
                wo["team_id"], wo["assignee_id"] = team_id, engineer[0]
            elif action == "complete":
                wo["resolution"] = data["resolution"] = rng.choice(vocab.RESOLUTIONS)
            elif action == "confirm":
                actor = ref.dispatcher_id
                if rng.random() < 0.7:
                    wo["rating"] = data["rating"] = rng.choice((3, 4, 4, 5, 5, 5))
            elif action == "invoice":
                actor = ref.finance_id
                wo["invoice_number"] = data["invoice_number"] = f"INV{t:%Y%m}{wo_id:08d}"
            elif action == "close":
                actor = ref.dispatcher_id
            elif action == "cancel":
                actor = ref.dispatcher_id
                data["reason"] = rng.choice(vocab.CANCEL_REASONS)
            elif action == "wait":
                data["reason"] = "parts" if status == "waiting_parts" else "customer"
                wo["resume_to"] = state
            to_state = status if action in ("wait", "cancel") else TARGET[action]
            ms = MILESTONE.get(action)
            if ms:
                wo.setdefault(ms, t)
            events.append({"work_order_id": wo_id, "at": t, "actor_id": actor, "kind": "transition",
                           "action": action, "from_state": state, "to_state": to_state, "public": True,
                           "data": json.dumps(data, ensure_ascii=False)})
            state = to_state
            version += 1
        assert state == status, (state, status, slots)
        wo["version"] = version
        wo["updated_at"] = t
        return wo, events


# ---- writing -------------------------------------------------------------------------------

class Table:
    """Column order and constant defaults for one model, for raw inserts."""

    def __init__(self, model, connection, *, skip_pk: bool):
        self.name = model._meta.db_table
        fields = [f for f in model._meta.concrete_fields if not (skip_pk and f.primary_key)]
        self.columns = [f.column for f in fields]
        defaults = []
        for f in fields:
            default = f.get_default()
            if f.primary_key or (default is None and not f.null):
                defaults.append(MISSING)
            else:
                defaults.append(f.get_db_prep_save(default, connection))
        # One compiled expression per table: this runs for every one of millions of rows.
        sqlite = connection.vendor == "sqlite"
        items = []
        for i, f in enumerate(fields):
            get = f"d.get({f.column!r}, D[{i}])"
            if sqlite and f.get_internal_type() == "DateTimeField":
                get = f"_dt({get})"
            items.append(get)
        scope = {"D": defaults, "_dt": _sqlite_datetime}
        exec(f"def row(d):\n    return ({', '.join(items)},)", scope)
        self._row = scope["row"]
        self.checked = 0

    def row(self, d: dict) -> tuple:
        r = self._row(d)
        if self.checked < 1000:  # the generator's shape is fixed: checking the first rows is enough
            self.checked += 1
            for c, v in zip(self.columns, r, strict=True):
                if v is MISSING:
                    raise SystemExit(f"seed.py: {self.name}.{c} is NOT NULL without a default and the seeder "
                                     f"does not fill it; teach bench/seed.py about it.")
        return r


MISSING = object()


def _sqlite_datetime(v):
    # What Django's SQLite backend stores for an aware datetime: naive UTC, ISO with a space.
    return v if v is None or v is MISSING else v.replace(tzinfo=None).isoformat(" ")


def _write(connection, table: Table, rows: list[tuple]) -> None:
    cols = ", ".join(table.columns)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            with cur.cursor.copy(f"COPY {table.name} ({cols}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
        else:
            marks = ", ".join(["%s"] * len(table.columns))
            cur.executemany(f"INSERT INTO {table.name} ({cols}) VALUES ({marks})", rows)


def _sqlite_fts_sql():
    mig = importlib.import_module("closeloop.workorders.migrations.0002_search_index")
    triggers = [s for s in mig.SQLITE_FORWARD if s.startswith("CREATE TRIGGER")]
    drops = [s for s in mig.SQLITE_BACKWARD if s.startswith("DROP TRIGGER")]
    return drops, triggers


def _pg_secondary_indexes(cur, table: str) -> list[tuple[str, str]]:
    cur.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "JOIN pg_class t ON t.oid = x.indrelid WHERE t.relname = %s AND NOT x.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)", [table])
    return list(cur.fetchall())


def seed(n: int, *, batch: int = 10_000, rnd_seed: int = 42, days: int = 365, log=print) -> dict:
    """Add n work orders (with timelines) to the configured database. Returns timings."""
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from closeloop.workorders.models import CodeCounter, TimelineEvent, WorkOrder

    rng = random.Random(rnd_seed)
    timings: dict = {"n": n}
    t0 = time.perf_counter()
    ref = ensure_reference(rng)
    timings["reference_s"] = round(time.perf_counter() - t0, 2)

    now = timezone.now()
    tz = ZoneInfo(settings.TIME_ZONE)
    counters = {(c.prefix, c.day): c.value for c in CodeCounter.objects.all()}
    start_id = (WorkOrder.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    # Creation times over the last `days` days: weekdays busier, working hours busier.
    base = now - timedelta(days=days)
    hours = [0.2] * 7 + [1, 2, 3, 3, 2.5, 2, 2.5, 3, 3, 2.5, 2, 1.2] + [0.6] * 5
    hour_cum = list(accumulate(hours))
    stamps = []
    for _i in range(n):
        d = rng.random() * days
        day_start = base + timedelta(days=int(d))
        if day_start.weekday() >= 5 and rng.random() < 0.5:
            d = rng.random() * days
            day_start = base + timedelta(days=int(d))
        h = bisect(hour_cum, rng.random() * hour_cum[-1])
        t = day_start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
            hours=h, seconds=rng.random() * 3600)
        stamps.append(min(max(t, base), now - timedelta(minutes=1)))
    stamps.sort()

    gen = Generator(ref, rng, tz, counters)
    wo_table = Table(WorkOrder, connection, skip_pk=False)
    ev_table = Table(TimelineEvent, connection, skip_pk=True)
    vendor = connection.vendor
    log(f"seeding {n:,} work orders into {vendor} ({connection.settings_dict['NAME']}), batches of {batch:,}")

    # Step around the indexes that make bulk loads slow.
    restore: list[str] = []
    t_prep = time.perf_counter()
    with connection.cursor() as cur:
        if vendor == "sqlite":
            drops, triggers = _sqlite_fts_sql()
            for sql in drops:
                cur.execute(sql)
            restore = triggers
            cur.execute("PRAGMA synchronous=OFF")
            cur.execute("PRAGMA cache_size=-500000")
        else:
            for table in (wo_table.name, ev_table.name):
                for name, definition in _pg_secondary_indexes(cur, table):
                    cur.execute(f'DROP INDEX "{name}"')
                    restore.append(definition)
            cur.execute("SET maintenance_work_mem = '512MB'")
    timings["prepare_s"] = round(time.perf_counter() - t_prep, 2)

    gen_s = write_s = 0.0
    events_total = 0
    t_load = time.perf_counter()
    try:
        for lo in range(0, n, batch):
            tb = time.perf_counter()
            wos, evs = [], []
            for i in range(lo, min(n, lo + batch)):
                wo, events = gen.work_order(start_id + i, stamps[i], now)
                wos.append(wo_table.row(wo))
                evs.extend(ev_table.row(e) for e in events)
            tw = time.perf_counter()
            gen_s += tw - tb
            with transaction.atomic():
                _write(connection, wo_table, wos)
                _write(connection, ev_table, evs)
            write_s += time.perf_counter() - tw
            events_total += len(evs)
            done = min(n, lo + batch)
            if done == n or (done // batch) % 10 == 0:
                el = time.perf_counter() - t_load
                log(f"  {done:>9,} work orders, {events_total:>10,} events, {el:6.1f}s "
                    f"({(done + events_total) / el:,.0f} rows/s)")
    finally:
        t_idx = time.perf_counter()
        with connection.cursor() as cur:
            if vendor == "sqlite":
                log("  rebuilding the FTS5 index and recreating its triggers (migration 0002's SQL)")
                cur.execute("INSERT INTO workorders_search(workorders_search) VALUES ('rebuild')")
                for sql in restore:
                    cur.execute(sql)
            else:
                log(f"  recreating {len(restore)} indexes")
                for sql in restore:
                    cur.execute(sql)
        timings["index_s"] = round(time.perf_counter() - t_idx, 2)
    timings.update(generate_s=round(gen_s, 2), write_s=round(write_s, 2), events=events_total)

    with transaction.atomic(), connection.cursor() as cur:
        rows = [(p, d, v) for (p, d), v in counters.items()]
        table = CodeCounter._meta.db_table
        cur.executemany(f"INSERT INTO {table} (prefix, day, value) VALUES (%s, %s, %s) ON CONFLICT (prefix, day) "
                        f"DO UPDATE SET value = CASE WHEN excluded.value > {table}.value THEN excluded.value "
                        f"ELSE {table}.value END", rows)
        if vendor == "postgresql":
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{wo_table.name}', 'id'), "
                        f"(SELECT max(id) FROM {wo_table.name}))")

    # The analytics worker starts caught up (its cursor after the seeded events), as it is in a
    # running installation: otherwise `closeloop serve`'s worker folds a year of history in while
    # a benchmark runs, holding SQLite's write lock a second per step. The seeded history is then
    # not in the analytics tables: `closeloop analytics_rebuild` (or bench/analytics.py) puts it in.
    from closeloop.analytics import refresh
    from closeloop.analytics.models import Cursor
    from closeloop.core.clock import now as clock_now

    last_event = TimelineEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    Cursor.objects.update_or_create(name=refresh.CURSOR, defaults={"last_event_id": last_event,
                                                                   "refreshed_at": clock_now()})

    t_an = time.perf_counter()
    with connection.cursor() as cur:
        if vendor == "sqlite":
            cur.execute("ANALYZE")
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            cur.execute(f"VACUUM ANALYZE {wo_table.name}")
            cur.execute(f"VACUUM ANALYZE {ev_table.name}")
            cur.execute("ANALYZE")
    timings["analyze_s"] = round(time.perf_counter() - t_an, 2)
    timings["total_s"] = round(time.perf_counter() - t0, 2)
    rows = n + events_total
    timings["rows_per_min"] = round(rows / timings["total_s"] * 60)
    log(f"seeded {n:,} work orders and {events_total:,} events in {timings['total_s']:.1f}s "
        f"({timings['rows_per_min']:,} rows/min; generate {gen_s:.1f}s, write {write_s:.1f}s, "
        f"indexes {timings['index_s']:.1f}s, analyze {timings['analyze_s']:.1f}s)")
    return timings


def search_fractions(words=vocab.SEARCH_WORDS) -> dict[str, float]:
    """Share of all work orders each word matches, through the API's own search."""
    from closeloop.workorders.models import WorkOrder
    from closeloop.workorders.selectors import apply_search

    total = WorkOrder.objects.count() or 1
    return {w: round(apply_search(WorkOrder.objects.all(), w).count() / total, 4) for w in words}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", type=int, default=100_000, help="work orders to add (default 100000)")
    p.add_argument("--batch", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=42, help="random seed")
    p.add_argument("--migrate", action="store_true", help="run migrations first")
    args = p.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "closeloop.settings")
    import django

    django.setup()
    if args.migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
    seed(args.n, batch=args.batch, rnd_seed=args.seed)
    print("search matches:", ", ".join(f"{w} {f:.1%}" for w, f in search_fractions().items()))


if __name__ == "__main__":
    main()
