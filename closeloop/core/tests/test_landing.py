"""After logging in, each role lands where it works; an allowed `next=` still wins."""

import pytest
from django.test import Client

from closeloop.workorders.lifecycle import S
from closeloop.workorders.tests.factories import make_wo

LANDINGS = [("admin", "/dashboard/"), ("manager", "/dashboard/"), ("dispatcher", "/work-orders/"),
            ("finance", "/work-orders/?status=confirmed"), ("eng_x", "/m/"), ("cust_a", "/portal/")]


def _log_in(username, **extra):
    c = Client()
    r = c.post("/login/" + extra.pop("query", ""), {"username": username, "password": f"pw-{username}-123"})
    return c, r


@pytest.mark.parametrize("username, landing", LANDINGS)
def test_each_role_lands_where_it_works(world, username, landing):
    c, r = _log_in(username)
    assert r.status_code == 302 and r["Location"] == landing
    r = c.get("/")
    assert r.status_code == 302 and r["Location"] == landing
    assert c.get(landing).status_code == 200


def test_next_wins_when_allowed(world):
    _c, r = _log_in("eng_x", query="?next=/work-orders/")
    assert r["Location"] == "/work-orders/"
    _c, r = _log_in("finance", query="?next=https://elsewhere.example/x")
    assert r["Location"] == "/work-orders/?status=confirmed"


def test_finance_finds_the_work_to_invoice_and_can_invoice_it_from_the_page(world):
    waiting = make_wo(world, status=S.CONFIRMED, title="待开票")
    make_wo(world, status=S.IN_PROGRESS, title="还在修")
    c, r = _log_in("finance")
    html = c.get(r["Location"]).content.decode()
    assert waiting.code in html and "还在修" not in html
    page = c.get(f"/work-orders/{waiting.code}/").content.decode()
    form = page[page.index('data-testid="action-invoice"'):]
    assert 'name="invoice_number"' in form[:form.index("</form>")]
    r = c.post(f"/work-orders/{waiting.code}/actions/invoice", {"invoice_number": "INV-1", "version": waiting.version})
    waiting.refresh_from_db()
    assert waiting.status == S.INVOICED and waiting.invoice_number == "INV-1", r
