"""Events in a real browser: an administrator adds a subscription (the secret shown once), rotates
its secret, connects a CRM (its token shown once), and a message from the CRM shows on the work
order's timeline; on a phone in Chinese and English the pages fit their width."""

import pytest
from playwright.sync_api import expect

from closeloop.core.clock import now
from closeloop.events import inbound
from closeloop.events.models import ConnectedSystem

from .test_journey import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_manages_subscriptions_and_connected_systems(world, browse, screenshot_dir):
    page = browse(locale="en-US", width=1440, height=900)
    login(page, "admin")
    page.goto("/settings/events/")
    form = page.get_by_test_id("subscription-form")
    form.locator("#name").fill("ERP sync")
    form.locator("#url").fill("https://erp.example.com/hooks/closeloop")
    form.locator("input[value='work_order.created']").check()
    form.locator("input[value='work_order.assigned']").check()
    form.locator("#condition").fill('data.work_order.priority == "urgent"')
    page.get_by_test_id("add-subscription").click()
    expect(page.get_by_test_id("new-secret")).to_contain_text("whsec_")
    expect(page.get_by_test_id("subscription-row")).to_have_count(1)
    page.screenshot(path=str(screenshot_dir / "events-1440-en.png"), full_page=True)

    page.get_by_test_id("subscription-row").get_by_role("link").click()
    page.get_by_test_id("rotate").click()
    expect(page.get_by_test_id("new-secret")).to_contain_text("whsec_")
    page.screenshot(path=str(screenshot_dir / "events-detail-1440-en.png"), full_page=True)

    page.goto("/settings/systems/")
    sform = page.get_by_test_id("system-form")
    sform.locator("#key").fill("crm")
    sform.locator("#sname").fill("Salesforce")
    sform.locator("input[value='crm']").check()
    sform.locator("#default_type").select_option("repair")
    page.get_by_test_id("add-system").click()
    expect(page.get_by_test_id("new-token")).to_contain_text("cls_")
    page.screenshot(path=str(screenshot_dir / "systems-1440-en.png"), full_page=True)

    system = ConnectedSystem.objects.get(key="crm")
    wo, _outcome = inbound.HANDLERS["request.upsert"](system, {"external_id": "OPP-42", "title": "服务器电源故障"},
                                                      now())
    page.goto(f"/work-orders/{wo.code}/")
    expect(page.get_by_test_id("integration-event")).to_contain_text("OPP-42")
    page.goto(f"/settings/systems/{system.pk}/")
    expect(page.get_by_test_id("inbound-messages")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "system-detail-1440-en.png"), full_page=True)

    for locale, lang in (("zh-CN", "zh"), ("en-US", "en")):
        phone = browse(locale=locale, width=390, height=844)
        login(phone, "admin")
        for path, name in (("/settings/events/", "events"), ("/settings/systems/", "systems"),
                           (f"/settings/systems/{system.pk}/", "system-detail"),
                           (f"/work-orders/{wo.code}/", "wo")):
            phone.goto(path)
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390, path
            phone.screenshot(path=str(screenshot_dir / f"{name}-390-{lang}.png"), full_page=True)
    zh = browse(locale="zh-CN", width=1440, height=900)
    login(zh, "admin")
    zh.goto("/settings/events/")
    expect(zh.get_by_role("heading", name="事件订阅")).to_be_visible()
    zh.screenshot(path=str(screenshot_dir / "events-1440-zh.png"), full_page=True)
