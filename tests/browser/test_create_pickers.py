"""The new work order form's pickers in a real browser: the dispatcher finds the hospital, its site, the
asset, the contact and the engineer by typing two characters each, and the work order names them all.
A deactivated asset is offered by no picker and refused by the form, naming the field."""

import pytest
from playwright.sync_api import Page, expect

from closeloop.workorders.models import WorkOrder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _pick(page: Page, name: str, typed: str, label: str) -> None:
    box = page.locator(f"#id_{name}")
    box.click()
    box.press_sequentially(typed)
    option = page.get_by_role("option", name=label)
    expect(option).to_be_visible()
    option.click()


def test_two_characters_find_every_reference_on_the_new_work_order_form(world, browse, screenshot_dir):
    from closeloop.accounts.models import User

    User.objects.filter(username="eng_x").update(display_name="李工程师")
    page = browse(locale="zh-CN", width=390, height=844)
    page.goto("/login/")
    page.locator("#id_username").fill("dispatcher")
    page.locator("#id_password").fill("pw-dispatcher-123")
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(lambda url: "/login/" not in url)
    page.goto("/work-orders/new")
    page.locator("#id_type").select_option("repair")
    page.locator("#id_title").fill("呼吸机报警")
    _pick(page, "customer", "甲医", "甲医院")
    _pick(page, "site", "本部", "甲医院本部")
    _pick(page, "asset", "呼吸", "呼吸机 V60")
    _pick(page, "contact", "王护", "王护士")
    _pick(page, "assignee", "李工", "李工程师")
    expect(page.locator("#id_contact")).to_have_value(str(world.contact_a.pk))
    expect(page.locator("#id_assignee")).to_have_value("eng_x")
    page.screenshot(path=str(screenshot_dir / "create-pickers-390-zh.png"), full_page=True)
    page.get_by_test_id("create-submit").click()
    page.wait_for_url(lambda url: "/work-orders/new" not in url)
    wo = WorkOrder.objects.get(title="呼吸机报警")
    assert (wo.customer, wo.site, wo.asset, wo.contact, wo.assignee) == (
        world.org_a, world.site_a, world.asset_a, world.contact_a, world.eng_x)

    # Deactivated: no picker offers it; typed by hand, the form says why beside the field.
    world.asset_a.is_active = False
    world.asset_a.save()
    page.goto("/work-orders/new")
    page.locator("#id_asset").press_sequentially("呼吸")
    empty = page.locator("#id_asset").get_attribute("data-picker-empty")
    menu = page.locator(".cl-picker-menu.show")
    expect(menu).to_contain_text(empty)
    expect(menu.get_by_role("option")).to_have_count(0)
    page.locator("#id_type").select_option("repair")
    page.locator("#id_title").fill("再次报警")
    page.locator("#id_asset").fill("SN-A-1")
    page.get_by_test_id("create-submit").click()
    expect(page.get_by_test_id("error-asset")).to_be_visible()
    assert not WorkOrder.objects.filter(title="再次报警").exists()
