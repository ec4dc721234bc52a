"""The analytics overview with approvals, handoffs, acknowledge chains and the region filter,
at 1440 and 390 px in both languages (screenshots in $CLOSELOOP_SCREENSHOT_DIR)."""

from datetime import timedelta

import pytest
import time_machine
from playwright.sync_api import expect

from closeloop.analytics.tests.test_more_measures import T0, build_more

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_the_new_analytics_cards_at_both_widths(world, browse, screenshot_dir, locale):
    build_more(world)
    with time_machine.travel(T0 + timedelta(days=3), tick=True):
        for width in (1440, 390):
            page = browse(locale=locale, width=width, height=900)
            page.goto("/login/")
            page.locator("#id_username").fill("manager")
            page.locator("#id_password").fill("pw-manager-123")
            page.get_by_test_id("login-submit").click()
            page.wait_for_url(lambda url: "/login/" not in url)
            page.goto("/analytics/?from=2026-11-01&to=2026-11-07")
            expect(page.get_by_test_id("approval-versions")).to_contain_text("v2")
            expect(page.get_by_test_id("ack-outcomes")).to_be_visible()
            page.screenshot(path=str(screenshot_dir / f"analytics-{locale}-{width}.png"), full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
            page.get_by_test_id("handoff-quality").get_by_role("link").first.click()
            expect(page.locator("body")).to_contain_text("WD")
            page.screenshot(path=str(screenshot_dir / f"analytics-drill-{locale}-{width}.png"))
            page.goto("/analytics/heatmap/?from=2026-11-01&to=2026-11-07&region=%E4%B8%8A%E6%B5%B7")
            page.screenshot(path=str(screenshot_dir / f"heatmap-region-{locale}-{width}.png"), full_page=True)
    assert not browse.watch.page_errors and not browse.watch.csp_violations()
