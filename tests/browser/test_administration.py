"""From an empty database, in a real browser: the first visitor creates the administrator and the
company, adds a customer, a site, an asset, an engineer and a dispatcher through Settings; the
dispatcher then creates a work order by typing two characters of the hospital's name in the
customer picker. Every administration page is looked at at 1440 px (en) and 390 px (zh-Hans)."""

import pytest
from playwright.sync_api import Page, expect

from closeloop.administration import middleware
from closeloop.customers.models import Asset, Site
from closeloop.workorders.models import WorkOrder, WorkOrderType

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-Password-2026"


@pytest.fixture
def first_run_on(settings):
    settings.CLOSELOOP_FIRST_RUN_REDIRECT = True
    middleware.reset()
    yield
    middleware.reset()


def _login(page: Page, username: str) -> None:
    page.goto("/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("navbar")).to_be_visible()


def _pick(page: Page, selector: str, typed: str, expected_label: str) -> None:
    """Type into a picker and choose the suggestion naming `expected_label`."""
    box = page.locator(selector)
    box.click()
    box.press_sequentially(typed)
    option = page.get_by_role("option", name=expected_label)
    expect(option).to_be_visible()
    option.click()


def _fits(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the screen"


def test_first_run_to_first_work_order(first_run_on, browse, screenshot_dir):
    phone = browse(locale="zh-CN", width=390, height=844)
    phone.goto("/work-orders/")
    expect(phone).to_have_url("/setup/")
    expect(phone.get_by_role("heading", name="您的公司")).to_be_visible()
    _fits(phone)
    phone.screenshot(path=str(screenshot_dir / "first-run-390-zh.png"), full_page=True)

    page = browse(locale="en-US", width=1440, height=900)
    page.goto("/")
    expect(page).to_have_url("/setup/")
    form = page.get_by_test_id("first-run-form")
    form.locator("#id_name").fill("East China Medical Service Co.")
    form.locator("#id_language").select_option("en")
    form.locator("#id_username").fill("boss")
    form.locator("#id_password").fill(PASSWORD)
    form.locator("#id_password2").fill("something else")
    page.get_by_test_id("first-run-submit").click()
    expect(page.get_by_test_id("error-password2")).to_be_visible()  # beside its field
    page.screenshot(path=str(screenshot_dir / "first-run-1440-en-error.png"), full_page=True)
    form.locator("#id_password").fill(PASSWORD)
    form.locator("#id_password2").fill(PASSWORD)
    page.get_by_test_id("first-run-submit").click()
    expect(page).to_have_url("/settings/setup/")
    expect(page.get_by_test_id("step-customers")).to_have_attribute("data-done", "0")
    page.screenshot(path=str(screenshot_dir / "checklist-1440-en.png"), full_page=True)
    phone.goto("/setup/")
    expect(phone.locator("body")).not_to_contain_text("您的公司")  # gone (404) once an admin exists

    # The customer, through the Settings menu
    page.get_by_test_id("nav-settings").get_by_role("button").click()
    page.get_by_test_id("nav-admin_data").click()
    expect(page).to_have_url("/settings/customers/")
    page.get_by_test_id("add").click()
    page.locator("#id_code").fill("zs-hosp")
    page.locator("#id_name").fill("复旦大学附属中山医院")
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("rows")).to_contain_text("复旦大学附属中山医院")
    page.screenshot(path=str(screenshot_dir / "customers-1440-en.png"), full_page=True)

    # A site: the customer by picker, the location as coordinates (a bad one first)
    page.goto("/settings/sites/new")
    _pick(page, "#id_customer", "中山", "复旦大学附属中山医院")
    expect(page.locator("#id_customer")).to_have_value("zs-hosp")
    page.locator("#id_code").fill("zs-main")
    page.locator("#id_name").fill("中山医院本部")
    page.locator("#id_latitude").fill("131.2")
    page.locator("#id_longitude").fill("121.45")
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("error-latitude")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "site-1440-en-error.png"), full_page=True)
    page.locator("#id_latitude").fill("31.19")
    page.get_by_test_id("save").click()
    expect(page).to_have_url("/settings/sites/")
    assert Site.objects.get(code="zs-main").customer.code == "zs-hosp"

    # An asset at that site
    page.goto("/settings/assets/new")
    _pick(page, "#id_customer", "中山", "复旦大学附属中山医院")
    _pick(page, "#id_site", "本部", "中山医院本部")
    page.locator("#id_serial_number").fill("V60-2025-0001")
    page.locator("#id_name").fill("呼吸机")
    page.locator("#id_model").fill("V60")
    page.locator("#id_batch").fill("2025-B3")
    page.locator("#id_install_date").fill("2025-06-01")
    page.get_by_test_id("save").click()
    expect(page).to_have_url("/settings/assets/")
    asset = Asset.objects.get(serial_number="V60-2025-0001")
    assert asset.site.code == "zs-main"
    page.goto(f"/settings/assets/{asset.pk}/")
    expect(page.get_by_test_id("qr-link")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "asset-1440-en.png"), full_page=True)

    # An engineer and a dispatcher
    for username, role in (("zhang", "engineer"), ("disp", "dispatcher")):
        page.goto("/settings/users/new")
        page.locator("#id_username").fill(username)
        page.locator("#id_display_name").fill({"zhang": "张工", "disp": "调度小李"}[username])
        page.locator("#id_role").select_option(role)
        page.locator("#id_phone").fill("13700000000")
        page.locator("#id_password").fill(PASSWORD)
        page.get_by_test_id("save").click()
        expect(page).to_have_url("/settings/users/")
    page.screenshot(path=str(screenshot_dir / "users-1440-en.png"), full_page=True)
    page.goto("/settings/setup/")
    expect(page.get_by_test_id("step-customers")).to_have_attribute("data-done", "1")

    # A work order type (the template gallery's job) so that there is something to create
    WorkOrderType.objects.create(key="repair", name="维修", prefix="WD", kind="repair")

    # The dispatcher types two characters of the hospital's name
    disp = browse(locale="zh-CN", width=1440, height=900)
    _login(disp, "disp")
    disp.goto("/work-orders/new")
    disp.locator("#id_type").select_option("repair")
    disp.locator("#id_title").fill("呼吸机报警")
    _pick(disp, "#id_customer", "中山", "复旦大学附属中山医院")
    _pick(disp, "#id_asset", "V60", "呼吸机 V60")
    disp.get_by_test_id("create-form").locator("button[type=submit]").last.click()
    disp.wait_for_url("**/work-orders/WD*/")
    wo = WorkOrder.objects.get()
    assert wo.customer.code == "zs-hosp" and wo.asset.serial_number == "V60-2025-0001"

    # Every page at 390 px in Chinese (the administrator chose English for themselves above)
    from closeloop.accounts.models import User

    User.objects.filter(username="boss").update(language="zh-hans")
    _login(phone, "boss")
    for path, name in (("/settings/setup/", "checklist"), ("/settings/customers/", "customers"),
                       ("/settings/sites/new", "site-new"), (f"/settings/assets/{asset.pk}/", "asset"),
                       ("/settings/users/zhang/", "user"), ("/settings/teams/", "teams"),
                       ("/settings/skills/new", "skill-new"), ("/settings/contacts/new", "contact-new")):
        phone.goto(path)
        expect(phone.get_by_test_id("navbar")).to_be_visible()
        _fits(phone)
        phone.screenshot(path=str(screenshot_dir / f"{name}-390-zh.png"), full_page=True)
    for path, name in (("/settings/teams/new", "team-new"), ("/settings/contacts/", "contacts"),
                       ("/settings/skills/", "skills")):
        page.goto(path)
        page.screenshot(path=str(screenshot_dir / f"{name}-1440-en.png"), full_page=True)
    assert not browse.watch.csp_violations()
    assert not browse.watch.page_errors
