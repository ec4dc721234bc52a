"""Maintenance plans in a real browser: a dispatcher creates a monthly plan for a model in the
form, sees its forecast, lets the worker generate the work orders and sees them in the plan's
history and on the asset page; every page fits a phone in Chinese and English."""

from datetime import date

import pytest
from playwright.sync_api import expect

from closeloop.customers.models import Asset
from closeloop.maintenance import engine
from closeloop.maintenance.models import Plan
from closeloop.workorders.models import WorkOrderType

from .test_journey import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_dispatcher_plans_maintenance_and_sees_forecast_and_history(world, browse, screenshot_dir):
    WorkOrderType.objects.create(key="pm", name="预防性维护", prefix="PM", kind="preventive")
    for i in range(2):
        Asset.objects.create(customer=world.org_a, site=world.site_a, name=f"{i + 1}号客梯", model="GeN2-MR",
                             batch="2019-OT-07", serial_number=f"ELV-{i + 1}", install_date=date(2019, 7, 1))
    page = browse(locale="zh-CN", width=1440, height=900)
    login(page, "dispatcher")
    page.goto("/maintenance/")
    expect(page.get_by_test_id("no-plans")).to_be_visible()
    page.get_by_test_id("new-plan").click()
    form = page.get_by_test_id("plan-form")
    form.locator("#id_name").fill("电梯月度保养")
    form.locator("#id_scope").select_option("model")
    form.locator("#id_model").fill("GeN2-MR")
    form.locator("#id_every").fill("1")
    form.locator("#id_unit").select_option("month")
    form.locator("#id_lead_days").fill("40")
    form.locator("#id_type").select_option("pm")
    form.locator("#id_checklist").fill("检查门机与门锁\n润滑导轨")
    page.get_by_test_id("save-plan").click()
    expect(page.locator(".page-title")).to_contain_text("电梯月度保养")
    expect(page.get_by_test_id("forecast-row")).to_have_count(10)  # the next 10 (2 due now: 40 days of lead time)
    page.screenshot(path=str(screenshot_dir / "maintenance-plan-1440-zh.png"), full_page=True)

    plan = Plan.objects.get()
    while engine.run_due_plans("browser"):
        pass
    page.reload()
    expect(page.get_by_test_id("history-row")).to_have_count(2)
    expect(page.get_by_test_id("history-row").first).to_contain_text("PM")
    page.screenshot(path=str(screenshot_dir / "maintenance-history-1440-zh.png"), full_page=True)

    asset = Asset.objects.get(serial_number="ELV-1")
    admin = browse(locale="en-US", width=1440, height=900)
    login(admin, "admin")
    admin.goto(f"/settings/assets/{asset.pk}/")
    expect(admin.get_by_test_id("asset-maintenance")).to_contain_text("电梯月度保养")
    admin.screenshot(path=str(screenshot_dir / "maintenance-asset-1440-en.png"), full_page=True)
    admin.goto("/maintenance/")
    admin.screenshot(path=str(screenshot_dir / "maintenance-list-1440-en.png"), full_page=True)

    for locale, lang in (("zh-CN", "zh"), ("en-US", "en")):
        phone = browse(locale=locale, width=390, height=844)
        login(phone, "dispatcher")
        for path, name in (("/maintenance/", "list"), (f"/maintenance/{plan.pk}/", "plan"),
                           (f"/maintenance/{plan.pk}/edit", "edit"), ("/maintenance/new", "new")):
            phone.goto(path)
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390, (lang, path)
            phone.screenshot(path=str(screenshot_dir / f"maintenance-{name}-390-{lang}.png"), full_page=True)
    assert browse.watch.console_errors == [] and browse.watch.csp_violations() == []
