"""The phone pages at 390×844 in Chinese and English (issue 15): every tap target at least
44 px, tap-to-call for the contact (a tel: link), navigation to the site (a geo: URI), a
visible offline state, and a way to log out."""

import pytest
from playwright.sync_api import Page, expect

from closeloop.fieldwork.tests.helpers import gate_policy
from closeloop.workorders import services
from closeloop.workorders.lifecycle import S
from closeloop.workorders.models import WorkOrder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}
MIN = 44
TEXT = {
    "zh-CN": {"call": "致电 王护士", "navigate": "导航到现场", "offline": "已离线", "logout": "退出登录"},
    "en": {"call": "Call 王护士", "navigate": "Navigate to the site", "offline": "Offline", "logout": "Log out"},
}


@pytest.fixture(autouse=True)
def _patient_expect():
    expect.set_options(timeout=15_000)
    yield
    expect.set_options(timeout=5_000)


def _login(browse, locale) -> Page:
    page = browse(locale=locale, **PHONE)
    page.goto("/login/?next=/m/")
    page.locator("#id_username").fill("eng_x")
    page.locator("#id_password").fill("pw-eng_x-123")
    page.get_by_test_id("login-submit").click()
    page.wait_for_url("**/m/")
    expect(page.locator("body[data-ready='1']")).to_have_count(1)
    return page


def _small_targets(page: Page) -> list[str]:
    """Visible buttons, links styled as buttons, inputs and selects smaller than 44 px."""
    return page.evaluate("""(min) => {
      const out = [];
      const sel = "button, a.btn, a.list-group-item, a.navbar-brand, input:not([type=checkbox]):not([type=hidden]),"
                + " select, textarea, label.form-check";
      for (const el of document.querySelectorAll(sel)) {
        const r = el.getBoundingClientRect();
        if (!r.width || !r.height || getComputedStyle(el).visibility === "hidden") continue;
        if (r.height < min || r.width < min)
          out.push(`${el.tagName} ${el.dataset.testid || el.textContent.trim().slice(0, 20)} ${r.width}x${r.height}`);
      }
      return out;
    }""", MIN)


def _box_ok(page: Page, testid: str):
    box = page.get_by_test_id(testid).first.bounding_box()
    assert box and box["height"] >= MIN and box["width"] >= MIN, (testid, box)


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_phone_pages_reach_the_contact_the_site_and_show_offline(world, browse, screenshot_dir, locale):
    gate_policy(world.repair)
    wo = services.do_create_work_order(actor=world.dispatcher, data={
        "type": "repair", "title": "注塑机模温异常", "site": "site-a", "asset": "SN-A-1", "contact": world.contact_a.pk,
        "priority": "urgent", "assignee": "eng_x"})
    text = TEXT[locale]
    page = _login(browse, locale)
    tag = "zh" if locale == "zh-CN" else "en"

    # Today: the list and the way out, all large enough to tap.
    expect(page.get_by_test_id("today-item")).to_have_count(1)
    expect(page.get_by_test_id("logout")).to_contain_text(text["logout"])
    for testid in ("today-item", "logout"):
        _box_ok(page, testid)
    assert _small_targets(page) == []
    page.screenshot(path=str(screenshot_dir / f"m-home-{tag}.png"))

    # The work order: call the contact, navigate to the site, act; every target ≥ 44 px.
    page.get_by_test_id("today-item").click()
    page.wait_for_url(f"**/m/wo/{wo.code}/")
    expect(page.locator("body[data-ready='1']")).to_have_count(1)
    call = page.get_by_test_id("call")
    expect(call).to_have_attribute("href", "tel:13800000001")
    expect(call).to_contain_text(text["call"])
    nav = page.get_by_test_id("navigate")
    expect(nav).to_have_attribute("href", "geo:31.200000,121.400000?q=31.200000,121.400000(%E7%94%B2%E5%8C%BB%E9%99%A2%E6%9C%AC%E9%83%A8)")
    expect(nav).to_contain_text(text["navigate"])
    for testid in ("call", "navigate", "accept", "step-pass", "step-fail"):
        _box_ok(page, testid)
    assert _small_targets(page) == []
    page.screenshot(path=str(screenshot_dir / f"m-wo-{tag}.png"), full_page=True)

    # At work: the forms (photos, parts, note, closure form) are large enough too.
    WorkOrder.objects.filter(pk=wo.pk).update(status=S.IN_PROGRESS)
    page.reload()
    expect(page.get_by_test_id("photos")).to_be_visible()
    for testid in ("photo-submit", "part-submit", "note-submit", "form-submit", "complete-submit"):
        _box_ok(page, testid)
    assert _small_targets(page) == []
    page.screenshot(path=str(screenshot_dir / f"m-wo-working-{tag}.png"), full_page=True)

    # Offline: a banner says so, and goes when the network returns.
    banner = page.get_by_test_id("offline-banner")
    expect(banner).to_be_hidden()
    page.context.set_offline(True)
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(text["offline"])
    page.screenshot(path=str(screenshot_dir / f"m-offline-{tag}.png"))
    page.context.set_offline(False)
    expect(banner).to_be_hidden()

    # Log out from Today: back at the login page, and /m/ asks to log in again.
    page.goto("/m/")
    page.get_by_test_id("logout").click()
    page.wait_for_url("**/login/**")
    page.goto("/m/")
    page.wait_for_url("**/login/**")
    assert browse.watch.console_errors == [] and browse.watch.page_errors == []
