"""The main journey, in a real browser: a work order runs the whole loop through the console.

dispatcher creates (type repair, Chinese title, site) and assigns → engineer accepts, departs,
arrives, starts, completes → dispatcher confirms → finance posts the invoice → dispatcher
closes; every step is on the timeline, and no page breaks our Content-Security-Policy.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from closeloop.workorders import services
from closeloop.workorders.models import WorkOrder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TITLE = "呼吸机报警无法开机"
DETAIL_URL = re.compile(r"/work-orders/(WD\d{13})/$")
LOOP_ACTIONS = ["assign", "accept", "depart", "arrive", "start", "complete", "confirm", "invoice", "close"]


def login(page: Page, username: str) -> None:
    """Log in and open the work order list (each role's own landing is tested in test_screens)."""
    page.goto("/login/?next=/work-orders/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(f"pw-{username}-123")
    page.get_by_test_id("login-submit").click()
    page.wait_for_url("**/work-orders/")
    expect(page.get_by_test_id("navbar")).to_be_visible()


def open_nav(page: Page, key: str) -> None:
    """Click a top-bar entry, under "More" when the bar had no room for it."""
    entry = page.get_by_test_id(f"nav-{key}")
    if not entry.is_visible():
        page.get_by_test_id("nav-more").click()
        entry = page.locator(f"#navbar-more [data-nav-item={key}]")
    entry.click()


def act(page: Page, action: str, expect_status: str, **fields) -> None:
    """Take one lifecycle action through its form on the detail page and wait for the new status."""
    form = page.get_by_test_id(f"action-{action}")
    if not form.is_visible():  # side actions sit in a closed <details>
        page.get_by_test_id("more-actions").locator("summary").click()
    for name, value in fields.items():
        field = form.locator(f"[name={name}]")
        if name == "rating":
            form.locator(f"label:has(input[name=rating][value='{value}'])").click()
        elif field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    form.get_by_test_id(f"do-{action}").click()
    expect(page.get_by_test_id("wo-status")).to_have_attribute("data-status", expect_status)
    expect(page.locator("[data-testid=messages] .alert-success")).to_be_visible()


def seed_queue(world) -> None:
    """A few other work orders, so the list looks like a working day's queue."""
    mk = services.do_create_work_order
    d = world.dispatcher
    a = mk(actor=d, data={"type": "repair", "title": "监护仪屏幕闪烁", "site": "site-b", "priority": "urgent",
                          "assignee": "eng_y"})
    services.do_transition(actor=world.eng_y, wo=a, action="accept")
    b = mk(actor=d, data={"type": "repair", "title": "空调外机异响", "site": "site-a", "priority": "normal",
                          "assignee": "eng_x2"})
    for act_ in ("accept", "arrive", "start"):
        services.do_transition(actor=world.eng_x2, wo=b, action=act_)
    services.do_transition(actor=world.eng_x2, wo=b, action="wait", data={"reason": "parts"})
    mk(actor=d, data={"type": "production", "title": "注塑机模温异常", "priority": "low",
                      "custom": {"temperature": 220, "shift": "早"}})
    mk(actor=d, data={"type": "repair", "title": "Printer jams on floor 3", "site": "site-b",
                      "priority": "high"})


def test_work_order_runs_the_whole_loop_in_a_browser(world, browse, screenshot_dir):
    seed_queue(world)

    # --- dispatcher: log in, create from the console --------------------------------------
    disp = browse()
    login(disp, "dispatcher")
    expect(disp.get_by_test_id("user-role")).to_have_text("调度员")
    disp.get_by_test_id("nav-create").click()
    disp.wait_for_url("**/work-orders/new")
    with disp.expect_response(re.compile(r"/work-orders/new/fields\?type=production")):
        disp.locator("#id_type").select_option("production")
    expect(disp.locator("[name=custom__temperature]")).to_be_visible()  # the type's own fields swapped in
    with disp.expect_response(re.compile(r"/work-orders/new/fields\?type=repair")):
        disp.locator("#id_type").select_option("repair")
    expect(disp.locator("[name=custom__temperature]")).to_have_count(0)
    disp.locator("#id_title").fill(TITLE)
    disp.locator("#id_description").fill("ICU 3床，开机自检报警 E-21。")
    disp.locator("#id_priority").select_option("high")
    disp.locator("#id_site").fill("site-a")
    disp.get_by_test_id("create-submit").click()
    disp.wait_for_url(DETAIL_URL)
    code = DETAIL_URL.search(disp.url).group(1)
    expect(disp.get_by_test_id("wo-code")).to_have_text(code)
    expect(disp.get_by_test_id("wo-title")).to_have_text(TITLE)
    expect(disp.get_by_test_id("wo-status")).to_have_attribute("data-status", "new")
    expect(disp.get_by_test_id("wo-site")).to_contain_text("甲医院本部")
    expect(disp.get_by_test_id("action-accept")).to_have_count(0)  # not the dispatcher's to take
    disp.screenshot(path=str(screenshot_dir / "detail-new-1280.png"))

    act(disp, "assign", "assigned", assignee="eng_x")
    expect(disp.get_by_test_id("wo-assignee")).to_contain_text("eng_x")

    # The list finds it by a two-character Chinese word, live (htmx), and links to it.
    disp.goto("/work-orders/")
    with disp.expect_response(lambda r: "q=" in r.url and r.request.headers.get("hx-request") == "true"):
        disp.locator("#f-q").fill("报警")
    rows = disp.get_by_test_id("wo-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-code", code)
    expect(disp).to_have_url(re.compile(r"[?&]q="))  # the filter is in the address: shareable, reloadable
    disp.get_by_test_id("reset-filters").click()
    expect(disp.get_by_test_id("wo-row")).to_have_count(5)
    disp.screenshot(path=str(screenshot_dir / "list-1280.png"), full_page=True)

    # --- engineer: own browser, own session ------------------------------------------------
    eng = browse()
    login(eng, "eng_x")
    eng.locator(f"[data-testid=wo-row][data-code={code}] a").first.click()
    eng.wait_for_url(f"**/work-orders/{code}/")
    act(eng, "accept", "accepted")
    act(eng, "depart", "en_route")
    act(eng, "arrive", "on_site")
    act(eng, "start", "in_progress")
    eng.locator("#comment-body").fill("更换电源板，等待自检。")
    eng.get_by_test_id("comment-form").locator("button[type=submit]").click()
    expect(eng.get_by_test_id("comment-body").last).to_have_text("更换电源板，等待自检。")
    eng.locator("#upload-file").set_input_files(
        files=[{"name": "现场记录.txt", "mimeType": "text/plain", "buffer": "E-21 已排除".encode()}])
    eng.get_by_test_id("upload-form").locator("button[type=submit]").click()
    expect(eng.get_by_test_id("attachment")).to_have_count(1)
    eng.screenshot(path=str(screenshot_dir / "detail-in-progress-1280.png"))
    act(eng, "complete", "resolved", resolution="电源板老化，已更换并通过自检。")
    expect(eng.get_by_test_id("wo-resolution")).to_have_text("电源板老化，已更换并通过自检。")
    expect(eng.get_by_test_id("action-confirm")).to_have_count(0)  # the engineer cannot confirm for the customer

    # --- dispatcher confirms for the customer, finance invoices, dispatcher closes -----------
    disp.goto(f"/work-orders/{code}/")
    act(disp, "confirm", "confirmed", rating="5")
    fin = browse()
    login(fin, "finance")
    fin.goto(f"/work-orders/{code}/")
    act(fin, "invoice", "invoiced", invoice_number="INV-2026-0042")
    expect(fin.get_by_test_id("wo-invoice")).to_have_text("INV-2026-0042")
    disp.goto(f"/work-orders/{code}/")
    act(disp, "close", "closed")

    # --- the timeline shows every step, in order, with who and what ----------------------
    events = disp.get_by_test_id("event")
    actions = [a for a in events.evaluate_all("els => els.map(e => e.dataset.action || e.dataset.kind)")]
    assert actions[0] == "created"
    assert [a for a in actions if a in LOOP_ACTIONS] == LOOP_ACTIONS
    assert "comment" in actions and "attachment" in actions
    timeline = disp.get_by_test_id("timeline")
    expect(timeline).to_contain_text("INV-2026-0042")
    expect(timeline).to_contain_text("电源板老化")
    expect(timeline).to_contain_text("finance")
    expect(timeline.get_by_test_id("internal")).to_have_count(1)  # the engineer's comment is internal
    expect(disp.locator("[data-testid=event][data-action=close] [data-testid=event-to]")).to_have_text("已关闭")
    disp.screenshot(path=str(screenshot_dir / "detail-1280.png"), full_page=True)

    wo = WorkOrder.objects.get(code=code)
    assert (wo.status, wo.rating, wo.invoice_number) == ("closed", 5, "INV-2026-0042")
    assert wo.events.filter(kind="transition").count() == len(LOOP_ACTIONS)

    # --- tablet width: nothing overflows sideways ------------------------------------------
    tab = browse(width=820, height=1180)
    login(tab, "dispatcher")
    for url, name in (("/work-orders/", "list-820.png"), (f"/work-orders/{code}/", "detail-820.png")):
        tab.goto(url)
        overflow = tab.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{url} is {overflow}px wider than an 820px tablet"
        tab.screenshot(path=str(screenshot_dir / name), full_page=True)

    # --- the language switch and logout work -----------------------------------------------
    disp.get_by_test_id("language-switch").get_by_role("button", name="EN").click()
    expect(disp.get_by_test_id("wo-status")).to_have_text("Closed")
    disp.get_by_test_id("user-menu").click()
    disp.get_by_test_id("logout").click()
    disp.wait_for_url("**/login/")

    watch = browse.watch
    assert watch.csp_violations() == []
    assert watch.page_errors == []
    assert watch.console_errors == []
    assert watch.bad_responses == []
