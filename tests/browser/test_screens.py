"""What people see, in Chromium: pages drawn the way they are meant to be."""

import pytest
from playwright.sync_api import expect

from .test_journey import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_shortcuts_dialog_is_closed_until_asked_for(world, browse):
    page = browse(locale="zh-CN", width=1440, height=900)
    login(page, "dispatcher")
    for path in ("/work-orders/", "/board/", "/dashboard/"):
        page.goto(path)
        dialog = page.get_by_test_id("shortcuts-dialog")
        expect(dialog).to_be_hidden()
        page.locator("body").press("?")
        expect(dialog).to_be_visible()
        button = dialog.get_by_role("button")
        expect(button).to_have_text("关闭")
        button.click()
        expect(dialog).to_be_hidden()
    assert browse.watch.console_errors == [] and browse.watch.csp_violations() == []
