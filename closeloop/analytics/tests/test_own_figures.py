"""A customer's own service figures on the portal (/portal/figures/): each number equals a
direct reading of a few hand-made work orders of two organisations, only one's own
organisation is ever shown, and the period picker compares with the period before."""

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client

from closeloop.analytics import measures, refresh, selectors
from closeloop.workorders import services as wo
from closeloop.workorders.models import TimelineEvent, WorkOrder

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=TZ)  # a Monday morning
TODAY = datetime(2026, 11, 20, 12, 0, tzinfo=TZ)  # "this month": 1–20 November, compared with 1–20 October
OCT = T0 - timedelta(days=28)  # 5 October


def at(t: datetime, minutes: float = 0):
    return time_machine.travel(t + timedelta(minutes=minutes), tick=False)


def act(actor, order, action, t, minutes, **data):
    with at(t, minutes):
        wo.do_transition(actor=actor, wo=order, action=action, data=data)
        order.refresh_from_db()


def create(actor, t, **data):
    with at(t):
        return wo.do_create_work_order(actor=actor, data={"type": "repair", **data})


@pytest.fixture
def orgs(world):
    """Org A: a1 responded (depart at 20 min) and resolved (120 min) in time, rated 5; a2 on the
    same asset the next day (a repeat, as a1 is of a0), responded (arrive at 60 min) and resolved (300 min) late,
    rated 3; a3 still new; a0 in October (the previous period), responded at 10 min, resolved at
    60 min, rated 4. Org B: b1 responded at 5 min, resolved at 30 min, rated 1."""
    from closeloop.sla.models import BusinessCalendar, SLAPolicy

    w, d = world, world.dispatcher
    with at(OCT, -60):
        cal = BusinessCalendar.objects.create(key="24x7", name="7x24", kind="always", tz="Asia/Shanghai")
        SLAPolicy.objects.create(key="std", name="std", order=100, condition="", calendar=cal,
                                 targets={"response": 1800, "resolution": 4 * 3600}, ladder=[],
                                 response_actions=["depart", "arrive"], updated_at=OCT)

    def run(order, t, eng, steps):
        for action, minutes, data in steps:
            act(eng if action not in ("assign", "confirm") else d, order, action, t, minutes, **data)

    a0 = create(d, OCT, title="十月 呼吸机", site="site-a", asset="SN-A-1", priority="urgent", team="team-x")
    run(a0, OCT, w.eng_x, [("assign", 5, {"assignee": "eng_x"}), ("accept", 6, {}), ("depart", 10, {}),
                          ("arrive", 30, {}), ("start", 35, {}), ("complete", 60, {"resolution": "ok"}),
                          ("confirm", 70, {"rating": 4})])
    a1 = create(d, T0, title="呼吸机报警", site="site-a", asset="SN-A-1", priority="urgent", team="team-x")
    run(a1, T0, w.eng_x, [("assign", 10, {"assignee": "eng_x"}), ("accept", 15, {}), ("depart", 20, {}),
                         ("arrive", 50, {}), ("start", 55, {}), ("complete", 120, {"resolution": "更换传感器"}),
                         ("confirm", 130, {"rating": 5})])
    t1 = T0 + timedelta(days=1)
    a2 = create(d, t1, title="呼吸机又报警", site="site-a", asset="SN-A-1", priority="normal", team="team-x")
    run(a2, t1, w.eng_x, [("assign", 5, {"assignee": "eng_x"}), ("accept", 10, {}), ("arrive", 60, {}),
                         ("start", 65, {}), ("complete", 300, {"resolution": "更换主板"}),
                         ("confirm", 310, {"rating": 3})])
    a3 = create(w.cust_a, T0 + timedelta(days=2), title="监护仪黑屏", site="site-a")
    b1 = create(d, T0, title="乙 监护仪", site="site-b", asset="SN-B-1", priority="urgent", team="team-y")
    run(b1, T0, w.eng_y, [("assign", 1, {"assignee": "eng_y"}), ("accept", 2, {}), ("depart", 5, {}),
                         ("arrive", 10, {}), ("start", 12, {}), ("complete", 30, {"resolution": "ok"}),
                         ("confirm", 40, {"rating": 1})])
    with at(TODAY):
        refresh.catch_up()
    return {"a0": a0, "a1": a1, "a2": a2, "a3": a3, "b1": b1, "w": w}


def direct(orders):
    """The figures read straight from the work orders and their timeline (the test's own reading)."""
    responses, resolutions, ratings = [], [], []
    for o in orders:
        events = list(TimelineEvent.objects.filter(work_order=o, kind="transition").order_by("id"))
        first = next((e for e in events if e.action in ("depart", "arrive")), None)
        if first is not None:
            responses.append((first.at - o.created_at).total_seconds())
        done = [e for e in events if e.action == "complete"]
        if done and o.status in ("resolved", "confirmed", "invoiced", "closed"):
            resolutions.append((done[-1].at - o.created_at).total_seconds())
        rating = next((e.data["rating"] for e in events if "rating" in (e.data or {})), None)
        if rating is not None:
            ratings.append(rating)
    return {
        "created": len(orders),
        "response_avg_s": sum(responses) / len(responses) if responses else None,
        "response_met": sum(1 for s in responses if s <= 1800), "responded": len(responses),
        "resolution_avg_s": sum(resolutions) / len(resolutions) if resolutions else None,
        "resolution_met": sum(1 for s in resolutions if s <= 4 * 3600), "resolved": len(resolutions),
        "satisfaction": sum(1 for r in ratings if r >= 4) / len(ratings) if ratings else None,
        "rating_avg": sum(ratings) / len(ratings) if ratings else None,
        # a repeat: an earlier work order on the same asset within the 30 days before
        "repeats": sum(1 for o in orders if o.asset_id and WorkOrder.objects.filter(
            asset_id=o.asset_id, created_at__lt=o.created_at,
            created_at__gte=o.created_at - timedelta(days=30)).exists()),
    }


def period(user, key="month"):
    with at(TODAY):
        return selectors.own_figures_scope(user, {"period": key})


@pytest.mark.django_db
def test_periods_and_their_comparison():
    today = date(2026, 11, 20)
    assert selectors.period_bounds("month", today) == (date(2026, 11, 1), today, date(2026, 10, 1),
                                                       date(2026, 10, 20))
    assert selectors.period_bounds("last_month", today) == (date(2026, 10, 1), date(2026, 10, 31),
                                                            date(2026, 9, 1), date(2026, 9, 30))
    assert selectors.period_bounds("quarter", today) == (date(2026, 10, 1), today, date(2026, 7, 1),
                                                         date(2026, 8, 20))
    assert selectors.period_bounds("year", today) == (date(2026, 1, 1), today, date(2025, 1, 1),
                                                      date(2025, 11, 20))
    # the same stretch, cut at the end of a shorter month before; January looks back into December
    assert selectors.period_bounds("month", date(2026, 3, 31))[2:] == (date(2026, 2, 1), date(2026, 2, 28))
    assert selectors.period_bounds("last_month", date(2027, 1, 5)) == (date(2026, 12, 1), date(2026, 12, 31),
                                                                       date(2026, 11, 1), date(2026, 11, 30))
    assert selectors.period_bounds("quarter", date(2027, 2, 1))[2:] == (date(2026, 10, 1), date(2026, 11, 1))


@pytest.mark.django_db
def test_own_figures_equal_the_direct_reading(orgs):
    w = orgs["w"]
    p = period(w.cust_a)
    assert (p.scope.customer_id, p.scope.start, p.scope.end) == (w.org_a.pk, date(2026, 11, 1), date(2026, 11, 20))
    s, r = measures.summary(p.scope), measures.resolution(p.scope)
    mine = [orgs[k] for k in ("a1", "a2", "a3")]
    want = direct(mine)
    # by hand: responses 20 and 60 min (target 30: one in time), resolutions 120 and 300 min
    # (target 240: one in time), ratings 5 and 3, a2 a repeat of a1
    assert s["created"] == want["created"] == 3
    assert s["response_avg_s"] == want["response_avg_s"] == 40 * 60
    assert s["response_attainment"] == want["response_met"] / want["responded"] == 0.5
    assert r["resolution_avg_s"] == want["resolution_avg_s"] == 210 * 60
    assert r["done"] == want["resolved"] == 2
    assert r["resolution_attainment"] == want["resolution_met"] / want["resolved"] == 0.5
    # SLA attainment: response and resolution targets of a1 met, of a2 breached (a3's still running)
    assert s["sla_attainment"] == 0.5
    # a1 repeats a0 (28 days before, in October), a2 repeats a1
    assert s["repeats"] == want["repeats"] == 2
    assert set(measures.facts_q(p.scope, "repeat").values_list("work_order_id", flat=True)) == {
        orgs["a1"].pk, orgs["a2"].pk}
    assert s["satisfaction"] == want["satisfaction"] == 0.5 and s["rating_avg"] == want["rating_avg"] == 4
    rep = measures.repeats_by(p.scope, "asset")
    assert rep == [{"key": w.asset_a.pk, "repeats": 2, "created": 2, "rate": 1.0}]
    # the previous period (1–20 October): a0 only
    ps, pr = measures.summary(p.previous), measures.resolution(p.previous)
    prev = direct([orgs["a0"]])
    assert ps["created"] == 1 and ps["response_avg_s"] == prev["response_avg_s"] == 10 * 60
    assert pr["resolution_avg_s"] == prev["resolution_avg_s"] == 60 * 60 and ps["satisfaction"] == 1
    # org B's figures are B's alone
    pb = period(w.cust_b)
    sb, rb = measures.summary(pb.scope), measures.resolution(pb.scope)
    assert sb["created"] == 1 and sb["response_avg_s"] == 5 * 60 and rb["resolution_avg_s"] == 30 * 60
    assert sb["satisfaction"] == 0 and measures.summary(pb.previous)["created"] == 0


def _figures(html: str) -> dict:
    """kpi key -> (value, previous) as the page shows them."""
    out = {}
    for key, value, prev in re.findall(r'data-testid="kpi-([a-z_]+)">.*?<span data-value>([^<]*)</span>'
                                       r'.*?<span data-previous>([^<]*)</span>', html, re.S):
        out[key] = (value.strip(), prev.strip())
    return out


def get(c: Client, url: str):
    with at(TODAY):
        return c.get(url)


@pytest.mark.django_db
def test_the_page_shows_ones_own_figures(orgs):
    w = orgs["w"]
    c = w.browser_client(w.cust_a)
    r = get(c, "/portal/figures/")
    assert r.status_code == 200
    html = r.content.decode()
    f = _figures(html)
    assert f["created"] == ("3", "1")
    assert f["response"] == ("40.0", "10.0")  # minutes
    assert f["response_attainment"] == ("50.0", "100.0")
    assert f["resolution"] == ("3.5", "1.0")  # hours
    assert f["resolution_attainment"] == ("50.0", "100.0")
    assert f["sla"] == ("50.0", "100.0")
    assert f["repeat"] == ("2", "0")
    assert f["satisfaction"] == ("50.0", "100.0")
    assert f["rating"] == ("4.0", "4.0")
    assert 'data-testid="repeat-row"' in html and "SN-A-1" in html and "SN-B-1" not in html
    assert 'data-testid="portal-nav-portal-figures"' in html and 'data-testid="portal-nav-portal-home"' in html
    # a customer parameter changes nothing: the organisation is the user's own
    assert _figures(get(c, "/portal/figures/?customer=org-b").content.decode()) == f
    # B sees B's: one work order, none in the previous period
    fb = _figures(get(w.browser_client(w.cust_b), "/portal/figures/").content.decode())
    assert fb["created"] == ("1", "0") and fb["resolution"] == ("0.5", "—") and fb["satisfaction"] == ("0.0", "—")
    # last month (October) compared with September; a wrong period is named, the default shown
    fo = _figures(get(c, "/portal/figures/?period=last_month").content.decode())
    assert fo["created"] == ("1", "0") and fo["resolution"] == ("1.0", "—")
    bad = get(c, "/portal/figures/?period=decade").content.decode()
    assert 'data-testid="figures-problem"' in bad and _figures(bad) == f
    # the year reads the same three of November and a0 of October
    assert _figures(get(c, "/portal/figures/?period=year").content.decode())["created"] == ("4", "0")


@pytest.mark.django_db
def test_drill_links_show_only_ones_own_work_orders(orgs):
    """A figure's link opens the work order list with exactly those work orders (within the
    customer's own): the repeat faults of org A are a1 and a2."""
    w = orgs["w"]
    c = w.browser_client(w.cust_a)
    html = get(c, "/portal/figures/").content.decode()
    url = re.search(r'data-testid="kpi-repeat".*?<a href="([^"]+)"', html, re.S).group(1).replace("&amp;", "&")
    listed = get(c, url).content.decode()
    assert {k for k in ("a0", "a1", "a2", "a3", "b1") if orgs[k].code in listed} == {"a1", "a2"}
    # the same link for a customer of org B, or crafted for org B, shows none of A's
    other = get(w.browser_client(w.cust_b), url).content.decode()
    assert orgs["a2"].code not in other
    created = re.search(r'data-testid="kpi-created".*?<a href="([^"]+)"', html, re.S).group(1).replace("&amp;", "&")
    listed = get(c, created).content.decode()
    assert {k for k in ("a1", "a2", "a3", "a0", "b1") if orgs[k].code in listed} == {"a1", "a2", "a3"}


PERSONAS = ["anon", "cust_a", "cust_b", "eng_x", "eng_y", "dispatcher", "finance", "manager", "admin"]


@pytest.mark.django_db
@pytest.mark.parametrize("who", PERSONAS)
def test_permission_matrix(orgs, who):
    """Customers see their own organisation's figures; staff roles get a 404 (the portal's pages
    are not theirs: they have /analytics/); anonymous visitors the login page."""
    w = orgs["w"]
    c = Client() if who == "anon" else w.browser_client(getattr(w, who))
    for key in ("month", "last_month", "quarter", "year"):
        r = get(c, f"/portal/figures/?period={key}&customer=org-a")
        if who == "anon":
            assert r.status_code == 302 and "/login/" in r["Location"]
        elif who.startswith("cust"):
            assert r.status_code == 200
            org = getattr(w, "org_" + who[-1])
            assert r.content.decode().count(org.name) >= 1
            other = w.org_b if org == w.org_a else w.org_a
            assert other.name not in r.content.decode()
        else:
            assert r.status_code == 404
    if who.startswith("cust"):
        # a customer's own page never shows the other organisation's work or assets
        body = get(c, "/portal/figures/?period=year").content.decode()
        mine = {"cust_a": "SN-A-1", "cust_b": "SN-B-1"}[who]
        theirs = {"cust_a": "SN-B-1", "cust_b": "SN-A-1"}[who]
        assert theirs not in body
        assert mine in body or who == "cust_b"  # B has no repeat faults: no asset listed


@pytest.mark.django_db
def test_a_customer_without_an_organisation_gets_nothing(world):
    from closeloop.accounts.models import Role, User

    u = User.objects.create(username="loose", role=Role.CUSTOMER, display_name="loose")
    c = world.browser_client(u)
    assert c.get("/portal/figures/").status_code == 404
    assert not selectors.may_view_own_figures(u)


@pytest.mark.django_db
def test_the_page_reads_a_fixed_number_of_queries(orgs, django_assert_max_num_queries):
    """The figures are aggregates: the page's queries (18 today) do not grow with the work orders."""
    w = orgs["w"]
    c = w.browser_client(w.cust_a)
    get(c, "/portal/figures/")  # session, language, first-request caches
    with django_assert_max_num_queries(20):
        assert get(c, "/portal/figures/?period=year").status_code == 200
