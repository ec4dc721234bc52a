"""Importing a ledger in a real browser: a manager uploads an .xlsx with Chinese headers under
a title row, fixes a column the guess got wrong, sees the row problems, confirms, sees the
result and rolls it back; on a phone in Chinese the pages fit their width."""

import pytest
from playwright.sync_api import expect

from closeloop.customers.models import Asset
from closeloop.ledgers import services
from closeloop.ledgers.tests.helpers import xlsx

from .test_journey import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_imports_assets_and_rolls_them_back(world, browse, screenshot_dir):
    data = xlsx([["序列号", "名称", "规格", "批次", "安装日期", "客户名称"],
                 ["SN-900", "呼吸机", "V60", "B1", 45000, "甲医院"],
                 ["SN-901", "监护仪", "MX500", "B1", "2023/13/01", "甲医院"],
                 ["SN-902", "监护仪", "MX500", "B2", "2023-02-01", "无此医院"]],
                title_rows=[["2024 年设备台账"]], first_sheet="说明")
    page = browse(locale="en-US", width=1440, height=900)
    login(page, "manager")
    page.goto("/settings/imports/")
    page.locator("#ledger-kind").select_option("asset")
    page.locator("#ledger-file").set_input_files(files=[{
        "name": "设备台账.xlsx", "buffer": data,
        "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}])
    page.get_by_test_id("ledger-upload").get_by_role("button", name="Upload").click()
    mapping = page.get_by_test_id("ledger-mapping")
    expect(mapping).to_be_visible()
    expect(page.locator("#map-serial_number")).to_have_value("0")
    page.locator("#map-model").select_option(label="规格")  # not guessed: 规格 alone is not 型号
    page.screenshot(path=str(screenshot_dir / "ledgers-mapping-1440-en.png"), full_page=True)
    page.get_by_test_id("ledger-check").click()
    expect(page.get_by_test_id("ledger-status")).to_be_visible()
    services.run_until_idle()
    page.reload()
    errors = page.get_by_test_id("ledger-errors")
    expect(errors).to_contain_text("2023/13/01")
    expect(errors).to_contain_text("无此医院")
    expect(errors).to_contain_text("安装日期")
    expect(page.get_by_test_id("count-create")).to_have_text("1")
    expect(page.get_by_test_id("count-error")).to_have_text("2")
    page.screenshot(path=str(screenshot_dir / "ledgers-preview-1440-en.png"), full_page=True)
    assert not Asset.objects.filter(serial_number="SN-900").exists()

    page.get_by_test_id("ledger-confirm").click()
    services.run_until_idle()
    page.reload()
    expect(page.get_by_test_id("ledger-done")).to_be_visible()
    assert Asset.objects.get(serial_number="SN-900").model == "V60"

    phone = browse(locale="zh-CN", width=390, height=844)
    login(phone, "manager")
    phone.goto(page.url)
    expect(phone.get_by_role("button", name="回滚这次导入")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot(path=str(screenshot_dir / "ledgers-result-390-zh.png"), full_page=True)
    phone.goto("/settings/imports/")
    expect(phone.get_by_role("heading", name="导入台账")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390

    page.get_by_test_id("ledger-rollback").click()
    services.run_until_idle()
    page.reload()
    expect(page.get_by_test_id("ledger-rolled-back")).to_be_visible()
    assert not Asset.objects.filter(serial_number="SN-900").exists()

    eng = browse(locale="en-US", width=1440, height=900)
    login(eng, "eng_x")
    assert eng.goto("/settings/imports/").status == 404

    watch = browse.watch
    assert watch.csp_violations() == []
    assert watch.page_errors == []


def test_manager_imports_historical_work_orders_in_chinese(world, browse, screenshot_dir):
    from closeloop.workorders.models import WorkOrder

    data = xlsx([["原工单号", "工单类型", "标题", "客户", "序列号", "状态", "报修时间", "完成时间", "工程师", "处理结果"],
                 ["GD-001", "维修", "呼吸机报警", "甲医院", "SN-A-1", "已完成", "2023-05-01 09:30", "2023-05-02 16:00",
                  "eng_x", "更换传感器"],
                 ["GD-002", "维修", "还在修", "甲医院", "", "处理中", "2023-06-01", "", "", ""]],
                title_rows=[["历史工单台账"]])
    for width in (1440, 390):
        page = browse(locale="zh-CN", width=width, height=900)
        login(page, "manager")
        page.goto("/settings/imports/")
        page.locator("#ledger-kind").select_option("work_order")
        page.locator("#ledger-file").set_input_files(files=[{
            "name": "历史工单.xlsx", "buffer": data,
            "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}])
        page.get_by_test_id("ledger-upload").get_by_role("button", name="上传").click()
        expect(page.get_by_test_id("ledger-mapping")).to_be_visible()
        expect(page.locator("#map-old_number")).to_have_value("0")
        expect(page.locator("#map-reported_at")).to_have_value("6")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(screenshot_dir / f"ledgers-history-mapping-{width}-zh.png"), full_page=True)
        page.get_by_test_id("ledger-check").click()
        expect(page.get_by_test_id("ledger-status")).to_be_visible()
        services.run_until_idle()
        page.reload()
        expect(page.get_by_test_id("ledger-errors")).to_contain_text("处理中")
        # The second time (on the phone) GD-001 is already imported: left unchanged, not doubled.
        expect(page.get_by_test_id("count-create")).to_have_text("1" if width == 1440 else "0")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(screenshot_dir / f"ledgers-history-preview-{width}-zh.png"), full_page=True)
        if width == 1440:
            preview = page.get_by_test_id("ledger-preview")
            expect(preview).to_contain_text("工程师（工号或姓名） eng_x")  # labels and the cells, not ids
            expect(preview).not_to_contain_text("wo_type_id")
            page.get_by_test_id("ledger-confirm").click()
            services.run_until_idle()
            page.reload()
            expect(page.get_by_test_id("ledger-done")).to_be_visible()
    wo = WorkOrder.objects.get(external_refs__external_id="GD-001")
    page = browse(locale="zh-CN", width=1440, height=900)
    login(page, "dispatcher")
    page.goto("/work-orders/?q=GD-001&status=closed")
    expect(page.get_by_text(wo.code)).to_be_visible()
    page.goto(f"/work-orders/{wo.code}/")
    expect(page.get_by_text("呼吸机报警").first).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "ledgers-history-work-order-1440-zh.png"), full_page=True)
    assert browse.watch.csp_violations() == [] and browse.watch.page_errors == []
