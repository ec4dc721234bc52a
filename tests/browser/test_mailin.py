"""Email in, in Chromium: an administrator sets up a mailbox (the form names each wrong field, a
failed login shows on the mailbox page), a dispatcher accepts a held mail, and the reply that
came by mail reads on the work order's timeline. Desktop and phone, both languages."""

import pytest
from playwright.sync_api import expect

from .test_journey import login
from .test_screens import _seed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
@pytest.mark.parametrize("width", [1440, 390])
def test_mailboxes_held_mail_and_the_timeline(world, browse, screenshot_dir, locale, width):
    ids = _seed(world)
    tag = f"{locale}-{width}"
    page = browse(locale=locale, width=width, height=900)
    login(page, "admin")
    page.goto("/settings/mailboxes/")
    page.get_by_test_id("add-mailbox").click()
    for f in ("name", "address", "type", "host", "username", "password"):
        expect(page.get_by_test_id(f"error-{f}")).to_be_visible()
    page.screenshot(path=screenshot_dir / f"mailin-mailboxes-{tag}.png", full_page=True)
    page.goto(f"/settings/mailboxes/{ids['mailbox']}")
    expect(page.get_by_test_id("last-error")).to_contain_text("AUTHENTICATIONFAILED")
    expect(page.get_by_test_id("recent-mail").locator("[data-outcome]")).to_have_count(2)
    page.screenshot(path=screenshot_dir / f"mailin-mailbox-{tag}.png", full_page=True)
    page.goto(f"/work-orders/{ids['code']}/")
    expect(page.get_by_test_id("email-body")).to_have_text("下午两点后科室有人。")
    page.get_by_test_id("email-body").scroll_into_view_if_needed()
    page.screenshot(path=screenshot_dir / f"mailin-timeline-{tag}.png")
    assert page.evaluate("document.scrollingElement.scrollWidth - innerWidth") <= 0

    disp = browse(locale=locale, width=width, height=900)
    login(disp, "dispatcher")
    disp.goto("/mail/held/")
    item = disp.get_by_test_id("held-item")
    expect(item).to_have_count(1)
    disp.screenshot(path=screenshot_dir / f"mailin-held-{tag}.png", full_page=True)
    assert disp.evaluate("document.scrollingElement.scrollWidth - innerWidth") <= 0
    item.locator("select[name=customer]").select_option("org-b")
    item.get_by_test_id("accept").click()
    expect(disp.get_by_test_id("held-empty")).to_be_visible()
    w = browse.watch
    errors = [e for e in w.console_errors if "422" not in e]  # the form's 422 is expected
    assert errors == [] and w.page_errors == [] and w.csp_violations() == [], w.console_errors
    assert [b for b in w.bad_responses if "/settings/mailboxes/" not in b] == []  # the form's 422 is expected
