"""Templates in a real browser: a manager previews the 服务工单 template, installs it in one
step, and a dispatcher's new work order form offers the new type with its fields."""

import pytest
from playwright.sync_api import expect

from closeloop.workorders.models import WorkOrderType

from .test_journey import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_installs_the_service_template_and_a_dispatcher_uses_it(world, browse, screenshot_dir):
    for locale, lang, width in (("en-US", "en", 1440), ("zh-CN", "zh", 390)):
        page = browse(locale=locale, width=width, height=900)
        login(page, "manager")
        page.goto("/settings/templates/")
        expect(page.get_by_test_id("template-repair")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(screenshot_dir / f"gallery-{width}-{lang}.png"), full_page=True)
        page.get_by_test_id("template-service").get_by_role("link").click()
        expect(page.get_by_test_id("plan-type-service")).to_have_attribute("data-action", "create")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(screenshot_dir / f"gallery-service-{width}-{lang}.png"), full_page=True)
    page.get_by_test_id("template-install").click()
    expect(page.get_by_test_id("template-service")).to_contain_text("已安装")
    assert WorkOrderType.objects.get(key="service").fields.count() == 2

    page = browse(locale="zh-CN", width=1440, height=900)
    login(page, "dispatcher")
    page.goto("/work-orders/new")
    page.locator("select[name=type]").select_option("service")
    expect(page.get_by_text("服务内容").first).to_be_visible()
    assert browse.watch.csp_violations() == [] and browse.watch.page_errors == []


def test_the_repair_template_brings_its_rule_flow_handoff_and_queue(world, browse, screenshot_dir):
    from closeloop.console.models import Queue

    for locale, lang, width in (("en-US", "en", 1440), ("zh-CN", "zh", 390)):
        page = browse(locale=locale, width=width, height=900)
        login(page, "manager")
        page.goto("/settings/templates/repair/")
        for testid in ("plan-rule-维修：紧急工单自动派单", "plan-approval_flow-repair:purchase_part",
                       "plan-handoff-repair:invoice", "plan-queue-待开票的维修工单"):
            expect(page.get_by_test_id(testid)).to_have_attribute("data-action", "create")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(screenshot_dir / f"gallery-repair-{width}-{lang}.png"), full_page=True)
    page.get_by_test_id("template-install").click()
    expect(page.get_by_test_id("template-repair")).to_contain_text("已安装")
    assert Queue.objects.filter(name="待开票的维修工单", owner__isnull=True).exists()
    page = browse(locale="zh-CN", width=1440, height=900)
    login(page, "dispatcher")
    page.goto("/work-orders/")
    expect(page.get_by_text("待开票的维修工单").first).to_be_visible()
    assert browse.watch.csp_violations() == [] and browse.watch.page_errors == []
