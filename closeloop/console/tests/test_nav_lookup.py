"""The lookup box in the top bar: staff only; a work order code goes straight to it."""

from django.test import Client

from closeloop.workorders.tests.factories import make_wo


def _client(user):
    c = Client()
    c.force_login(user)
    return c


def test_staff_see_the_box_customers_do_not(world):
    assert 'data-testid="nav-lookup"' in _client(world.dispatcher).get("/dashboard/").content.decode()
    assert 'data-testid="nav-lookup"' in _client(world.eng_x).get("/board/").content.decode()
    assert 'data-testid="nav-lookup"' not in _client(world.cust_a).get("/portal/").content.decode()


def test_one_search_box_a_page(world):
    """The list's one box is its filter; the lookup page's is its own; elsewhere the top bar's."""
    c = _client(world.dispatcher)
    for path in ("/work-orders/", "/lookup/", "/dashboard/", "/board/"):
        html = c.get(path).content.decode()
        assert html.count('type="search"') == 1, path
    assert 'data-testid="nav-lookup"' not in c.get("/work-orders/").content.decode()


def test_a_code_opens_the_work_order_and_other_ids_list_matches(world):
    wo = make_wo(world)
    r = _client(world.dispatcher).get("/lookup/", {"q": wo.code.lower(), "go": "1"})
    assert r.status_code == 302 and r["Location"] == f"/work-orders/{wo.code}/"
    r = _client(world.dispatcher).get("/lookup/", {"q": "nothing-like-this", "go": "1"})
    assert r.status_code == 200


def test_a_code_outside_ones_team_is_not_revealed(world):
    other = make_wo(world, org="b")
    r = _client(world.eng_x).get("/lookup/", {"q": other.code, "go": "1"})
    assert r.status_code == 200 and f"/work-orders/{other.code}/" not in r.content.decode()
