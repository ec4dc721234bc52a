"""Query budgets on the hot paths: a change that adds database queries to one of them fails here.

Each test measures one request twice, once with 3 rows of data and once with 30, and asserts:

1. the two counts are equal: the number of queries does not grow with the data (an N+1 fails
   here however small the budget), and
2. the count is at most the path's entry in BUDGETS (today's count).

Updating a budget: when a change adds a query on purpose, run
    .venv/bin/pytest tests/test_query_budgets.py
read the measured count in the failure message ("... made 23 queries, budget 21"), check with
`-s` (the queries are printed on failure) that the new query is wanted and is not one per row,
and set BUDGETS[...] to the new count in the same commit, saying why in its message. When a change
removes queries, lower the budget to the new count so the gain is kept.

The counts include everything one request does: session and user (console), token (API),
middleware, permission reads, the effects a create or a transition runs (rules, dispatch, SLA,
notifications). Each request is made once beforehand (warm-up) so per-process caches are filled
before counting. Console pages are addressed by path, not URL name (their app may move).
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from closeloop.core.clock import now
from closeloop.sla.models import BusinessCalendar, SLAPolicy
from closeloop.workorders import services
from closeloop.workorders.models import WorkOrder

SMALL, LARGE = 3, 30

#: Most queries each request may make (today's count). See the module docstring to update.
BUDGETS = {
    "api_get": 3,
    "api_list": 1,
    "api_create": 34,  # a new work order has no SLA rows, fired levels or tracking link to read; reference data per process (core.refcache): types, teams, rules, SLA policies, flows...
    "api_accept": 14,  # approval flows, handoff requirements, rules, SLA policies per process (core.refcache)
    "console_list": 12,
    "console_lookup": 9,
    "console_dashboard": 16,
    "console_board": 21,
    "analytics_overview": 45,  # + the region filter's provinces (2), approvals by version and level, handoffs, acks
    "analytics_heatmap": 14,  # + the region filter's provinces (sites, customers)
    "analytics_drill_list": 12,
}
#: Not counted: the planner's SET LOCAL of core.planner on PostgreSQL (one statement before a read
#: that joins many tables; the compiled reads send it only while the server still plans their
#: prepared statement on a connection, core.compiled.fetch), so the budgets hold on both databases.
PLANNER_SETTINGS = "set_config('join_collapse_limit'"


@pytest.fixture(autouse=True)
def _token_cache_outlives_the_test(monkeypatch):
    """The bearer-token cache lasts 5 s; on a busy machine a warm-up and its measured request can
    be further apart than that, and the measured one would pay the token lookup again."""
    from closeloop.accounts import services as accounts_services
    from closeloop.core import refcache
    from closeloop.events import producer

    monkeypatch.setattr(accounts_services, "TOKEN_CACHE_SECONDS", 3600.0)
    # Likewise the per-process reference data (SLA policies, rules...) and the event subscriptions.
    monkeypatch.setattr(refcache, "SECONDS", 3600.0)
    monkeypatch.setattr(producer, "CACHE_SECONDS", 3600)


@pytest.fixture
def data(world):
    """A calendar and an SLA policy so every work order has a ledger, as in production."""
    cal = BusinessCalendar.objects.create(key="24x7", name="7x24", kind="always", tz="Asia/Shanghai")
    SLAPolicy.objects.create(key="std", name="std", order=100, condition="", calendar=cal,
                             targets={"response": 900, "arrival": 3600, "resolution": 4 * 3600},
                             ladder=[], response_actions=["depart", "arrive"], updated_at=now())
    return Data(world)


class Data:
    """Grows a realistic set of work orders: created through the service (timeline, SLA
    ledger, rules), half assigned, each with tags, a watcher, an external reference and a comment.
    `subject` is one work order whose own lists (tags, watchers, links, refs, comments) grow too."""

    def __init__(self, world):
        self.world = world
        self.subject = self._create(0)
        self.count = 1

    def _create(self, i):
        w = self.world
        data = {"type": "repair", "title": f"呼吸机报警 {i}", "site": "site-a", "asset": "SN-A-1",
                "contact": w.contact_a.pk, "external_refs": [{"system": "crm", "id": f"CRM-{i}"}]}
        if i % 2 == 0:
            data["assignee"] = "eng_x"
        wo = services.do_create_work_order(actor=w.dispatcher, data=data)
        services.do_set_tags(actor=w.dispatcher, wo=wo, tags=[f"t{i % 5}", "icu"])
        services.do_add_watcher(actor=w.dispatcher, wo=wo, user=w.manager)
        services.do_add_comment(actor=w.dispatcher, wo=wo, body=f"备注 {i}", public=bool(i % 2))
        return wo

    def grow(self, n):
        w, s = self.world, self.subject
        while self.count < n:
            wo = self._create(self.count)
            s.refresh_from_db()
            services.do_link(actor=w.dispatcher, wo=s, target=wo, kind="related")
            services.do_add_external_ref(actor=w.dispatcher, wo=s, system="erp", external_id=f"ERP-{self.count}")
            services.do_add_comment(actor=w.dispatcher, wo=s, body=f"跟进 {self.count}")
            self.count += 1
        s.refresh_from_db()
        services.do_set_tags(actor=w.dispatcher, wo=s, tags=[f"tag{k}" for k in range(min(n, 20))])
        users = [w.admin, w.manager, w.dispatcher, w.finance, w.eng_x, w.eng_x2][:n]
        for u in users:
            services.do_add_watcher(actor=w.dispatcher, wo=s, user=u)
        s.refresh_from_db()


def _count(request, shows=None) -> tuple[int, list[str]]:
    """Queries made by request() (after a warm-up); `shows(response)` asserts the page has the data."""
    request()  # warm-up: fills per-process caches
    with CaptureQueriesContext(connection) as ctx:
        r = request()
    assert r.status_code in (200, 201), (r.status_code, r.content[:500])
    if shows is not None:
        shows(r)
    sqls = [q["sql"] for q in ctx.captured_queries if PLANNER_SETTINGS not in q["sql"]]
    return len(sqls), sqls


def check(name, data, measure):
    """measure() makes the request against the data as it is now and returns (count, sqls)."""
    data.grow(SMALL)
    small, small_sql = measure()
    data.grow(LARGE)
    large, large_sql = measure()
    if small != large:
        print(f"--- {name} with {SMALL} rows:", *small_sql, sep="\n")
        print(f"--- {name} with {LARGE} rows:", *large_sql, sep="\n")
    assert small == large, (f"{name}: {small} queries with {SMALL} rows but {large} with {LARGE}: a query per row "
                            "(N+1). Prefetch or select_related instead; run with -s to see the queries.")
    budget = BUDGETS[name]
    if large > budget:
        print(f"--- {name}:", *large_sql, sep="\n")
    assert large <= budget, (f"{name} made {large} queries, budget {budget}. If the new query is "
                                    f"wanted, raise BUDGETS[{name!r}] (see this module's docstring).")


# ---- API ---------------------------------------------------------------------------------------


def test_api_get_work_order(data, world):
    api = world.api(world.dispatcher)
    def shows(r):
        assert len(r.json()["links"]) >= data.count - 1 and len(r.json()["external_refs"]) == data.count

    check("api_get", data, lambda: _count(lambda: api.get(f"/api/v1/work-orders/{data.subject.code}"), shows))


def test_api_list_page(data, world):
    api = world.api(world.dispatcher)
    def shows(r):
        assert len(r.json()["items"]) == min(data.count, 25)

    check("api_list", data, lambda: _count(lambda: api.get("/api/v1/work-orders", {"limit": 25}), shows))


def test_api_create(data, world):
    api = world.api(world.dispatcher)
    refs = (f"NEW-{i}" for i in range(100))  # an external reference is unique

    def create():
        return api.post("/api/v1/work-orders", {
            "type": "repair", "title": "新报修 制冷故障", "site": "site-a", "asset": "SN-A-1",
            "contact": world.contact_a.pk, "assignee": "eng_x", "external_refs": [{"system": "crm", "id": next(refs)}]})

    check("api_create", data, lambda: _count(create))


def test_api_transition_accept(data, world):
    api = world.api(world.eng_x)

    def measure():
        # One freshly assigned work order for the warm-up and one for the counted request.
        fresh = iter([services.do_create_work_order(actor=world.dispatcher, data={
            "type": "repair", "title": "待接单", "site": "site-a", "assignee": "eng_x"}).code for _ in range(2)])
        return _count(lambda: api.post(f"/api/v1/work-orders/{next(fresh)}/actions/accept", {}))

    check("api_accept", data, measure)


# ---- console pages (by path) -----------------------------------------------------------------------


def test_console_list_page(data, world):
    c = world.browser_client(world.dispatcher)
    def shows(r):
        assert r.content.decode().count("/work-orders/WD") >= min(data.count, 25)

    check("console_list", data, lambda: _count(lambda: c.get("/work-orders/"), shows))


def test_console_lookup(data, world):
    c = world.browser_client(world.dispatcher)
    # An asset serial: the asset, its history of work orders, their customers and sites.
    def shows(r):
        assert r.content.decode().count("/work-orders/WD") >= WorkOrder.objects.count()

    check("console_lookup", data,
          lambda: _count(lambda: c.get("/lookup/", {"q": world.asset_a.serial_number}), shows))


def test_console_dashboard(data, world):
    c = world.browser_client(world.dispatcher)
    check("console_dashboard", data, lambda: _count(lambda: c.get("/dashboard/")))


def test_console_board(data, world):
    c = world.browser_client(world.dispatcher)
    def shows(r):
        assert r.content.decode().count(data.subject.code[:10]) >= min(data.count, 25)

    check("console_board", data, lambda: _count(lambda: c.get("/board/"), shows))


def test_the_data_grows_as_claimed(data):
    """The budgets mean something only if the large case really has more rows."""
    data.grow(LARGE)
    assert WorkOrder.objects.count() == LARGE
    s = data.subject
    assert s.links_out.count() == LARGE - 1
    assert s.external_refs.count() == LARGE and len(s.tags) == 20 and s.watchers.count() == 6


def _analytics(c, url, shows=None):
    from closeloop.analytics import refresh

    refresh.catch_up()  # the worker's step, outside the count
    return _count(lambda: c.get(url), shows)


def test_analytics_overview(data, world):
    c = world.browser_client(world.manager)
    check("analytics_overview", data, lambda: _analytics(c, "/analytics/"))


def test_analytics_heatmap(data, world):
    c = world.browser_client(world.manager)

    def shows(r):
        assert 'data-testid="heat-cell"' in r.content.decode()

    check("analytics_heatmap", data, lambda: _analytics(c, "/analytics/heatmap/", shows))


def test_analytics_drill_down_list(data, world):
    from urllib.parse import quote

    from closeloop.core.clock import local_today

    c = world.browser_client(world.manager)
    spec = quote(f"m=wo&flag=created&from={local_today().isoformat()}&to={local_today().isoformat()}")

    def shows(r):
        assert r.content.decode().count("/work-orders/WD") >= min(data.count, 25)

    check("analytics_drill_list", data, lambda: _analytics(c, f"/work-orders/?drill={spec}", shows))
