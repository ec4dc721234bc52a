"""Issue 15's dead ends in a real browser: the QR report form asks for the type's required
custom fields and shows the error where the visitor is (phone, Chinese; desktop, English);
an administrator closes a stuck invoiced work order with a recorded reason."""

import pytest
from playwright.sync_api import expect

from closeloop.fieldwork.models import ClosurePolicy
from closeloop.portal import services as portal
from closeloop.workorders.lifecycle import S
from closeloop.workorders.models import CustomField, WorkOrder
from closeloop.workorders.tests.factories import make_wo

from .test_journey import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_report_form_asks_for_required_fields_and_shows_errors(world, browse, screenshot_dir):
    CustomField.objects.create(wo_type=world.repair, key="department", label="科室", kind="choice",
                               choices=["ICU", "急诊"], required=True)
    CustomField.objects.create(wo_type=world.repair, key="bed", label="床号", kind="text", required=True)
    for locale, width, name in (("zh-CN", 390, "zh-390"), ("en-US", 1440, "en-1440")):
        page = browse(locale=locale, width=width, height=844)
        page.goto(portal.qr_path(world.asset_a).rstrip("/") + "/report")
        page.locator("#r-what").fill("呼吸机开机报警 E-21")
        page.locator("#r-phone").fill("139 0000 1111")
        page.locator("#r-custom-department").select_option("ICU")
        page.get_by_test_id("report-submit").click()
        expect(page.get_by_test_id("error-custom-bed")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(screenshot_dir / f"report-required-{name}.png"), full_page=True)
    page.locator("#r-custom-bed").fill("12")
    page.get_by_test_id("report-submit").click()
    page.wait_for_url("**/portal/t/**")
    assert WorkOrder.objects.get(custom__bed="12").custom["department"] == "ICU"


def test_admin_closes_a_stuck_work_order_with_a_reason(world, browse, screenshot_dir):
    ClosurePolicy.objects.create(wo_type=world.repair, form_fields=[{"key": "t", "label": "模温", "kind": "number"}])
    wo = make_wo(world, status=S.INVOICED, resolution="修好了", invoice_number="FP-1")
    page = browse(width=1440)
    login(page, "admin")
    page.goto(f"/work-orders/{wo.code}/")
    page.get_by_test_id("more-actions").locator("summary").click()
    form = page.get_by_test_id("action-override_close")
    form.locator("[name=reason]").fill("表单纸质存档")
    page.screenshot(path=str(screenshot_dir / "override-close-open-1440.png"), full_page=True)
    form.get_by_test_id("do-override_close").click()
    page.wait_for_load_state()
    wo.refresh_from_db()
    assert wo.status == S.CLOSED
