"""Issue 14's whole promise in one browser run, from an empty database and without a line of code:
the first visitor creates the administrator; customers, sites, assets and people come in from
messy .xlsx ledgers with Chinese headers; the 维修 template is installed from the gallery; a field
is added in the form designer; a dispatcher creates a work order by typing two characters of the
hospital's name; the engineer sees the new field on the phone."""

import io
from datetime import date

import pytest
from openpyxl import Workbook
from playwright.sync_api import Page, expect

from closeloop.accounts.models import User
from closeloop.administration import middleware
from closeloop.customers.models import Asset, Customer
from closeloop.ledgers import services as ledgers
from closeloop.workorders.models import WorkOrder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-Password-2026"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def first_run_on(settings):
    settings.CLOSELOOP_FIRST_RUN_REDIRECT = True
    middleware.reset()
    yield
    middleware.reset()


def ledger(title: str, header: list, rows: list) -> bytes:
    """A ledger as offices keep them: a notes sheet first, a merged title row, a blank row,
    then the table, and blank rows at the end."""
    wb = Workbook()
    notes = wb.active
    notes.title = "填表说明"
    notes.append(["请勿修改表头"])
    ws = wb.create_sheet("台账")
    ws.append([title])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    ws.append([])
    ws.append(header)
    for r in rows:
        ws.append(r)
    ws.append([None] * len(header))
    ws.append([None] * len(header))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def import_ledger(page: Page, kind: str, name: str, data: bytes, creates: int) -> None:
    page.goto("/settings/imports/")
    page.locator("#ledger-kind").select_option(kind)
    page.locator("#ledger-file").set_input_files(files=[{"name": name, "buffer": data, "mimeType": XLSX}])
    page.get_by_test_id("ledger-upload").get_by_role("button", name="上传").click()
    expect(page.get_by_test_id("ledger-mapping")).to_be_visible()
    page.get_by_test_id("ledger-check").click()
    expect(page.get_by_test_id("ledger-status")).to_be_visible()
    ledgers.run_until_idle()  # the worker
    page.reload()
    expect(page.get_by_test_id("count-create")).to_have_text(str(creates))
    expect(page.get_by_test_id("count-error")).to_have_text("0")
    page.get_by_test_id("ledger-confirm").click()
    ledgers.run_until_idle()
    page.reload()
    expect(page.get_by_test_id("ledger-done")).to_be_visible()


def pick(page: Page, name: str, typed: str, label: str) -> None:
    box = page.locator(f"#id_{name}")
    box.click()
    box.press_sequentially(typed)
    option = page.get_by_role("option", name=label)
    expect(option).to_be_visible()
    option.click()


def login(page: Page, username: str) -> None:
    page.goto("/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(lambda url: "/login/" not in url)  # each role lands where it works


def test_a_company_is_set_up_from_its_excel_ledgers_without_code(first_run_on, browse, screenshot_dir):
    page = browse(locale="zh-CN", width=1440, height=900)
    page.goto("/")
    expect(page).to_have_url("/setup/")
    form = page.get_by_test_id("first-run-form")
    form.locator("#id_name").fill("华东医疗设备服务有限公司")
    form.locator("#id_language").select_option("zh-hans")
    form.locator("#id_username").fill("boss")
    form.locator("#id_password").fill(PASSWORD)
    form.locator("#id_password2").fill(PASSWORD)
    page.get_by_test_id("first-run-submit").click()
    expect(page).to_have_url("/settings/setup/")

    import_ledger(page, "customer", "客户台账.xlsx", ledger("2026 年客户台账", ["客户编码", "客户名称", "等级", "省份"], [
        ["zs-hosp", "复旦大学附属中山医院  ", "金牌", "上海"],          # trailing spaces
        ["ＲＪ－ＨＯＳＰ", "上海交通大学医学院附属瑞金医院", "标准", "上海"],  # full-width code
    ]), creates=2)
    import_ledger(page, "site", "站点台账.xlsx", ledger("站点", ["站点编码", "站点名称", "客户", "纬度", "经度"], [
        ["zs-main", "中山医院本部", "复旦大学附属中山医院", "31.19", "121.45"],  # the customer by name
        ["rj-main", "瑞金医院本部", "RJ-HOSP", 31.21, 121.47],              # numbers stored as numbers
    ]), creates=2)
    import_ledger(page, "asset", "设备台账.xlsx", ledger("设备台账", ["序列号", "设备名称", "型号", "批次", "安装日期",
                                                                   "客户编码", "站点"], [
        ["V60-2025-0001", "呼吸机", "V60", "2025-B3", 45809, "zs-hosp", "zs-main"],    # an Excel serial date
        ["MX500-0007 ", "监护仪", "ＭＸ５００", "2024-A1", date(2024, 3, 15), "RJ-HOSP", "rj-main"],
    ]), creates=2)
    import_ledger(page, "person", "人员台账.xlsx", ledger("人员", ["工号", "姓名", "角色", "手机"], [
        ["zhang", "张工", "工程师", "137 0000 0001"],
        ["disp", "调度小李", "调度员", "+86 137-0000-0002"],
    ]), creates=2)
    assert Customer.objects.get(code="RJ-HOSP").name == "上海交通大学医学院附属瑞金医院"
    assert Asset.objects.get(serial_number="V60-2025-0001").install_date == date(2025, 6, 1)
    assert Asset.objects.get(serial_number="MX500-0007").model == "MX500"
    page.screenshot(path=str(screenshot_dir / "first-company-imported-1440-zh.png"), full_page=True)

    # Imported people sign in once an administrator sets their password.
    for username in ("zhang", "disp"):
        page.goto(f"/settings/users/{username}/")
        page.locator("#id_password").fill(PASSWORD)
        page.get_by_test_id("save").click()
        expect(page).to_have_url("/settings/users/")

    # The 维修 template, from the gallery.
    page.goto("/settings/templates/")
    page.get_by_test_id("template-repair").get_by_role("link").click()
    page.get_by_test_id("template-install").click()
    expect(page.get_by_test_id("template-repair")).to_contain_text("已安装")

    # A field of their own, in the designer.
    page.goto("/settings/types/repair/")
    add = page.get_by_test_id("add-field-form")
    add.locator("[name=label]").fill("出口温度")
    add.locator("[name=kind]").select_option("number")
    add.locator("[name=key]").fill("outlet_temp")
    add.locator("[name=unit]").fill("°C")
    add.get_by_test_id("add-field").click()
    expect(page.get_by_test_id("designer-fields")).to_contain_text("出口温度")
    page.goto("/settings/setup/")
    for step in ("customers", "template"):
        expect(page.get_by_test_id(f"step-{step}")).to_have_attribute("data-done", "1")
    page.screenshot(path=str(screenshot_dir / "first-company-checklist-1440-zh.png"), full_page=True)

    # The dispatcher: two characters of the hospital's name.
    disp = browse(locale="zh-CN", width=1440, height=900)
    login(disp, "disp")
    disp.goto("/work-orders/new")
    disp.locator("#id_type").select_option("repair")
    disp.locator("#id_title").fill("呼吸机报警")
    pick(disp, "customer", "中山", "复旦大学附属中山医院")
    pick(disp, "asset", "V60", "呼吸机 V60")
    pick(disp, "assignee", "张工", "张工")
    disp.locator("[name=custom__symptom]").fill("报警代码 E12")
    disp.locator("[name=custom__equipment_state]").select_option("停机")
    expect(disp.get_by_test_id("custom-fieldset")).to_contain_text("出口温度")
    disp.get_by_test_id("create-submit").click()
    disp.wait_for_url(lambda url: "/work-orders/new" not in url)
    wo = WorkOrder.objects.get(title="呼吸机报警")
    assert (wo.customer.code, wo.asset.serial_number, wo.assignee.username) == ("zs-hosp", "V60-2025-0001", "zhang")

    # The engineer sees the new field on the phone.
    eng = browse(locale="zh-CN", width=390, height=844)
    login(eng, "zhang")
    eng.goto(f"/m/wo/{wo.code}/")
    expect(eng.get_by_test_id("details")).to_contain_text("出口温度")
    assert eng.evaluate("document.documentElement.scrollWidth") <= 390
    eng.screenshot(path=str(screenshot_dir / "first-company-phone-390-zh.png"), full_page=True)
    assert User.objects.get(username="zhang").phone == "13700000001"
    assert not browse.watch.csp_violations() and not browse.watch.page_errors
