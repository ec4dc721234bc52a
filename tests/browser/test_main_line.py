"""The main line editor in a real browser (issue 14): a manager drags the travel, customer confirmation
and invoice blocks out of a type's line (SortableJS, by their handles), the preview follows before
anything is saved, Save stores the line; on a phone-size screen in zh-Hans a block is dragged back in.
The engineer's phone then shows no travel for the type. Screenshots at 1440 px (en) and 390 px (zh)."""

import pytest
from playwright.sync_api import expect

from closeloop.workorders.lifecycle import S
from closeloop.workorders.models import WorkOrderType
from closeloop.workorders.tests.factories import make_wo

from .test_approvals import _drag
from .test_journey import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _fits(page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the screen"


def _handle(page, stage):
    return page.locator(f'[data-testid=line-block][data-stage="{stage}"] [data-drag-handle]')


def _drag_out(page, stage, palette) -> None:
    """Drag a block into the palette by its handle. The blocks around it slide (SortableJS animates
    them) after each drop, so wait for them to settle before the next drag, and try again when a
    drag on a busy machine started on a block still moving (the drop must still be a real drag)."""
    for _attempt in range(3):
        page.wait_for_function("() => !document.querySelector('#main-line-editor [style*=transform]')")
        _drag(page, _handle(page, stage), palette)
        if palette.locator(f'[data-stage="{stage}"]').count() == 1:
            return
    expect(palette.locator(f'[data-stage="{stage}"]')).to_have_count(1)


def test_blocks_are_dragged_out_of_and_into_the_line_and_saved(world, browse, screenshot_dir):
    page = browse(locale="en-US", width=1440, height=1800)  # the line and the palette on screen
    login(page, "manager")
    page.goto("/settings/types/repair/")
    page.get_by_test_id("tab-main-line").click()
    expect(page.locator("#main-line-editor[data-ready='1']")).to_have_count(1)
    line, palette = page.get_by_test_id("line-blocks"), page.get_by_test_id("line-palette")
    expect(line.locator("[data-testid=line-block]")).to_have_count(8)
    expect(page.get_by_test_id("preview-line-states")).to_contain_text("On the way")

    for stage in ("travel", "invoice", "confirm"):  # (an invoice without the confirmation cannot be saved)
        _drag_out(page, stage, palette)
    expect(page.get_by_test_id("line-status")).to_contain_text("Not saved yet")
    # The preview follows the blocks before anything is saved.
    expect(page.get_by_test_id("preview-line-states")).not_to_contain_text("On the way")
    expect(page.get_by_test_id("preview-line-sla")).to_contain_text("starting the work")
    assert WorkOrderType.objects.get(key="repair").stages == [
        "intake", "dispatch", "accept", "travel", "execution", "confirm", "invoice", "close"]
    # A block every line has stays in the line (and in its place).
    _drag(page, _handle(page, "execution"), palette)
    expect(line.locator('[data-stage="execution"]')).to_have_count(1)
    # A block dropped anywhere in the line snaps to its place in the lifecycle's order.
    _drag(page, _handle(page, "confirm"), _handle(page, "intake"))
    expect(line.locator("[data-testid=line-block]").nth(4)).to_have_attribute("data-stage", "confirm")
    expect(page.get_by_test_id("preview-line-flow")).to_contain_text("Customer confirms")
    expect(page.get_by_test_id("line-problems")).to_have_count(0)
    _drag(page, _handle(page, "confirm"), palette)
    expect(palette.locator('[data-stage="confirm"]')).to_have_count(1)
    expect(page.get_by_test_id("preview-line-flow")).not_to_contain_text("Customer confirms")
    _fits(page)
    page.screenshot(path=str(screenshot_dir / "main-line-1440-en.png"), full_page=True)
    page.get_by_test_id("line-save").click()
    expect(page.locator(".alert-success, [data-testid=messages]").first).to_contain_text("Saved the main line")
    assert WorkOrderType.objects.get(key="repair").stages == ["intake", "dispatch", "accept", "execution", "close"]

    # The engineer's phone: no travel for this type; work starts from accepted.
    wo = make_wo(world, status=S.ACCEPTED)
    eng = browse(locale="zh-CN", width=390, height=844)
    login(eng, "eng_x")
    eng.goto(f"/m/wo/{wo.code}/")
    expect(eng.get_by_test_id("start")).to_be_visible()
    expect(eng.get_by_test_id("depart")).to_have_count(0)
    expect(eng.get_by_test_id("checkin")).to_have_count(0)

    # Phone width, zh-Hans: drag the travel block back in, above field execution, and save.
    # (a tall window: the whole line and the palette on screen, as a native drag does not scroll the page)
    phone = browse(locale="zh-CN", width=390, height=2600)
    login(phone, "admin")
    phone.goto("/settings/types/repair/?tab=line")
    expect(phone.get_by_test_id("line-blocks")).to_contain_text("现场执行")
    expect(phone.locator("#main-line-editor[data-ready='1']")).to_have_count(1)
    _drag(phone, _handle(phone, "travel"), _handle(phone, "execution"))
    expect(phone.get_by_test_id("line-blocks").locator('[data-stage="travel"]')).to_have_count(1)
    expect(phone.get_by_test_id("preview-line-states")).to_contain_text("在途")
    _fits(phone)
    phone.screenshot(path=str(screenshot_dir / "main-line-390-zh.png"), full_page=True)
    phone.get_by_test_id("line-save").click()
    expect(phone.get_by_test_id("tab-main-line")).to_have_attribute("aria-current", "page")
    assert WorkOrderType.objects.get(key="repair").stages == ["intake", "dispatch", "accept", "travel", "execution",
                                                              "close"]
    watch = browse.watch
    assert watch.page_errors == [] and watch.csp_violations() == [] and watch.console_errors == []
    assert watch.bad_responses == []
