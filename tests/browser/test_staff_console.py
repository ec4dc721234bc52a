"""The staff console (closeloop.console) in a real browser: a dispatcher lands on the list,
opens the dashboard, saves the list's filter as a queue, opens it as a board, cancels two work
orders at once from the list, looks a work order up from the top bar and deletes the
queue. The paths are the ones users know (/dashboard/, /board/, /lookup/, /console/...).
No page breaks the Content-Security-Policy."""

import re

import pytest
from playwright.sync_api import expect

from closeloop.console.models import Queue
from closeloop.workorders import services
from closeloop.workorders.models import WorkOrder

from .test_journey import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _seed(world):
    mk = services.do_create_work_order
    d = world.dispatcher
    urgent = mk(actor=d, data={"type": "repair", "title": "呼吸机报警", "site": "site-a", "priority": "urgent"})
    high = mk(actor=d, data={"type": "repair", "title": "监护仪黑屏", "site": "site-b", "priority": "high"})
    low = mk(actor=d, data={"type": "repair", "title": "打印机卡纸", "priority": "low", "assignee": "eng_x"})
    return urgent, high, low


def test_dashboard_queue_board_bulk_and_lookup(world, browse):
    urgent, high, low = _seed(world)
    page = browse(locale="en-US")
    login(page, "dispatcher")

    # "/" sends a dispatcher to the list; the dashboard's entry is the active one on the dashboard.
    page.goto("/")
    page.wait_for_url("**/work-orders/")
    page.goto("/dashboard/")
    expect(page.get_by_test_id("kpi-backlog").locator("[data-value]")).to_have_text("3")
    expect(page.get_by_test_id("kpi-unassigned").locator("[data-value]")).to_have_text("2")
    expect(page.locator(".nav-item.active [data-testid=nav-dashboard]")).to_be_visible()
    expect(page.locator(".nav-item.active [data-testid=nav-board]")).to_have_count(0)

    # The list filtered to urgent and high, saved as a queue.
    page.goto("/work-orders/?priority=urgent&priority=high")
    expect(page.get_by_test_id("wo-row")).to_have_count(2)
    page.get_by_test_id("queue-save").locator("summary").click()
    page.locator("#queue-name").fill("Hot")
    page.get_by_test_id("queue-form").get_by_role("button").click()
    page.wait_for_url(re.compile(r"/work-orders/\?queue=\d+$"))
    queue = Queue.objects.get(name="Hot")
    assert queue.owner == world.dispatcher and queue.filters == {"priority": ["urgent", "high"]}
    expect(page.locator(f"[data-testid=queue][data-queue='{queue.pk}']")).to_have_class(re.compile("active"))
    expect(page.get_by_test_id("wo-row")).to_have_count(2)

    # The same queue as a board: only its cards, in the "new" column.
    page.get_by_test_id("view-board").click()
    page.wait_for_url(f"**/board/?queue={queue.pk}")
    expect(page.get_by_test_id("card")).to_have_count(2)
    expect(page.locator(f"[data-testid=column][data-state=new] [data-testid=card][data-code={urgent.code}]")) \
        .to_be_visible()
    expect(page.locator(".nav-item.active [data-testid=nav-board]")).to_be_visible()

    # Bulk: cancel both from the list, with a reason.
    page.goto(f"/work-orders/?queue={queue.pk}")
    page.get_by_test_id("select-all").check()
    expect(page.get_by_test_id("selected-count")).to_have_text("2")
    page.get_by_test_id("bulk-action").select_option("cancel")
    page.get_by_test_id("bulk-form").locator("[name=reason]").fill("duplicate")
    page.get_by_test_id("bulk-submit").click()
    expect(page.locator("[data-testid=messages] .alert-success")).to_contain_text("2")
    assert set(WorkOrder.objects.filter(status="cancelled").values_list("code", flat=True)) == {urgent.code,
                                                                                               high.code}
    assert WorkOrder.objects.get(pk=low.pk).status == "assigned"

    # The top bar's lookup box (on every page but the list, whose one search box is its filter):
    # a code opens the work order; anything else lists what matches.
    expect(page.get_by_test_id("nav-lookup")).to_have_count(0)
    expect(page.locator("input[type=search]")).to_have_count(1)
    page.goto("/board/")
    box = page.get_by_test_id("nav-lookup").locator("input[name=q]")
    box.fill(low.code.lower())
    box.press("Enter")
    page.wait_for_url(f"**/work-orders/{low.code}/")
    box = page.get_by_test_id("nav-lookup").locator("input[name=q]")
    box.fill("SN-A-1")
    box.press("Enter")
    page.wait_for_url(re.compile(r"/lookup/\?"))
    expect(page.get_by_test_id("lookup-asset")).to_be_visible()

    # Deleting the queue (after the confirmation) goes back to the whole list.
    page.goto(f"/work-orders/?queue={queue.pk}")
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Delete queue").click()
    page.wait_for_url("**/work-orders/")
    expect(page.locator(f"[data-testid=queue][data-queue='{queue.pk}']")).to_have_count(0)
    assert not Queue.objects.filter(pk=queue.pk).exists()

    watch = browse.watch
    assert watch.csp_violations() == []
    assert watch.page_errors == []
    assert watch.console_errors == []
    assert watch.bad_responses == []
