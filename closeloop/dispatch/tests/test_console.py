"""The work order page: the suggested engineers card for those who assign, and the
rule / dispatch events on the timeline."""

from closeloop.accounts.models import EngineerSkill, SkillTag
from closeloop.dispatch.models import SkillRequirement
from closeloop.dispatch.services import do_dispatch_work_order
from closeloop.rules.services import do_create_rule
from closeloop.workorders.services import do_create_work_order


def test_card_and_timeline(world):
    tag = SkillTag.objects.create(name="呼吸机")
    SkillRequirement.objects.create(asset_model="V60", tag=tag, min_level=2)
    EngineerSkill.objects.create(user=world.eng_x, tag=tag, level=3)
    do_create_rule(actor=world.manager, data={"name": "关键词规则", "condition": 'wo.title.contains("离线")',
                                              "actions": [{"type": "set_priority", "priority": "urgent"}]})
    wo = do_create_work_order(actor=world.dispatcher, data={"type": "repair", "title": "呼吸机离线",
                                                            "asset": "SN-A-1"})
    page = world.browser_client(world.dispatcher).get(f"/work-orders/{wo.code}/").content.decode()
    assert 'data-testid="suggestions"' in page and 'data-username="eng_x"' in page
    assert "eng_y: " in page  # left out, with the reason
    assert 'data-testid="rule-event"' in page and "关键词规则" in page
    engineer_page = world.browser_client(world.eng_x).get(f"/work-orders/{wo.code}/").content.decode()
    assert 'data-testid="suggestions"' not in engineer_page
    do_dispatch_work_order(actor=world.dispatcher, wo=wo, assignee="eng_x2", reason="客户指定")
    page = world.browser_client(world.dispatcher).get(f"/work-orders/{wo.code}/").content.decode()
    assert 'data-testid="dispatch-event"' in page and "客户指定" in page
    assert "style=" not in page.split('data-testid="suggestions"')[1].split("</details>")[0]
