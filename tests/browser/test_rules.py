"""The rules console in a real browser: a manager builds a rule in the visual builder
(keyword library "urgent" and a top-grade hospital → priority urgent), sees the CEL it
writes, tries it on an existing work order (each part of the condition matched, and what
would change), saves it; a new work order with 呼吸机离线 in its title then comes out
urgent. A condition typed with an error shows the message with a caret under its column,
and the server refuses to save it. The enabled switch works without a reload."""

import re

import pytest
from playwright.sync_api import expect

from closeloop.rules.models import Rule
from closeloop.rules.services import do_save_keyword_library
from closeloop.workorders import services as wo_services
from closeloop.workorders.models import WorkOrder

from .test_journey import DETAIL_URL, login, open_nav

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_build_try_save_and_fire(world, browse, screenshot_dir):
    do_save_keyword_library(actor=world.manager, name="urgent",
                            data={"label": "紧急", "words": ["监护仪黑屏", "呼吸机离线", "停机"]})
    old = wo_services.do_create_work_order(actor=world.dispatcher, data={
        "type": "repair", "title": "ICU 呼吸机离线", "site": "site-a"})
    assert old.priority == "normal"

    page = browse(locale="en-US")
    login(page, "manager")
    open_nav(page, "rules")
    expect(page.get_by_test_id("no-rules")).to_be_visible()
    page.get_by_test_id("new-rule").click()
    page.locator("#id_name").fill("呼吸机离线即紧急")

    # The visual builder: keyword library AND site grade.
    builder = page.get_by_test_id("builder")
    expect(builder.get_by_test_id("builder-empty")).to_be_visible()
    builder.get_by_test_id("builder-add-row").click()
    builder.get_by_test_id("builder-field").select_option("wo.keywords.urgent")
    expect(builder.get_by_test_id("builder-op")).to_have_value("is_true")
    cel = page.get_by_test_id("condition")
    expect(cel).to_have_value("wo.keywords.urgent")
    builder.get_by_test_id("builder-add-row").click()
    row = builder.get_by_test_id("builder-row").nth(1)
    row.get_by_test_id("builder-field").select_option("wo.site.grade")
    row.get_by_test_id("builder-value").fill("三级甲等")
    expect(cel).to_have_value('wo.keywords.urgent && wo.site.grade == "三级甲等"')
    expect(page.get_by_test_id("condition-valid")).to_be_visible()
    expect(cel).to_have_attribute("readonly", "")

    # A nested "any" group, then removed again.
    builder.get_by_test_id("builder-add-group").first.click()
    inner = builder.locator('[data-testid=builder-group][data-depth="1"]')
    inner.get_by_test_id("builder-field").select_option("wo.priority")
    inner.get_by_test_id("builder-op").select_option("in")
    inner.get_by_test_id("builder-value").fill("normal, high")
    expect(cel).to_have_value('wo.keywords.urgent && wo.site.grade == "三级甲等" && wo.priority in ["normal", "high"]')
    inner.get_by_test_id("builder-remove-group").click()
    expect(cel).to_have_value('wo.keywords.urgent && wo.site.grade == "三级甲等"')

    # Actions: set priority urgent, and a comment moved above it, then removed.
    page.get_by_test_id("add-action-type").select_option("set_priority")
    page.get_by_test_id("add-action").click()
    page.get_by_test_id("action").first.get_by_test_id("action-priority").select_option("urgent")
    page.get_by_test_id("add-action-type").select_option("comment")
    page.get_by_test_id("add-action").click()
    page.get_by_test_id("action").nth(1).get_by_test_id("action-body").fill("关键词命中")
    page.get_by_test_id("action").nth(1).get_by_test_id("action-up").click()
    expect(page.get_by_test_id("action").first).to_have_attribute("data-type", "comment")
    page.get_by_test_id("action").first.get_by_test_id("action-remove").click()
    expect(page.get_by_test_id("action")).to_have_count(1)

    # Try it on the existing work order, without saving.
    page.get_by_test_id("try-code").fill(old.code)
    page.get_by_test_id("try-button").click()
    parts = page.get_by_test_id("try-part")
    expect(parts).to_have_count(2)
    expect(parts.nth(0)).to_have_attribute("data-result", "true")
    expect(parts.nth(1)).to_have_attribute("data-result", "true")
    expect(page.get_by_test_id("try-fires")).to_have_text("Would fire")
    expect(page.get_by_test_id("try-keywords")).to_contain_text("呼吸机离线")
    expect(page.get_by_test_id("try-action")).to_have_text("priority normal → urgent")
    assert Rule.objects.count() == 0
    page.screenshot(path=str(screenshot_dir / "rule-editor.png"), full_page=True)

    page.get_by_test_id("save-rule").click()
    page.wait_for_url("**/rules/")
    expect(page.get_by_test_id("rule-row")).to_have_count(1)
    rule = Rule.objects.get()
    assert rule.condition == 'wo.keywords.urgent && wo.site.grade == "三级甲等"'
    assert rule.actions == [{"type": "set_priority", "priority": "urgent"}] and rule.owner == world.manager
    old.refresh_from_db()
    assert old.priority == "normal"  # the dry run changed nothing

    # A new work order with 呼吸机离线 in its title comes out urgent.
    page.get_by_test_id("nav-create").click()
    page.wait_for_url("**/work-orders/new")
    if page.locator("#id_type").input_value() != "repair":
        with page.expect_response(re.compile(r"/work-orders/new/fields\?type=repair")):
            page.locator("#id_type").select_option("repair")
    page.locator("#id_title").fill("3床呼吸机离线")
    page.locator("#id_site").fill("site-a")
    page.get_by_test_id("create-submit").click()
    page.wait_for_url(DETAIL_URL)
    expect(page.get_by_test_id("wo-priority")).to_have_text("Urgent")
    assert WorkOrder.objects.get(title="3床呼吸机离线").priority == "urgent"

    # The switch on the list turns the rule off without a reload.
    open_nav(page, "rules")
    page.get_by_test_id("toggle-enabled").click()
    expect(page.get_by_test_id("rule-row")).to_have_class(re.compile("text-secondary"))
    expect(page.get_by_test_id("toggle-enabled")).not_to_be_checked()
    rule.refresh_from_db()
    assert rule.enabled is False

    watch = browse.watch
    assert watch.csp_violations() == []
    assert watch.page_errors == []
    assert watch.console_errors == []
    assert watch.bad_responses == []


def test_condition_error_shows_a_caret(world, browse, screenshot_dir):
    do_save_keyword_library(actor=world.manager, name="urgent", data={"label": "紧急", "words": ["停机"]})
    page = browse()  # zh-CN
    login(page, "manager")
    page.goto("/rules/new")
    page.locator("#id_name").fill("坏条件")
    page.get_by_test_id("cel-toggle").click()
    cel = page.get_by_test_id("condition")
    expect(cel).not_to_have_attribute("readonly", "")
    cel.fill('wo.keywords.urgent && wo.site.grade ==* "三级甲等"')
    cel.press("Tab")
    caret = page.get_by_test_id("condition-check").get_by_test_id("condition-caret")
    expect(caret).to_be_visible()
    lines = caret.text_content().split("\n")
    assert lines[0] == 'wo.keywords.urgent && wo.site.grade ==* "三级甲等"'
    assert lines[1].endswith("^") and 30 <= len(lines[1]) - 1 <= 40
    expect(page.get_by_test_id("condition-position")).to_contain_text("1")

    # Back to the builder is refused for a condition it cannot show; saving is refused with the caret.
    page.get_by_test_id("cel-toggle").click()
    expect(page.get_by_test_id("condition-message")).to_be_visible()
    page.get_by_test_id("save-rule").click()
    expect(page.get_by_test_id("error-condition")).to_be_visible()
    expect(page.get_by_test_id("error-condition").get_by_test_id("condition-caret")).to_contain_text("^")
    assert Rule.objects.count() == 0

    # Fixed by hand, it goes back into the builder.
    cel = page.get_by_test_id("condition")
    cel.fill('wo.keywords.urgent && wo.site.grade == "三级甲等"')
    cel.press("Tab")
    expect(page.get_by_test_id("condition-valid")).to_be_visible()
    page.get_by_test_id("cel-toggle").click()
    expect(page.get_by_test_id("builder-row")).to_have_count(2)
    expect(page.get_by_test_id("builder-row").nth(1).get_by_test_id("builder-value")).to_have_value("三级甲等")
    page.screenshot(path=str(screenshot_dir / "rule-editor-zh.png"), full_page=True)

    # Custom fields offered are those of the scoped type.
    first_field = page.get_by_test_id("builder-field").first
    expect(first_field.locator('option[value="wo.custom.temperature"]')).to_have_count(1)
    page.locator("#id_scope_type").select_option("repair")
    expect(page.get_by_test_id("builder-field").first.locator('option[value="wo.custom.temperature"]')).to_have_count(0)
    page.locator("#id_scope_type").select_option("production")
    expect(page.get_by_test_id("builder-field").first.locator('option[value="wo.custom.temperature"]')).to_have_count(1)

    watch = browse.watch
    assert watch.csp_violations() == []
    assert watch.page_errors == []
    assert watch.console_errors == []


def test_dispatcher_sees_a_read_only_editor_and_tries_the_saved_rule(world, browse):
    from closeloop.rules.services import do_create_rule

    do_save_keyword_library(actor=world.manager, name="urgent", data={"label": "紧急", "words": ["停机"]})
    rule = do_create_rule(actor=world.manager, data={
        "name": "停机", "condition": 'wo.keywords.urgent || wo.priority in ["high", "urgent"]',
        "actions": [{"type": "notify", "recipients": ["team_lead"], "channels": ["sms"], "message": "{code}"}]})
    wo = wo_services.do_create_work_order(actor=world.dispatcher, data={
        "type": "repair", "title": "产线停机", "site": "site-a", "team": "team-x"})
    page = browse(locale="en-US")
    login(page, "dispatcher")
    open_nav(page, "rules")
    expect(page.get_by_test_id("toggle-enabled")).to_have_count(0)
    expect(page.get_by_test_id("new-rule")).to_have_count(0)
    page.get_by_test_id("edit-rule").click()
    expect(page.get_by_test_id("builder-row")).to_have_count(2)
    expect(page.get_by_test_id("builder-field").first).to_be_disabled()
    expect(page.get_by_test_id("builder-add-row")).to_have_count(0)
    expect(page.get_by_test_id("cel-toggle")).to_be_hidden()
    expect(page.get_by_test_id("action")).to_have_attribute("data-type", "notify")
    expect(page.get_by_test_id("action-channel-sms")).to_be_checked()
    expect(page.get_by_test_id("action-channel-sms")).to_be_disabled()
    expect(page.get_by_test_id("save-rule")).to_have_count(0)
    page.get_by_test_id("try-code").fill(wo.code)
    page.get_by_test_id("try-button").click()
    parts = page.get_by_test_id("try-part")
    expect(parts).to_have_count(2)
    expect(parts.nth(0)).to_have_attribute("data-result", "true")
    expect(parts.nth(1)).to_have_attribute("data-result", "false")
    expect(page.get_by_test_id("try-action")).to_contain_text("notify")
    rule.refresh_from_db()
    assert rule.version == 1

    watch = browse.watch
    assert watch.csp_violations() == []
    assert watch.page_errors == []
    assert watch.console_errors == []
    assert watch.bad_responses == []
