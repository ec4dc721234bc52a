"""Benchmark dispatch and rule conditions (issue 5 targets).

    python bench/dispatch.py                      # SQLite file under /tmp, fresh
    python bench/dispatch.py --db postgres        # a fresh PostgreSQL database closeloop_bench_dispatch

1. One suggestion among 1,000 engineers (skills, rosters, leave, open work, locations,
   customer history all loaded from the database, scored, explained): p50/p99 over
   --runs calls. Target ≤ 20 ms.
2. A batch of 1,000 work orders × 200 engineers: the full preview (loading, scoring,
   scipy linear_sum_assignment, explanations), and the solver alone. Target ≤ 2 s.
3. Rule conditions per second: 20 typical conditions (keywords, grade, priority, custom
   fields) over a shared context per work order, and with the context built per event.
   Target ≥ 10,000 conditions/s.
Results also go to bench/results/dispatch-*.json.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(ROOT))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def setup(db: str):
    if db == "postgres":
        import psycopg

        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
            c.execute("DROP DATABASE IF EXISTS closeloop_bench_dispatch")
            c.execute("CREATE DATABASE closeloop_bench_dispatch")
        os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/closeloop_bench_dispatch"
    else:
        path = Path("/tmp/closeloop-bench-dispatch.sqlite3")
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "closeloop.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(n_engineers: int, n_backlog: int, seed_value: int = 1):
    import random

    from django.utils import timezone

    from closeloop.accounts.models import EngineerSkill, Role, SkillTag, Team, User
    from closeloop.customers.models import Asset, Customer, Site
    from closeloop.dispatch.models import DispatchSetting, EngineerProfile, SkillRequirement
    from closeloop.roster.models import Leave, Shift
    from closeloop.workorders.models import WorkOrder, WorkOrderType

    rng = random.Random(seed_value)
    t = timezone.now()
    team = Team.objects.create(name="华东", code="east")
    wtype = WorkOrderType.objects.create(key="repair", name="维修", prefix="WD")
    DispatchSetting.objects.create(wo_type=wtype, estimated_hours=2)
    tags = [SkillTag.objects.create(name=n) for n in ("呼吸机", "监护仪", "CT", "MRI", "超声", "输液泵", "麻醉机",
                                                      "除颤仪")]
    for i, tag in enumerate(tags):
        SkillRequirement.objects.create(asset_category=tag.name, tag=tag, min_level=1 + i % 3)
    customers = [Customer.objects.create(code=f"c{i}", name=f"医院{i}") for i in range(100)]
    sites = [Site.objects.create(customer=c, code=f"s{c.code}", name=c.name, grade="三级甲等",
                                 latitude=30 + rng.random() * 2, longitude=120 + rng.random() * 2) for c in customers]
    assets = [Asset.objects.create(customer=s.customer, site=s, name=tags[i % 8].name, category=tags[i % 8].name,
                                   serial_number=f"SN{i}") for i, s in enumerate(sites * 2)]
    users = User.objects.bulk_create([
        User(username=f"eng{i:04d}", display_name=f"工程师{i}", role=Role.ENGINEER, team=team, password="!",
             home_latitude=round(30 + rng.random() * 2, 6), home_longitude=round(120 + rng.random() * 2, 6))
        for i in range(n_engineers)])
    users = list(User.objects.filter(role=Role.ENGINEER).order_by("pk"))
    skills, shifts, leaves, profiles = [], [], [], []
    for u in users:
        for tag in rng.sample(tags, 3):
            skills.append(EngineerSkill(user=u, tag=tag, level=rng.randint(1, 5)))
        for d in range(-3, 4):  # a week of 10-hour rosters, today's running now (whatever the hour)
            start = t - timedelta(hours=4) + timedelta(days=d)
            shifts.append(Shift(user=u, starts_at=start, ends_at=start + timedelta(hours=10),
                                kind=Shift.Kind.ON_CALL if rng.random() < 0.1 else Shift.Kind.SHIFT))
        if rng.random() < 0.05:
            leaves.append(Leave(user=u, starts_at=t - timedelta(days=1), ends_at=t + timedelta(days=1), reason="年假"))
        profiles.append(EngineerProfile(user=u, day_hours=8, latitude=round(30 + rng.random() * 2, 6),
                                        longitude=round(120 + rng.random() * 2, 6), located_at=t))
    EngineerSkill.objects.bulk_create(skills)
    Shift.objects.bulk_create(shifts)
    Leave.objects.bulk_create(leaves)
    EngineerProfile.objects.bulk_create(profiles)

    def wo(i, **kw):
        a = assets[i % len(assets)]
        return WorkOrder(code=f"WD{i:013d}", wo_type=wtype, title=f"{a.name} 故障 {i}", customer=a.customer,
                         site=a.site, asset=a, team=team, created_at=t, updated_at=t, **kw)

    # Open and done work: load and customer history.
    WorkOrder.objects.bulk_create([wo(i, status="assigned", assignee=rng.choice(users)) for i in range(2000)]
                                  + [wo(2000 + i, status="closed", assignee=rng.choice(users)) for i in range(3000)])
    WorkOrder.objects.bulk_create([wo(10000 + i) for i in range(n_backlog)])
    return users


def bench_suggest(runs: int, profile: bool = False) -> dict:
    from closeloop.dispatch import suggestions
    from closeloop.workorders.models import WorkOrder

    wos = list(WorkOrder.objects.filter(status="new").select_related("asset", "site", "wo_type")[:runs])
    suggestions.suggest(wos[0])  # warm up
    times = []
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    for w in wos:
        t0 = time.perf_counter()
        s = suggestions.suggest(w)
        times.append((time.perf_counter() - t0) * 1000)
    if prof is not None:
        import pstats

        prof.disable()
        pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(35)
    return {"runs": len(times), "p50_ms": round(pct(times, 50), 2), "p99_ms": round(pct(times, 99), 2),
            "max_ms": round(max(times), 2), "example": s.suggestions[0]["explanation"] if s.suggestions else None,
            "excluded_counts": s.excluded_counts}


def bench_batch(n_jobs: int, n_engineers: int) -> dict:
    from closeloop.accounts.models import Role, User
    from closeloop.dispatch import engine, facts, services
    from closeloop.workorders.models import WorkOrder

    keep = list(User.objects.filter(role=Role.ENGINEER).order_by("pk").values_list("pk", flat=True)[:n_engineers])
    User.objects.filter(role=Role.ENGINEER).exclude(pk__in=keep).update(is_active=False)
    admin = User.objects.create(username="bench-dispatcher", role=Role.DISPATCHER, password="!")
    wos = list(WorkOrder.objects.filter(status="new").select_related("asset", "site", "wo_type", "team")
               .order_by("id")[:n_jobs])
    t0 = time.perf_counter()
    plan = services.preview_batch(actor=admin, wos=wos)
    full = time.perf_counter() - t0
    # The solver alone, on the same matrices.
    from closeloop.dispatch.models import SkillRequirement

    rows = list(SkillRequirement.objects.select_related("tag"))
    reqs = [facts.requirements_for(w, rows) for w in wos]
    tag_ids = sorted({t for r in reqs for t in r})
    cands = facts.load_candidates(datetime.now(UTC), tag_ids)
    jobs = facts.build_jobs(wos, tag_ids, reqs, [2.0] * len(wos), cands)
    t0 = time.perf_counter()
    cost, _cols, _s = engine.batch_cost(jobs, cands)
    t1 = time.perf_counter()
    engine.assign_batch(jobs, cands)
    t2 = time.perf_counter()
    return {"jobs": len(wos), "engineers": len(cands), "preview_s": round(full, 3),
            "cost_matrix_shape": list(cost.shape), "cost_matrix_s": round(t1 - t0, 3),
            "score_and_solve_s": round(t2 - t1, 3), "assigned": plan["assigned"], "unassigned": plan["unassigned"]}


CONDITIONS = [
    'wo.keywords.urgent && wo.site.grade == "三级甲等"',
    'wo.keywords.urgent || wo.priority == "urgent"',
    'wo.asset.category == "呼吸机" && wo.customer.tier in ["gold", "platinum"]',
    'wo.title.contains("离线")',
    'wo.priority != "low" && wo.type == "repair"',
    'wo.site.province == "上海" || wo.region == "华东"',
    'has(wo.custom.shift) && wo.custom.shift == "夜"',
    'wo.fault_code.startsWith("E") && wo.status == "new"',
    'event.trigger == "created" && actor.role == "customer"',
    'size(wo.keyword_hits) > 0',
] * 2


def bench_conditions(seconds: float) -> dict:
    from closeloop.core import conditions
    from closeloop.rules.runner import context_for
    from closeloop.workorders.models import WorkOrder

    libs = {"urgent": ["监护仪黑屏", "呼吸机离线", "停机", "报警", "无法启动"], "parts": ["缺件", "备件"]}
    wos = list(WorkOrder.objects.select_related("asset", "site", "wo_type", "customer", "team")[:200])
    for c in CONDITIONS:
        conditions.compile_condition(c)
    # (a) shared context per work order: what the rule runner does for one event.
    ctxs = [conditions.make_context(context_for(w, trigger="created", libs=libs)) for w in wos]
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for ctx in ctxs:
            for c in CONDITIONS:
                conditions.matches(c, ctx)
            n += len(CONDITIONS)
    shared = n / (time.perf_counter() - t0)
    # (b) context built per event (keyword matching included), then all conditions.
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for w in wos:
            ctx = conditions.make_context(context_for(w, trigger="created", libs=libs))
            for c in CONDITIONS:
                conditions.matches(c, ctx)
            n += len(CONDITIONS)
    per_event = n / (time.perf_counter() - t0)
    return {"conditions": len(CONDITIONS), "per_s_shared_context": int(shared),
            "per_s_with_context_per_event": int(per_event)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--engineers", type=int, default=1000)
    ap.add_argument("--batch-jobs", type=int, default=1000)
    ap.add_argument("--batch-engineers", type=int, default=200)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--profile", action="store_true", help="cProfile the suggestion runs (to stderr)")
    args = ap.parse_args()
    started = datetime.now(UTC)
    setup(args.db)
    t0 = time.perf_counter()
    seed(args.engineers, max(args.batch_jobs, args.runs))
    print(f"seeded in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    out = {"started": started.isoformat(), "db": args.db, "python": platform.python_version(),
           "cpus": os.cpu_count()}
    out["suggest"] = bench_suggest(args.runs, args.profile)
    print(f"suggest among {args.engineers} engineers: p50 {out['suggest']['p50_ms']} ms, "
          f"p99 {out['suggest']['p99_ms']} ms (target ≤ 20 ms)  e.g. {out['suggest']['example']}")
    out["conditions"] = bench_conditions(args.seconds)
    print(f"conditions: {out['conditions']['per_s_shared_context']:,}/s with a shared context, "
          f"{out['conditions']['per_s_with_context_per_event']:,}/s building the context per event "
          f"(target ≥ 10,000/s)")
    out["batch"] = bench_batch(args.batch_jobs, args.batch_engineers)
    b = out["batch"]
    print(f"batch {b['jobs']} × {b['engineers']}: full preview {b['preview_s']} s (target ≤ 2 s); cost matrix "
          f"{b['cost_matrix_shape']} in {b['cost_matrix_s']} s, scoring + solver {b['score_and_solve_s']} s; "
          f"{b['assigned']} assigned, {b['unassigned']} left (no capacity)")
    results = BENCH_DIR / "results"
    results.mkdir(exist_ok=True)
    path = results / f"dispatch-{started:%Y%m%d-%H%M%S}-{args.db}.json"
    path.write_text(json.dumps(out, ensure_ascii=False, indent=2, default=str))
    print(f"results: {path.relative_to(ROOT)}")
    if statistics.mean([1]) and args.db == "postgres":
        from django.db import connections

        connections.close_all()


if __name__ == "__main__":
    main()
