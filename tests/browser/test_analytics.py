"""Analytics in Chromium: the Monday-morning heat map leads to exactly the work orders behind
its worst cell; the pages draw their charts without CSP violations at both widths and languages."""

import pytest
from playwright.sync_api import expect

from closeloop.analytics.tests.test_measures import story  # noqa: F401 - the scripted work orders

from .test_journey import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PERIOD = "?from=2026-11-01&to=2026-11-07"


def test_manager_clicks_the_worst_cell_and_gets_its_work_orders(story, browse):  # noqa: F811
    from closeloop.analytics import measures
    from closeloop.analytics.selectors import scope_from
    from closeloop.workorders.models import WorkOrder

    page = browse(locale="en-US", width=1440, height=900)
    login(page, "manager")
    page.goto("/analytics/heatmap/" + PERIOD)
    expect(page.get_by_test_id("chart-heatmap")).to_have_attribute("data-ready", "1")
    first = page.get_by_test_id("heat-cell").first
    state, key = first.get_attribute("data-state"), int(first.get_attribute("data-key"))
    cells = measures.heatmap(scope_from(story["w"].manager, {"from": "2026-11-01", "to": "2026-11-07"}).scope)
    assert (cells[0]["state"], cells[0]["key"]) == (state, key)  # worst first
    scope = scope_from(story["w"].manager, {"from": "2026-11-01", "to": "2026-11-07"}).scope
    expected = set(WorkOrder.objects.filter(pk__in=measures.ids_for_cell(scope, state, key))
                   .values_list("code", flat=True))
    first.get_by_test_id("heat-cell-link").click()
    page.wait_for_url("**/work-orders/?drill=*")
    expect(page.get_by_test_id("analytics-drill")).to_be_visible()
    shown = {r.get_attribute("data-code") for r in page.get_by_test_id("wo-row").all()}
    assert shown == expected and expected
    # the TOP 5 on the same page lead to the same list for the same cell
    page.go_back()
    page.get_by_test_id("top5-item").first.click()
    page.wait_for_url("**/work-orders/?drill=*")
    assert {r.get_attribute("data-code") for r in page.get_by_test_id("wo-row").all()} == expected
    assert browse.watch.console_errors == [] and browse.watch.csp_violations() == []


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_the_pages_draw_at_both_widths(story, browse, screenshot_dir, locale):  # noqa: F811
    for width, height in ((1440, 900), (390, 844)):
        page = browse(locale=locale, width=width, height=height)
        login(page, "manager")
        for path, chart in (("/analytics/", "chart-intake"), ("/analytics/heatmap/", "chart-heatmap")):
            page.goto(path + PERIOD)
            expect(page.get_by_test_id(chart)).to_have_attribute("data-ready", "1")
            assert page.evaluate("document.scrollingElement.scrollWidth - innerWidth") <= 0, (path, width)
            slug = path.strip("/").replace("/", "-")
            page.screenshot(path=str(screenshot_dir / f"manager-{locale}-{width}-{slug}.png"), full_page=True)
    assert browse.watch.console_errors == [] and browse.watch.csp_violations() == []
    assert browse.watch.bad_responses == []
