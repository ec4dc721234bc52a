"""The form designer in a real browser: a manager adds a field (the preview shows it while it is typed),
drags it to the top, and the dispatcher's create form and the engineer's phone show it. The designer
is looked at at 1440 px (en) and 390 px (zh-Hans)."""

import pytest
from playwright.sync_api import Page, expect

from closeloop.workorders.models import CustomField

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page: Page, who: str) -> None:
    page.goto("/login/")
    page.locator("#id_username").fill(who)
    page.locator("#id_password").fill(f"pw-{who}-123")
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(lambda url: "/login/" not in url)


def _fits(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the screen"


def test_a_field_added_in_the_designer_reaches_the_create_form_and_the_phone(world, browse, screenshot_dir):
    from closeloop.workorders import services

    CustomField.objects.create(wo_type=world.repair, key="note", label="备注", kind="text", order=0)
    page = browse(locale="en-US", width=1440, height=900)
    _login(page, "manager")
    page.goto("/settings/types/")
    expect(page.get_by_test_id("rows")).to_contain_text("repair")
    page.goto("/settings/types/repair/")
    form = page.get_by_test_id("add-field-form")
    form.locator("[name=label]").fill("出口温度")
    form.locator("[name=kind]").select_option("number")
    form.locator("[name=key]").fill("outlet_temp")
    form.locator("[name=unit]").fill("°C")
    # The preview follows the typing before anything is saved.
    expect(page.get_by_test_id("preview-phone")).to_contain_text("出口温度 (°C)")
    assert not CustomField.objects.filter(key="outlet_temp").exists()
    form.get_by_test_id("add-field").click()
    expect(page.get_by_test_id("designer-fields")).to_contain_text("出口温度")

    # Drag the new field above 备注.
    fields = page.get_by_test_id("designer-field")
    expect(fields).to_have_count(2)
    fields.nth(1).locator("[data-drag-handle]").drag_to(fields.nth(0).locator("[data-drag-handle]"))
    expect(page.locator("#designer-status")).to_have_text("Order saved.")
    assert list(CustomField.objects.filter(wo_type=world.repair).order_by("order")
                .values_list("key", flat=True)) == ["outlet_temp", "note"]
    _fits(page)
    page.screenshot(path=str(screenshot_dir / "type-designer-1440-en.png"), full_page=True)

    phone = browse(locale="zh-CN", width=390, height=844)
    _login(phone, "admin")
    phone.goto("/settings/types/repair/")
    expect(phone.get_by_test_id("preview-create")).to_contain_text("出口温度 (°C)")
    _fits(phone)
    phone.screenshot(path=str(screenshot_dir / "type-designer-390-zh.png"), full_page=True)
    phone.goto("/settings/types/")
    _fits(phone)
    phone.screenshot(path=str(screenshot_dir / "types-390-zh.png"), full_page=True)

    # The dispatcher's create form offers it, in the designer's order.
    disp = browse(locale="zh-CN", width=1440, height=900)
    _login(disp, "dispatcher")
    disp.goto("/work-orders/new")
    disp.locator("#id_type").select_option("repair")
    custom = disp.get_by_test_id("custom-fieldset")
    expect(custom).to_contain_text("出口温度 (°C)")
    labels = custom.locator("label").all_inner_texts()
    assert labels.index(next(x for x in labels if "出口温度" in x)) < labels.index(next(x for x in labels if "备注" in x))

    # The engineer sees it on the phone and fills it in.
    wo = services.do_create_work_order(actor=world.dispatcher, data={
        "type": "repair", "title": "冷机报警", "site": "site-a", "assignee": "eng_x"})
    eng = browse(locale="zh-CN", width=390, height=844)
    _login(eng, "eng_x")
    eng.goto(f"/m/wo/{wo.code}/")
    details = eng.get_by_test_id("details")
    expect(details).to_contain_text("出口温度 (°C)")
    expect(eng.locator("body[data-ready='1']")).to_have_count(1)
    before = eng.get_by_test_id("wo").get_attribute("data-version")
    details.locator("[name=outlet_temp]").fill("7.5")
    details.get_by_test_id("details-submit").click()
    # Sent through the phone's queue; the page comes back with the work order's next version.
    expect(eng.get_by_test_id("wo")).not_to_have_attribute("data-version", before, timeout=15_000)
    expect(eng.get_by_test_id("details").locator("[name=outlet_temp]")).to_have_value("7.5")
    wo.refresh_from_db()
    assert wo.custom == {"outlet_temp": 7.5}
    _fits(eng)
    eng.screenshot(path=str(screenshot_dir / "phone-details-390-zh.png"), full_page=True)
