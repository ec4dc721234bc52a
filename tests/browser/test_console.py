"""Smaller console paths in a real browser: login errors, form errors, API tokens, English."""

import pytest
from playwright.sync_api import expect

from closeloop.accounts.models import ApiToken

from .test_journey import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_errors_form_errors_and_tokens(world, browse, screenshot_dir):
    page = browse(locale="en-US")
    page.goto("/login/")
    page.locator("#id_username").fill("dispatcher")
    page.locator("#id_password").fill("not-the-password")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-errors")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "login-1280.png"))

    login(page, "dispatcher")
    expect(page.get_by_role("heading", name="Work orders")).to_be_visible()  # English from the browser

    # The create form names each field's problem next to it.
    page.get_by_test_id("nav-create").click()
    page.locator("#id_type").select_option("production")
    expect(page.locator("[name=custom__temperature]")).to_be_visible()
    page.locator("#id_title").fill("注塑机 3 号 模温报警")
    page.locator("[name=custom__temperature]").fill("999")
    page.get_by_test_id("create-submit").click()
    expect(page.get_by_test_id("error-custom__temperature")).to_contain_text("at most")
    expect(page.locator("#id_title")).to_have_value("注塑机 3 号 模温报警")  # nothing typed is lost
    page.screenshot(path=str(screenshot_dir / "create-errors-1280.png"), full_page=True)

    # API tokens: shown once, copyable, revocable; reached from the top bar's Settings menu.
    expect(page.get_by_test_id("nav-tokens")).to_be_hidden()
    page.get_by_test_id("nav-settings").get_by_role("button").click()
    page.get_by_test_id("nav-tokens").click()
    expect(page).to_have_url("/settings/tokens/")
    page.locator("#token-name").fill("CRM sync")
    page.get_by_test_id("token-form").locator("button[type=submit]").click()
    token = page.get_by_test_id("new-token-value").input_value()
    assert token.startswith("cl_")
    page.screenshot(path=str(screenshot_dir / "tokens-1280.png"), full_page=True)
    page.goto("/settings/tokens/")
    expect(page.get_by_test_id("new-token")).to_have_count(0)
    expect(page.get_by_test_id("token-row")).to_have_count(1)
    page.once("dialog", lambda d: d.accept())
    page.get_by_test_id("revoke").click()
    expect(page.get_by_test_id("token-row").locator(".badge", has_text="Revoked")).to_be_visible()
    assert ApiToken.objects.get(name="CRM sync").revoked_at is not None

    # Chinese on request, from the navbar.
    page.get_by_test_id("language-switch").get_by_role("button", name="中文").click()
    expect(page.get_by_role("heading", name="API 令牌")).to_be_visible()

    watch = browse.watch
    assert watch.csp_violations() == []
    assert watch.page_errors == []
    assert watch.console_errors == []
    assert watch.bad_responses == []
