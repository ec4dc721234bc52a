"""The flow designer and the approvals inbox in a real browser: a manager edits a flow
(bad condition shown with its position, a dead end refused, nodes moved and deleted),
previews a sample's path, publishes v2; the next request follows v2 while a running one
stays on v1; an approver decides from a phone-size inbox."""

import pytest
from playwright.sync_api import expect

from closeloop.accounts.models import Role, Team
from closeloop.approvals import services
from closeloop.approvals.models import RequestStatus
from closeloop.approvals.tests.conftest import purchase_tree
from closeloop.workorders.lifecycle import S
from closeloop.workorders.tests.factories import make_wo

from .test_journey import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _org(world):
    ceo = world._user("ceo", Role.MANAGER)
    company = Team.objects.create(name="Company", code="company", supervisor=ceo)
    world.team_x.parent = company
    world.team_x.save()


def test_designer_journey(world, browse, screenshot_dir):
    _org(world)
    flow = services.do_create_flow(actor=world.manager, data={"name": "Part purchase", "action": "purchase_part",
                                                              "tree": purchase_tree()})
    services.do_publish(actor=world.manager, flow=flow)
    wo_running = make_wo(world, status=S.IN_PROGRESS)
    running = services.do_start_request(actor=world.eng_x, wo=wo_running, action="purchase_part",
                                        data={"amount": 1200})

    page = browse(locale="en-US")
    login(page, "manager")
    page.goto("/approvals/flows/")
    page.get_by_test_id("open-designer").first.click()
    tree = page.get_by_test_id("designer-tree")
    expect(tree.locator('[data-node="tier"]')).to_be_visible()

    # A broken condition says where it breaks.
    cond = tree.locator('[data-branch="small"]').get_by_test_id("condition")
    cond.fill("amount < ")
    cond.press("Tab")
    expect(tree.locator('[data-branch="small"]').get_by_test_id("condition-error")).not_to_be_empty()
    cond.fill("amount < 800")
    cond.press("Tab")
    expect(cond).to_have_class(__import__("re").compile("is-valid"))

    # The builder adds a clause with &&.
    large = tree.locator('[data-branch="large"]')
    large.get_by_test_id("builder-field").select_option("safety")
    large.get_by_test_id("builder-op").select_option("==")
    large.get_by_test_id("builder-value").fill("high")
    large.get_by_test_id("builder-add").click()
    expect(large.get_by_test_id("condition")).to_have_value('amount > 5000 && safety == "high"')
    expect(large.get_by_test_id("condition")).to_have_class(__import__("re").compile("is-valid"))

    # Delete finance from the default branch; move the CC node to the top.
    tree.locator('[data-node="fin"]').get_by_test_id("delete-node").click()
    expect(tree.locator('[data-node="fin"]')).to_have_count(0)
    tree.locator('[data-node="cc-store"]').get_by_test_id("move-up").click()
    first = tree.locator("[data-testid=node]").first
    expect(first).to_have_attribute("data-node", "cc-store")

    # A new condition node without a default branch is a dead end: validation names it.
    top_add = tree.locator(":scope > .cl-flow-list > [data-testid=add-node]")
    top_add.locator('[data-add="condition"]').click()
    new_node = tree.locator(":scope > .cl-flow-list > [data-testid=node]").last
    node_id = new_node.get_attribute("data-node")
    new_node.get_by_test_id("branch-default").last.uncheck()
    page.get_by_test_id("validate").click()
    expect(page.get_by_test_id("problems")).to_contain_text(node_id)
    expect(page.get_by_test_id("problems")).to_contain_text("dead end")
    page.screenshot(path=str(screenshot_dir / "designer-problems.png"), full_page=True)
    new_node.get_by_test_id("delete-node").click()
    page.get_by_test_id("validate").click()
    expect(page.get_by_test_id("valid")).to_be_visible()

    # An auto-approval rule for small amounts, and a shorter justification deadline.
    page.get_by_test_id("add-auto-rule").click()
    page.get_by_test_id("auto-rule").locator("input").first.fill("Fuses")
    page.get_by_test_id("auto-condition").fill("amount < 20")
    page.get_by_test_id("justify-hours").fill("8")
    page.get_by_test_id("justify-hours").press("Tab")

    # Preview a sample: 1,200 from eng_x goes through the team lead only now.
    page.get_by_test_id("preview-amount").fill("1200")
    page.get_by_test_id("preview-requester").select_option("eng_x")
    page.get_by_test_id("preview").click()
    steps = page.get_by_test_id("preview-path").get_by_test_id("preview-step")
    expect(steps).to_have_count(2)
    expect(steps.nth(1)).to_contain_text("manager")
    page.get_by_test_id("publish").click()
    expect(page.get_by_test_id("published")).to_contain_text("v2")
    page.screenshot(path=str(screenshot_dir / "designer-published.png"), full_page=True)

    # v1 can be loaded back into the draft (to roll back, publish it again).
    page.get_by_test_id("load-version").first.click()
    expect(page.get_by_test_id("loaded")).to_contain_text("v1")
    expect(tree.locator('[data-node="fin"]')).to_have_count(1)

    # The next request follows v2; the running one stays on v1 (finance still in it).
    wo = make_wo(world, status=S.IN_PROGRESS)
    new = services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part", data={"amount": 1200})
    assert new.version.number == 2
    assert [s["key"] for s in new.plan if s["t"] == "step"] == ["cc-store", "lead2#1"]
    assert "fin" in [s["key"] for s in running.plan if s["t"] == "step"]
    assert new.version.tree["auto_approve"] == [{"name": "Fuses", "condition": "amount < 20"}]
    assert new.version.tree["settings"]["justify_hours"] == 8
    tiny = services.do_start_request(actor=world.eng_x, wo=make_wo(world, status=S.IN_PROGRESS),
                                     action="purchase_part", data={"amount": 5})
    assert tiny.status == RequestStatus.APPROVED and tiny.auto_rule == "Fuses"

    # The approver decides from a phone.
    phone = browse(locale="en-US", width=390, height=844)
    login(phone, "manager")
    phone.goto("/approvals/")
    task = phone.locator(f'[data-testid=task][data-request="{new.pk}"]')
    task.get_by_test_id("approve").click()
    expect(phone.locator(f'[data-testid=task][data-request="{new.pk}"]')).to_have_count(0)
    phone.screenshot(path=str(screenshot_dir / "inbox-390.png"), full_page=True)
    new.refresh_from_db()
    assert new.status == RequestStatus.APPROVED

    watch = browse.watch
    assert watch.csp_violations() == []
    assert watch.page_errors == []
    assert watch.console_errors == []
    assert watch.bad_responses == []


def test_designer_in_chinese_and_request_from_work_order(world, browse):
    _org(world)
    flow = services.do_create_flow(actor=world.manager, data={"name": "配件采购", "action": "purchase_part",
                                                              "tree": purchase_tree()})
    services.do_publish(actor=world.manager, flow=flow)
    page = browse()  # zh-CN
    login(page, "manager")
    page.goto(f"/approvals/flows/{flow.pk}/designer")
    tree = page.get_by_test_id("designer-tree")
    expect(tree.locator('[data-node="fin"] .badge')).to_have_text("审批人")
    expect(tree.locator('[data-node="tier"] .badge').first).to_have_text("条件")
    expect(page.get_by_test_id("add-auto-rule")).to_contain_text("添加自动通过规则")

    # An engineer asks for a part from the work order page; the manager sees it in the badge.
    wo = make_wo(world, status=S.IN_PROGRESS)
    eng = browse()
    login(eng, "eng_x")
    eng.goto(f"/work-orders/{wo.code}/")
    card = eng.get_by_test_id("request-approval")
    card.locator("[name=amount]").fill("320")
    card.locator("[name=part]").fill("血氧探头")
    eng.get_by_test_id("request-approval-submit").click()
    expect(eng.get_by_test_id("request-status")).to_have_text("待审批")
    page.goto("/approvals/")
    expect(page.get_by_test_id("nav-approvals-badge")).to_have_text("1")
    page.get_by_test_id("task").get_by_test_id("approve").click()
    expect(page.get_by_test_id("inbox-empty")).to_be_visible()
    assert wo.approvals.get().status == RequestStatus.APPROVED

    watch = browse.watch
    assert watch.csp_violations() == []
    assert watch.page_errors == []
    assert watch.console_errors == []
    assert watch.bad_responses == []


def _drag(page, source, target):
    """Press on the source handle, move over the target in steps (SortableJS reacts to dragover), release."""
    source.scroll_into_view_if_needed()
    a = source.bounding_box()
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    target.scroll_into_view_if_needed()
    b = target.bounding_box()
    for i in range(1, 11):
        page.mouse.move(b["x"] + b["width"] / 2, b["y"] + 2 + (b["height"] / 2 - 2) * i / 10, steps=2)
    page.mouse.up()


@pytest.mark.parametrize(("locale", "width", "tag"), [("en-US", 1440, "1440-en"), ("zh-CN", 390, "390-zh")])
def test_nodes_are_dragged_within_a_list_and_into_a_branch(world, browse, screenshot_dir, locale, width, tag):
    """Real drag and drop (SortableJS) by each node's handle: the cc node dragged above the condition,
    then the finance approver dragged out of the default branch to the top level; the saved draft
    follows the new order."""
    from closeloop.approvals.models import ApprovalFlow

    _org(world)
    flow = services.do_create_flow(actor=world.manager, data={"name": "配件采购", "action": "purchase_part",
                                                              "tree": purchase_tree()})
    page = browse(locale=locale, width=width, height=900)
    login(page, "manager")
    page.goto(f"/approvals/flows/{flow.pk}/designer")
    tree = page.get_by_test_id("designer-tree")
    top = tree.locator(":scope > .cl-flow-list > [data-testid=node]")
    expect(top).to_have_count(2)
    _drag(page, top.nth(1).locator(":scope > .card-body > div > [data-drag-handle]"),
          top.nth(0).locator(":scope > .card-body > div > [data-drag-handle]"))
    expect(top.nth(0)).to_have_attribute("data-node", "cc-store")
    fin = tree.locator('[data-node="fin"] > .card-body > div > [data-drag-handle]')
    _drag(page, fin, tree.locator(":scope > .cl-flow-list > [data-node=cc-store] > .card-body > div > [data-drag-handle]"))
    expect(tree.locator(':scope > .cl-flow-list > [data-node="fin"]')).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
    page.screenshot(path=str(screenshot_dir / f"flow-designer-drag-{tag}.png"), full_page=True)
    page.get_by_test_id("save-draft").click()
    expect(page.get_by_test_id("designer-status")).not_to_be_empty()
    draft = ApprovalFlow.objects.get(pk=flow.pk).draft
    top_ids = [n["id"] for n in draft["nodes"]]
    assert top_ids == ["fin", "cc-store", "tier"]  # fin dropped onto cc-store's handle: just above it
    default_branch = next(b for b in draft["nodes"][top_ids.index("tier")]["branches"] if b.get("default"))
    assert [n["id"] for n in default_branch["nodes"]] == ["lead2"]
    assert browse.watch.page_errors == [] and browse.watch.csp_violations() == []
