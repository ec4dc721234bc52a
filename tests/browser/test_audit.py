"""The audit log in a real browser: an administrator creates a token in the console, then
reads what changed (and who changed it) under Settings → Audit log, filters it, and sees
a changed channel password only as "hidden, changed"; in Chinese on a phone the page fits
its width. A manager has no such entry and no such page."""

import pytest
from playwright.sync_api import expect

from closeloop.accounts import services as accounts
from closeloop.notify import services as notify

from .test_journey import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_reads_the_audit_log(world, browse, screenshot_dir):
    ch = notify.do_create_channel(actor=world.manager, data={
        "kind": "email", "name": "邮件", "config": {"host": "smtp.example.com", "password": "hunter2-secret",
                                                   "from_email": "wo@example.com"}})
    notify.do_update_channel(actor=world.admin, channel=ch, data={"config": {**ch.config, "password": "n3w-secret"}})
    accounts.do_edit_team(actor=world.admin, team=world.team_y, data={"region": "华南大区"})

    page = browse(locale="en-US", width=1440, height=900)
    login(page, "admin")
    page.goto("/settings/tokens/")
    page.locator("#token-name").fill("CRM sync")
    page.get_by_test_id("token-form").locator("button[type=submit]").click()
    expect(page.get_by_test_id("new-token")).to_be_visible()

    page.get_by_test_id("nav-settings").get_by_role("button").click()
    page.get_by_test_id("nav-audit").click()
    expect(page).to_have_url("/settings/audit/")
    records = page.get_by_test_id("audit-record")
    expect(records.first).to_contain_text("API token")
    expect(records.first).to_contain_text("CRM sync")
    expect(records.first.get_by_test_id("audit-actor")).to_contain_text("admin")
    expect(records).to_have_count(4)
    page.screenshot(path=str(screenshot_dir / "audit-1440-en.png"), full_page=True)

    page.locator("#audit-kind").select_option("channel")
    page.get_by_test_id("audit-filters").locator("button[type=submit]").click()
    expect(records).to_have_count(2)
    updated = page.locator('[data-testid="audit-record"]', has=page.get_by_test_id("audit-action").filter(
        has_text="updated"))
    expect(updated.get_by_test_id("audit-diff")).to_contain_text("config.password")
    expect(updated.get_by_test_id("audit-diff")).to_contain_text("hidden, changed")
    html = page.content()
    assert "hunter2" not in html and "n3w-secret" not in html

    page.locator("#audit-kind").select_option("")
    page.locator("#audit-actor").fill("manager")
    page.get_by_test_id("audit-filters").locator("button[type=submit]").click()
    expect(records).to_have_count(1)
    expect(records.first).to_contain_text("邮件")

    phone = browse(locale="zh-CN", width=390, height=844)
    login(phone, "admin")
    phone.goto("/settings/audit/?kind=team")
    expect(phone.get_by_role("heading", name="审计日志")).to_be_visible()
    expect(phone.get_by_test_id("audit-record")).to_have_count(1)
    expect(phone.get_by_test_id("audit-diff")).to_contain_text("华南大区")
    expect(phone.get_by_test_id("audit-diff")).to_contain_text("region")
    expect(phone.get_by_test_id("audit-action")).to_have_text("修改")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    phone.screenshot(path=str(screenshot_dir / "audit-390-zh.png"), full_page=True)

    phone_en = browse(locale="en-US", width=390, height=844)
    login(phone_en, "admin")
    phone_en.goto("/settings/audit/?actor=manager")
    expect(phone_en.get_by_test_id("audit-record")).to_have_count(1)
    assert phone_en.evaluate("document.documentElement.scrollWidth") <= 390
    phone_en.screenshot(path=str(screenshot_dir / "audit-390-en.png"), full_page=True)
    expect(phone_en.get_by_test_id("audit-diff")).to_contain_text("Configuration")

    page.get_by_test_id("language-switch").get_by_role("button", name="中文").click()
    page.goto("/settings/audit/")
    expect(page.get_by_role("heading", name="审计日志")).to_be_visible()
    expect(page.get_by_test_id("audit-record").first).to_contain_text("API 令牌")
    page.screenshot(path=str(screenshot_dir / "audit-1440-zh.png"), full_page=True)

    desk = browse(locale="en-US", width=1440, height=900)
    login(desk, "manager")
    desk.get_by_test_id("nav-settings").get_by_role("button").click()
    expect(desk.get_by_test_id("nav-audit")).to_have_count(0)
    assert desk.goto("/settings/audit/").status == 403  # the page says only administrators may open it

    watch = browse.watch
    assert watch.csp_violations() == []
    assert watch.page_errors == []
    assert [r for r in watch.bad_responses if "/settings/audit/" not in r] == []  # the manager's 403
