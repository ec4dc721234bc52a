"""Authorization matrix over every page and endpoint of the customer portal:
two customer organisations (cust_a/org-a, cust_b/org-b), two engineering teams
(eng_x/team-x, eng_y/team-y), dispatcher, manager, anonymous. Another organisation's or
team's work order is a 404 (never a 403 that confirms it exists) and never appears in
lists, board, lookups, counts or live updates."""

import pytest

from closeloop.portal import services as portal
from closeloop.workorders.tests.factories import SEES, USERS, client, make_two, shown

pytestmark = pytest.mark.django_db

@pytest.fixture
def two(world):
    return make_two(world)


@pytest.mark.parametrize("who", USERS)
def test_portal_home_shows_only_ones_own(world, two, who):
    r = client(world, who).get("/portal/")
    if who == "anon":
        assert r.status_code == 302 and "/login/" in r["Location"]
    elif not who.startswith("cust"):
        assert r.status_code == 302
    else:
        assert r.status_code == 200 and shown(r.content.decode(), two) == SEES[who]


@pytest.mark.parametrize("who", USERS)
def test_customer_work_order_pages(world, two, who):
    c = client(world, who)
    for key, wo in two.items():
        for url in (f"/portal/w/{wo.code}/", f"/portal/w/{wo.code}/live"):
            r = c.get(url)
            if who == "anon":
                assert r.status_code == 302
            elif who.startswith("cust") and key in SEES[who]:
                assert r.status_code == 200
            else:
                assert r.status_code == 404, (who, url)
        for action in ("confirm", "reopen"):
            r = c.post(f"/portal/w/{wo.code}/{action}", {"rating": "5", "signer_name": "x", "reason": "x"})
            if who == "anon":
                assert r.status_code == 302 and "/login/" in r["Location"]
            elif who.startswith("cust") and key in SEES[who]:
                assert r.status_code == 302  # refused by state, with a message
            else:
                assert r.status_code == 404
    for wo in two.values():
        wo.refresh_from_db()
        assert wo.status == "assigned"


@pytest.mark.parametrize("who", USERS)
def test_tracking_and_qr_tokens_are_the_only_key(world, two, who):
    c = client(world, who)
    token_a = portal.ensure_tracking(two["a"]).token
    body = c.get(f"/portal/t/{token_a}/").content.decode()
    assert shown(body, two) == {"a"}  # the link holder sees that one work order, nothing else
    assert c.get(f"/portal/t/{two['a'].code}/").status_code == 404  # the code is not a token
    qr_b = portal.sign_qr(world.asset_b)
    body = c.get(f"/portal/q/{qr_b}/").content.decode()
    assert "监护仪" in body and "SN-A-1" not in body
