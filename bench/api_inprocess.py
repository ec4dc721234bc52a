"""In-process CPU cost of the work order API: the real WSGI application (closeloop.wsgi, production
settings, a bearer token, every middleware) called with a WSGI environ, no HTTP and no other
process, on the database bench/workorders.py seeded.

    .venv/bin/python bench/api_inprocess.py var/bench get list-team list-urgent create
    .venv/bin/python bench/api_inprocess.py var/bench create transitions worker   # the write paths
    PG=postgres://postgres@127.0.0.1:5432/closeloop_bench .venv/bin/python bench/api_inprocess.py var/bench get
    PROFILE=get .venv/bin/python bench/api_inprocess.py var/bench get      # cProfile, top 45 cumulative
    SQL=1 ...                                                              # print the queries of one request

Prints CPU ms per request (min of 3 rounds of 100 requests; create: 30, which adds rows) and the
queries of one request. CPU time of this process only: with SQLite that is everything; with
PostgreSQL the database's own time is not in it.

The write paths run with every effect configured (`effects()`, idempotent, added to the seeded
database on first use): a working-hours calendar and two SLA policies (urgent, and the fallback),
a created-rule that matches the bench's title (adds a tag: an update with its own effects) and one
that does not, the repair type's dispatch setting (suggest) and an acknowledge-or-escalate policy
for urgent work. `transitions`: 30 work orders created and assigned to an engineer (outside the
clock) per round, then accept, depart, arrive, start, complete each measured over the 30 as that
engineer. `worker`: after a batch of 30 creates (WORKER_BATCH=n for another size), the
worker's steps run until nothing is left to do (`closeloop.core.jobs` as `closeloop worker` runs
them, one pass after another); prints the worker's CPU ms per create, and create + worker.
"""

import cProfile
import io
import json
import os
import pstats
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEAMS = ["hvac", "lift", "power", "it", "general"]
ACTIONS = [("accept", {}), ("depart", {}), ("arrive", {}), ("start", {}), ("complete", {"resolution": "更换冷凝水泵"})]
CREATE = {"type": "repair", "customer": "bench-c0001", "site": "bench-c0001-s1", "title": "中央空调漏水",
          "description": "前台反映中央空调漏水", "priority": "normal", "team": "bench-hvac"}


def effects() -> None:
    """The configuration a production site has: SLA, rules, dispatch, acknowledge-or-escalate."""
    from datetime import time as dtime

    from closeloop.core.clock import now
    from closeloop.dispatch.models import DispatchSetting
    from closeloop.notify.models import AckPolicy
    from closeloop.rules.models import Rule
    from closeloop.sla.models import BusinessCalendar, SLAPolicy
    from closeloop.workorders.models import WorkOrderType

    week = {str(d): [["08:30", "12:00"], ["13:00", "18:00"]] for d in range(5)}
    cal, _ = BusinessCalendar.objects.get_or_create(key="bench-hours", defaults={
        "name": "bench hours", "kind": "hours", "tz": "Asia/Shanghai", "week": week})
    for key, order, cond, targets in (
            ("bench-urgent", 10, 'wo.priority == "urgent"', {"response": 900, "arrival": 3600, "resolution": 4 * 3600}),
            ("bench-std", 100, "", {"response": 3600, "arrival": 4 * 3600, "resolution": 24 * 3600})):
        SLAPolicy.objects.get_or_create(key=key, defaults={
            "name": key, "order": order, "condition": cond, "calendar": cal, "targets": targets,
            "ladder": [{"level": 1, "after": 0, "actions": ["remind_assignee"]}],
            "response_actions": ["depart", "arrive"], "updated_at": now()})
    if not Rule.objects.filter(name__startswith="bench-").exists():
        from closeloop.accounts.models import User

        owner = User.objects.get(username="bench-dispatcher")
        Rule.objects.create(name="bench-leak", trigger="created", condition='wo.title.contains("漏水")',
                            actions=[{"type": "add_tags", "tags": ["漏水"]}], order=10,
                            owner=owner, created_at=now(), updated_at=now())
        Rule.objects.create(name="bench-vip", trigger="created", condition='wo.priority == "urgent"',
                            actions=[{"type": "set_priority", "priority": "urgent"}], order=20,
                            owner=owner, created_at=now(), updated_at=now())
    DispatchSetting.objects.get_or_create(wo_type=WorkOrderType.objects.get(key="repair"),
                                          defaults={"mode": "suggest"})
    AckPolicy.objects.get_or_create(name="bench-urgent", defaults={
        "priorities": ["urgent"], "work_start": dtime(8, 30), "work_end": dtime(18), "weekdays": [0, 1, 2, 3, 4],
        "steps": [{"after": 300, "to": "team_lead"}]})


def main() -> int:
    data_dir = os.path.abspath(sys.argv[1])
    os.environ.update({"DJANGO_SETTINGS_MODULE": "closeloop.settings", "CLOSELOOP_ENV": "production",
                       "CLOSELOOP_SSL_REDIRECT": "0", "CLOSELOOP_ALLOWED_HOSTS": "127.0.0.1,localhost",
                       "CLOSELOOP_DATA_DIR": data_dir, "CLOSELOOP_SECRET_KEY": "bench-" + "x" * 50,
                       "CLOSELOOP_LOG_LEVEL": "WARNING"})
    if os.environ.get("PG"):
        os.environ["DATABASE_URL"] = os.environ["PG"]
    else:
        os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, ROOT)
    import gc

    from closeloop.wsgi import application

    gc.unfreeze()  # as a fresh worker, not a frozen one
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from closeloop.accounts.models import User
    from closeloop.accounts.services import do_create_token
    from closeloop.workorders.models import WorkOrder

    effects()
    token = do_create_token(user=User.objects.get(username="bench-dispatcher"), scopes=["read", "write"])[1]
    engineer = User.objects.filter(team__code="bench-hvac", role="engineer", is_active=True).order_by("id").first()
    eng_token = do_create_token(user=engineer, scopes=["read", "write"])[1]
    codes = list(WorkOrder.objects.order_by("?").values_list("code", flat=True)[:300])

    def call(method, path, body=None, bearer=None):
        path, _sep, query = path.partition("?")
        data = json.dumps(body, ensure_ascii=False).encode() if body else b""
        env = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1", "wsgi.url_scheme": "http",
               "wsgi.input": io.BytesIO(data), "CONTENT_LENGTH": str(len(data)), "CONTENT_TYPE": "application/json",
               "HTTP_AUTHORIZATION": f"Bearer {bearer or token}", "HTTP_ACCEPT": "application/json",
               "wsgi.errors": sys.stderr, "SERVER_PROTOCOL": "HTTP/1.1"}
        status = []
        body = b"".join(application(env, lambda s, h: status.append(s)))
        return status[0], body

    ops = {
        "get": lambda i: ("GET", f"/api/v1/work-orders/{codes[i % len(codes)]}"),
        "list-team": lambda i: ("GET", f"/api/v1/work-orders?status=assigned&team=bench-{TEAMS[i % 5]}"),
        "list-urgent": lambda i: ("GET", "/api/v1/work-orders?priority=urgent"),
        "create": lambda i: ("POST", "/api/v1/work-orders", CREATE),
        # bench/workorders.py's create bodies (types, customers, sites, assets, contacts, teams in turn)
        "create-http": lambda i: ("POST", "/api/v1/work-orders", http_bodies()[i % 2000]),
        # bench/workorders.py's transition: re-assign open work orders to an engineer of their team
        "assign-http": lambda i: ("POST", f"/api/v1/work-orders/{http_fixtures()['assigns'][i][0]}/actions/assign",
                                  {"assignee": http_fixtures()["assigns"][i][1]}),
    }
    memo: list = []

    def http_fixtures():
        if not memo:
            import random

            sys.path.insert(0, os.path.join(ROOT, "bench"))
            import workorders as http_bench

            memo.append(http_bench.make_fixtures(random.Random(42), 10))
        return memo[0]

    def http_bodies():
        return http_fixtures()["bodies"]

    def assigned(n):
        from closeloop.workorders.services import do_create_work_order

        dispatcher = User.objects.get(username="bench-dispatcher")
        return [do_create_work_order(actor=dispatcher, data={**CREATE, "assignee": engineer.username}).code
                for _ in range(n)]

    def transitions():
        n, best, counts = 30, {}, {}
        prof = cProfile.Profile() if os.environ.get("PROFILE") in [a for a, _b in ACTIONS] else None
        for rnd in range(4 if prof else 3):
            wos = assigned(n)
            for action, body in ACTIONS:
                profiling = prof is not None and rnd == 3 and os.environ["PROFILE"] == action
                t = time.process_time()
                if profiling:
                    prof.enable()
                for code in wos:
                    status, out = call("POST", f"/api/v1/work-orders/{code}/actions/{action}", body, eng_token)
                    assert status.startswith("2"), (action, status, out[:300])
                if profiling:
                    prof.disable()
                elif rnd < 3:
                    best[action] = min(best.get(action, 1e9), (time.process_time() - t) / n * 1000)
        code = assigned(1)[0]
        for action, body in ACTIONS:
            with CaptureQueriesContext(connection) as cq:
                call("POST", f"/api/v1/work-orders/{code}/actions/{action}", body, eng_token)
            counts[action] = len(cq.captured_queries)
            if os.environ.get("SQL"):
                print(f"  {action}:")
                for q in cq.captured_queries:
                    print("   ", q["sql"][:300])
        for action, _body in ACTIONS:
            print(f"{action:12} {best[action]:6.2f} CPU ms/req  {counts[action]} queries", flush=True)
        if prof:
            if os.environ.get("PROFILE_OUT"):
                prof.dump_stats(os.environ["PROFILE_OUT"])
            pstats.Stats(prof).sort_stats("cumulative").print_stats(45)

    def worker():
        from closeloop.core import jobs

        def drain():  # closeloop worker's loop, until a pass finds nothing to do
            for _pass in range(10_000):
                busy = False
                for job in jobs.registered():
                    busy = job.step("bench-worker") or busy
                if not busy:
                    return

        drain()  # whatever earlier operations queued
        n, best, best_create = int(os.environ.get("WORKER_BATCH") or 30), 1e9, 1e9
        prof = cProfile.Profile() if os.environ.get("PROFILE") == "worker" else None
        for _round in range(3):
            t = time.process_time()
            for i in range(n):
                call(*ops["create"](i))
            mid = time.process_time()
            if prof and _round == 2:
                prof.enable()
            drain()
            if prof and _round == 2:
                prof.disable()
            best_create = min(best_create, (mid - t) / n * 1000)
            best = min(best, (time.process_time() - mid) / n * 1000)
        print(f"{'worker':12} {best:6.2f} CPU ms/create after {n} creates (create {best_create:.2f}, create + worker "
              f"{best_create + best:.2f})", flush=True)
        if prof:
            if os.environ.get("PROFILE_OUT"):
                prof.dump_stats(os.environ["PROFILE_OUT"])
            pstats.Stats(prof).sort_stats("cumulative").print_stats(40)

    for name in sys.argv[2:] or ["get"]:
        if name == "transitions":
            transitions()
            continue
        if name == "worker":
            worker()
            continue
        n = 30 if name.startswith("create") else 100
        for i in range(5):
            status, body = call(*ops[name](i))
            assert status.startswith("2"), (status, body[:300])
        best = 1e9
        for _round in range(3):
            t = time.process_time()
            for i in range(n):
                call(*ops[name](i))
            best = min(best, (time.process_time() - t) / n * 1000)
        with CaptureQueriesContext(connection) as cq:
            call(*ops[name](7))
        print(f"{name:12} {best:6.2f} CPU ms/req  {len(cq.captured_queries)} queries", flush=True)
        if os.environ.get("SQL"):
            for q in cq.captured_queries:
                print("   ", q["sql"][:300])
        if os.environ.get("PROFILE") == name:
            prof = cProfile.Profile()
            prof.enable()
            for i in range(n):
                call(*ops[name](i))
            prof.disable()
            if os.environ.get("PROFILE_OUT"):
                prof.dump_stats(os.environ["PROFILE_OUT"])
            pstats.Stats(prof).sort_stats("cumulative").print_stats(45)
    return 0


if __name__ == "__main__":
    sys.exit(main())
