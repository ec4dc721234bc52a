"""Customer portal and staff console in a real browser: a customer scans an asset's QR code and
reports from a phone-size page; the dispatcher assigns by dragging the card on the kanban board;
the customer sees the progress live; the engineer completes; the customer signs and rates;
lookup by each kind of id. No page breaks the Content-Security-Policy."""

import re

import pytest
from playwright.sync_api import expect

from closeloop.portal import services as portal
from closeloop.workorders import services
from closeloop.workorders.models import ExternalRef, WorkOrder

from .test_journey import act, login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TRACK_URL = re.compile(r"/portal/t/([-_A-Za-z0-9]{40,})/$")


def test_qr_report_board_assign_live_progress_sign_and_rate(world, browse, screenshot_dir):
    # --- customer: phone, scans the QR sticker on the ventilator -----------------------------
    phone = browse(width=390, height=844)
    phone.goto(portal.qr_path(world.asset_a))
    expect(phone.get_by_test_id("passport-name")).to_have_text("呼吸机")
    expect(phone.get_by_test_id("passport-next")).to_have_text("暂无计划")
    phone.get_by_test_id("passport-report").click()
    expect(phone.get_by_test_id("report-place")).to_contain_text("SN-A-1")
    phone.locator("#r-what").fill("呼吸机开机报警 E-21，无法通气")
    phone.locator("#r-phone").fill("139 0000 1111")
    phone.locator("#r-name").fill("李医生")
    phone.screenshot(path=str(screenshot_dir / "portal-report-390.png"), full_page=True)
    phone.get_by_test_id("report-submit").click()
    phone.wait_for_url(TRACK_URL)
    wo = WorkOrder.objects.get()
    assert wo.asset == world.asset_a and wo.contact.phone == "13900001111"
    expect(phone.get_by_test_id("portal-status")).to_have_attribute("data-status", "new")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling

    # --- dispatcher: drags the card from "new" to "assigned" on the board ----------------------
    disp = browse()
    login(disp, "dispatcher")
    disp.goto("/board/")
    card = disp.locator(f"[data-testid=card][data-code={wo.code}]")
    expect(card).to_be_visible()
    assert "new" == card.get_attribute("data-status")
    # Only columns an action leads to are drop targets: not "on site" from "new".
    moves = card.get_attribute("data-moves")
    assert "assigned=assign" in moves and "on_site" not in moves
    card.drag_to(disp.locator("#col-assigned"))
    dialog = disp.get_by_test_id("move-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("#move-assignee").select_option("eng_x")
    disp.get_by_test_id("move-submit").click()
    expect(disp.locator(f"#col-assigned [data-testid=card][data-code={wo.code}]")).to_be_visible()
    expect(disp.locator(f"#col-assigned [data-code={wo.code}] [data-testid=card-assignee]")).to_have_text("eng_x")
    disp.screenshot(path=str(screenshot_dir / "board-1280.png"))

    # --- customer sees it live, without reloading ---------------------------------------------
    expect(phone.get_by_test_id("portal-status")).to_have_attribute("data-status", "assigned", timeout=15_000)
    expect(phone.get_by_test_id("track-engineer")).to_have_text("eng_x")

    # The board follows changes made elsewhere, live too.
    wo.refresh_from_db()
    services.do_transition(actor=world.eng_x, wo=wo, action="accept")
    expect(disp.locator(f"#col-accepted [data-code={wo.code}]")).to_be_visible(timeout=15_000)
    services.do_transition(actor=world.eng_x, wo=wo, action="arrive")
    expect(phone.get_by_test_id("portal-status")).to_have_attribute("data-status", "on_site", timeout=15_000)
    services.do_transition(actor=world.eng_x, wo=wo, action="start")

    # --- engineer completes in the console ------------------------------------------------------
    eng = browse()
    login(eng, "eng_x")
    eng.goto(f"/work-orders/{wo.code}/")
    act(eng, "complete", "resolved", resolution="电源板老化，已更换。")

    # --- customer: the confirm form appears by itself; signs, rates ----------------------------
    form = phone.get_by_test_id("confirm-form")
    expect(form).to_be_visible(timeout=15_000)
    pad = phone.get_by_test_id("signature-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    phone.mouse.move(box["x"] + 20, box["y"] + 40)
    phone.mouse.down()
    for i in range(1, 12):
        phone.mouse.move(box["x"] + 20 + i * 25, box["y"] + 40 + (i % 3) * 25)
    phone.mouse.up()
    form.locator("label[for=rate-5]").click()
    form.locator("#c-comment").fill("很及时")
    form.locator("#c-signer").fill("李医生")
    phone.screenshot(path=str(screenshot_dir / "portal-confirm-390.png"), full_page=True)
    phone.get_by_test_id("confirm-submit").click()
    expect(phone.get_by_test_id("portal-status")).to_have_attribute("data-status", "confirmed")
    expect(phone.get_by_test_id("feedback")).to_contain_text("李医生")
    wo.refresh_from_db()
    assert wo.status == "confirmed" and wo.rating == 5
    from closeloop.fieldwork.models import Signature

    assert Signature.objects.filter(work_order=wo, signer_name="李医生").exists()

    watch = browse.watch
    assert watch.csp_violations() == []
    assert watch.page_errors == []
    assert watch.console_errors == []
    assert watch.bad_responses == []


def test_lookup_by_each_kind_of_id(world, browse):
    d = world.dispatcher
    wo = services.do_create_work_order(actor=d, data={
        "type": "repair", "title": "监护仪黑屏", "asset": "SN-B-1", "external_refs": [{"system": "crm", "id": "CRM-9001"}]})
    other = services.do_create_work_order(actor=d, data={"type": "repair", "title": "呼吸机报警", "asset": "SN-A-1",
                                                         "contact": world.contact_a.pk})
    ExternalRef.objects.get(external_id="CRM-9001")
    page = browse(locale="en-US")
    login(page, "dispatcher")
    for q, code, kind in [(wo.code, wo.code, "code"), ("CRM-9001", wo.code, "external_ref"),
                          ("SN-B-1", wo.code, "asset"), (world.contact_a.phone, other.code, "phone")]:
        page.goto("/lookup/")
        page.locator("body").click()
        page.keyboard.press("/")  # the shortcut focuses the page's one search box
        expect(page.get_by_test_id("lookup-q")).to_be_focused()
        page.keyboard.type(q)
        page.keyboard.press("Enter")
        results = page.get_by_test_id("lookup-results")
        expect(results).to_have_attribute("data-kinds", re.compile(kind))
        expect(page.locator(f"[data-testid=lookup-wo][data-code={code}]")).to_be_visible()
    expect(page.get_by_test_id("lookup-contact")).to_contain_text(world.contact_a.name)
    watch = browse.watch
    assert watch.csp_violations() == []
    assert watch.page_errors == []
    assert watch.console_errors == []
