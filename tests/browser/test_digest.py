"""The weekly digest in Chromium: a manager reads it in the inbox (line breaks, the link to that
week's analytics) and turns it off on the preferences page, at desktop and phone width, in both
languages; no CSP violations, nothing wider than the screen."""

from datetime import datetime

import pytest
import time_machine
from playwright.sync_api import expect

from closeloop.analytics import digest
from closeloop.analytics.tests.test_measures import TZ, story  # noqa: F401 - the scripted work orders
from closeloop.notify.models import UserSettings
from closeloop.notify.services import fan_out_batch

from .test_journey import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_manager_reads_the_digest_and_turns_it_off(story, browse, screenshot_dir, settings, live_server,  # noqa: F811
                                                   locale):
    settings.SITE_URL = live_server.url
    from closeloop.accounts.models import User

    User.objects.update(date_joined=datetime(2026, 10, 1, tzinfo=TZ))  # before the week (made today)
    with time_machine.travel(datetime(2026, 11, 9, 8, 30, tzinfo=TZ), tick=False):
        digest.step("test")
        while fan_out_batch("test"):
            pass
    zh = locale.startswith("zh")
    for width, height in ((1440, 900), (390, 844)):
        page = browse(locale=locale, width=width, height=height)
        login(page, "manager")
        page.goto("/notifications/")
        item = page.locator('[data-testid="inbox-item"][data-event="analytics.digest"]')
        expect(item).to_contain_text("每周摘要 2026-W45" if zh else "Weekly digest 2026-W45")
        expect(item).to_contain_text("新建工单：3（0）" if zh else "Work orders created: 3 (0)")
        assert page.evaluate("document.scrollingElement.scrollWidth - innerWidth") <= 0, ("inbox", width)
        page.screenshot(path=str(screenshot_dir / f"digest-inbox-{locale}-{width}.png"), full_page=True)
        if width == 1440:  # the link opens that week's analytics
            with page.expect_navigation():
                item.get_by_test_id("inbox-link").click()
            assert "/analytics/?from=2026-11-02&to=2026-11-08" in page.url
            expect(page.get_by_test_id("chart-intake")).to_have_attribute("data-ready", "1")
        page.goto("/notifications/preferences")
        toggle = page.get_by_test_id("digest-toggle")
        expect(toggle).to_be_checked()
        assert page.evaluate("document.scrollingElement.scrollWidth - innerWidth") <= 0, ("preferences", width)
        page.screenshot(path=str(screenshot_dir / f"digest-preferences-{locale}-{width}.png"), full_page=True)
        if width == 390:
            toggle.click()
            page.get_by_test_id("save-preferences").click()
            expect(page.get_by_test_id("digest-toggle")).not_to_be_checked()
            assert UserSettings.objects.get(user__username="manager").digest is False
            page.get_by_test_id("digest-toggle").click()
            page.get_by_test_id("save-preferences").click()
            expect(page.get_by_test_id("digest-toggle")).to_be_checked()
    assert UserSettings.objects.get(user__username="manager").digest is True
    assert browse.watch.console_errors == [] and browse.watch.csp_violations() == []
    assert browse.watch.bad_responses == []
