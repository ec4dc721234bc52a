"""Every stock page renders for a manager (who may do everything on them)."""

import pytest

from .helpers import stock_world

pytestmark = pytest.mark.django_db

PAGES = ["/stock/locations/", "/stock/parts/", "/stock/parts/R410A-10/", "/stock/locations/van-x/",
         "/stock/move?kind=transfer", "/stock/move?kind=adjustment", "/stock/reorder/", "/stock/fleet/",
         "/stock/fleet/?by=model"]


def test_every_stock_page_renders(world):
    stock_world(world)
    c = world.browser_client(world.manager)
    c.raise_request_exception = True
    for u in PAGES:
        r = c.get(u)
        assert r.status_code == 200, u
