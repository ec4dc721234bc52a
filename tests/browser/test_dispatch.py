"""Dispatch in a real browser: a manager sets a type to assign automatically; a
dispatcher overrides the best suggestion (the reason is asked for, then recorded on the
timeline); the roster page refuses a shift that ends before it starts, naming the field."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from closeloop.dispatch.models import DispatchSetting
from closeloop.roster.models import Shift
from closeloop.workorders.models import TimelineEvent
from closeloop.workorders.services import do_create_work_order
from closeloop.workorders.tests.factories import make_wo

from .test_journey import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_settings_override_and_roster(world, browse, screenshot_dir):
    page = browse(locale="en-US")
    login(page, "manager")
    page.goto("/dispatch/settings/")
    add = page.get_by_test_id("setting-add")
    add.locator('select[name="target"]').select_option("type:repair")
    add.locator('select[name="mode"]').select_option("auto")
    add.locator('input[name="estimated_hours"]').fill("3")
    add.get_by_test_id("setting-add-button").click()
    expect(page.get_by_test_id("setting")).to_have_count(1)
    page.screenshot(path=str(screenshot_dir / "dispatch-settings.png"), full_page=True)
    row = DispatchSetting.objects.get()
    assert (row.wo_type, row.mode, float(row.estimated_hours)) == (world.repair, "auto", 3.0)

    # The setting acts on its own: a new work order is assigned at once.
    auto = do_create_work_order(actor=world.cust_a, data={"type": "repair", "title": "呼吸机离线",
                                                          "asset": "SN-A-1"})
    auto.refresh_from_db()
    assert auto.assignee is not None and TimelineEvent.objects.get(work_order=auto, kind="dispatch").data["automatic"]

    # A dispatcher picks someone other than the best: the reason is asked for.
    DispatchSetting.objects.all().delete()
    wo = make_wo(world, asset=world.asset_a)
    desk = browse(locale="en-US")
    login(desk, "dispatcher")
    desk.goto(f"/work-orders/{wo.code}/")
    card = desk.get_by_test_id("suggestions")
    expect(card.get_by_test_id("assign-best")).to_be_visible()
    best = card.get_by_test_id("suggestion").first.get_attribute("data-username")
    other = card.locator(f'[data-testid="suggestion"]:not([data-username="{best}"])').first
    other_name = other.get_attribute("data-username")
    other.get_by_test_id("assign-override").click()  # no reason: the browser keeps the form
    wo.refresh_from_db()
    assert wo.assignee is None
    other.locator('input[name="reason"]').fill("客户指定")
    other.get_by_test_id("assign-override").click()
    expect(desk.get_by_test_id("dispatch-event")).to_contain_text("客户指定")
    wo.refresh_from_db()
    assert wo.assignee.username == other_name

    # The roster: an end before the start is refused and named.
    day = (timezone.localtime(timezone.now(), ZoneInfo("Asia/Shanghai")) + timedelta(days=1)).strftime("%Y-%m-%d")
    desk.goto("/dispatch/roster/")
    expect(desk.locator('[data-testid="roster-row"][data-username="eng_x"]')).to_be_visible()
    form = desk.get_by_test_id("shift-form")
    form.locator('select[name="user"]').select_option("eng_x")
    form.locator('input[name="starts_at"]').fill(f"{day}T18:00")
    form.locator('input[name="ends_at"]').fill(f"{day}T08:00")
    form.get_by_test_id("shift-add").click()
    expect(desk.get_by_test_id("roster-errors")).to_contain_text("ends_at")
    assert not Shift.objects.exists()
    form = desk.get_by_test_id("shift-form")
    form.locator('input[name="ends_at"]').fill(f"{day}T23:00")
    form.get_by_test_id("shift-add").click()
    expect(desk.get_by_test_id("roster-entries")).to_contain_text(f"{day[5:]} 18:00")
    assert Shift.objects.filter(user=world.eng_x).count() == 1
    desk.screenshot(path=str(screenshot_dir / "dispatch-roster.png"), full_page=True)

    watch = browse.watch
    assert watch.csp_violations() == []
    assert watch.page_errors == []
    assert [r for r in watch.bad_responses if "/dispatch/roster/" not in r] == []  # the refused form is a 422
    assert watch.console_errors == [] or all("422" in m for m in watch.console_errors)
