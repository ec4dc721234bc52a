"""In-process CPU cost of the work order API: the real WSGI application (closeloop.wsgi, production
settings, a bearer token, every middleware) called with a WSGI environ, no HTTP and no other
process, on the database bench/workorders.py seeded.

    .venv/bin/python bench/api_inprocess.py var/bench get list-team list-urgent create
    PG=postgres://postgres@127.0.0.1:5432/closeloop_bench .venv/bin/python bench/api_inprocess.py var/bench get
    PROFILE=get .venv/bin/python bench/api_inprocess.py var/bench get      # cProfile, top 45 cumulative
    SQL=1 ...                                                              # print the queries of one request

Prints CPU ms per request (min of 3 rounds of 100 requests; create: 30, which adds rows) and the
queries of one request. CPU time of this process only: with SQLite that is everything; with
PostgreSQL the database's own time is not in it.
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
CREATE = {"type": "repair", "customer": "bench-c0001", "site": "bench-c0001-s1", "title": "中央空调漏水",
          "description": "前台反映中央空调漏水", "priority": "normal", "team": "bench-hvac"}


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

    token = do_create_token(user=User.objects.get(username="bench-dispatcher"), scopes=["read", "write"])[1]
    codes = list(WorkOrder.objects.order_by("?").values_list("code", flat=True)[:300])

    def call(method, path, body=None):
        path, _sep, query = path.partition("?")
        data = json.dumps(body, ensure_ascii=False).encode() if body else b""
        env = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1", "wsgi.url_scheme": "http",
               "wsgi.input": io.BytesIO(data), "CONTENT_LENGTH": str(len(data)), "CONTENT_TYPE": "application/json",
               "HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_ACCEPT": "application/json",
               "wsgi.errors": sys.stderr, "SERVER_PROTOCOL": "HTTP/1.1"}
        status = []
        body = b"".join(application(env, lambda s, h: status.append(s)))
        return status[0], body

    ops = {
        "get": lambda i: ("GET", f"/api/v1/work-orders/{codes[i % len(codes)]}"),
        "list-team": lambda i: ("GET", f"/api/v1/work-orders?status=assigned&team=bench-{TEAMS[i % 5]}"),
        "list-urgent": lambda i: ("GET", "/api/v1/work-orders?priority=urgent"),
        "create": lambda i: ("POST", "/api/v1/work-orders", CREATE),
    }
    for name in sys.argv[2:] or ["get"]:
        n = 30 if name == "create" else 100
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
            pstats.Stats(prof).sort_stats("cumulative").print_stats(45)
    return 0


if __name__ == "__main__":
    sys.exit(main())
