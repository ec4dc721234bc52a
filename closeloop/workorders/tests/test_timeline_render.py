"""Every timeline kind another app writes renders its details on the work order page,
not just its label (apps register a template through panels.register_event)."""

import pytest
from django.test import Client

from closeloop.workorders import timeline

from .factories import make_wo

EVENTS = [
    ("checkin", {"scanned": "SITE-A", "distance_m": 820, "flags": ["Checked in 820 m from the site."]},
     ["SITE-A", "820", "Checked in 820 m from the site."]),
    ("gate", {"closure_form": {"temperature": 182}}, ["temperature: 182"]),
    ("gate", {"step": "检查密封圈", "index": 1, "result": "fail", "note": "漏气"}, ["检查密封圈", "漏气"]),
    ("gate", {"part": "滤网", "part_number": "F-22", "quantity": "2.00"}, ["滤网", "F-22"]),
    ("signature", {"signer": "王主任", "version": 7, "via": "device"}, ["王主任", "7"]),
    ("evidence", {"reviewed": [1, 2], "note": "位置已核实"}, ["位置已核实"]),
    ("portal", {"via": "qr", "place": "SITE-A"}, ["SITE-A"]),
    ("portal", {"rating": 4, "comment": "很及时", "signer_name": "李工", "signed": True}, ["很及时", "李工"]),
    ("approval", {"event": "bypassed", "name": "财务", "reason": "设备停机"}, ["设备停机"]),
    ("handoff", {"event": "handoff_rated", "score": 3, "reasons": ["missing_info"], "comment": "缺序列号"},
     ["缺序列号", "3/5"]),
]


@pytest.mark.parametrize("kind,data,expected", EVENTS)
def test_event_details_render(world, kind, data, expected):
    wo = make_wo(world)
    timeline.append_event(wo, kind, actor=world.dispatcher, data=data)
    c = Client()
    c.force_login(world.dispatcher)
    html = c.get(f"/work-orders/{wo.code}/").content.decode()
    for text in expected:
        assert text in html, (kind, text)


def test_rule_escalation_and_automatic_dispatch_render(world):
    wo = make_wo(world)
    timeline.append_event(wo, "escalation", actor=world.manager, data={
        "rule": "夜间升级", "actions": ["raise_priority", "notify"], "priority": {"from": "high", "to": "urgent"},
        "notified": ["manager"], "message": "请尽快处理"})
    timeline.append_event(wo, "dispatch", data={
        "mode": "auto", "automatic": True, "assignee": "eng_x", "explanation": "eng_x: 技能 1/1",
        "estimated_start": "2026-12-07T01:00:00+00:00", "estimated_finish": "2026-12-07T03:00:00+00:00"})
    c = Client()
    c.force_login(world.dispatcher)
    html = c.get(f"/work-orders/{wo.code}/").content.decode()
    assert "夜间升级" in html and "of the ladder" not in html and "请尽快处理" in html
    assert 'data-testid="dispatch-eta"' in html and "12-07 09:00" in html  # Asia/Shanghai


def _page(world, wo, language: str) -> str:
    c = Client()
    c.force_login(world.manager)
    return c.get(f"/work-orders/{wo.code}/", HTTP_ACCEPT_LANGUAGE=language).content.decode()


def _between(html: str, testid: str) -> str:
    """The text (tags and attributes left out) of the first element with that test id, to its event's end."""
    import re

    return re.sub(r"<[^>]+>", " ", "<" + html.split(f'data-testid="{testid}"', 1)[1].split("</li>", 1)[0])


@pytest.mark.parametrize("language,expected", [
    ("zh-hans", ["模温: 182 °C", "首件合格: 是", "班次: 早"]),
    ("en", ["模温: 182 °C", "首件合格: Yes", "班次: 早"]),
])
def test_closure_form_shows_field_labels_not_keys(world, language, expected):
    """The closure form's event names each field by the label the type's closure policy gives it
    (its unit after a number, yes/no for a boolean), in the reader's language; a field since removed
    from the policy keeps its key."""
    from closeloop.fieldwork.models import ClosurePolicy

    ClosurePolicy.objects.create(wo_type=world.production, form_fields=[
        {"key": "mold_temp", "label": "模温", "kind": "number", "unit": "°C", "min": 0, "max": 400},
        {"key": "first_ok", "label": "首件合格", "kind": "boolean"},
        {"key": "shift", "label": "班次", "kind": "text"}])
    wo = make_wo(world, wo_type=world.production)
    timeline.append_event(wo, "gate", actor=world.eng_x, data={
        "closure_form": {"mold_temp": 182, "first_ok": True, "shift": "早", "old_field": "x"}})
    html = _page(world, wo, language)
    event = _between(html, "fieldwork-event")
    for text in expected:
        assert text in event, (text, event)
    for key in ("mold_temp", "first_ok", "True"):
        assert f">{key}:" not in event and f": {key}<" not in event, (key, event)
    assert "old_field: x" in event


@pytest.mark.parametrize("language,expected,absent", [
    ("zh-hans", ["第 1 级", "首次响应", "已提醒处理人", "已提升优先级", "已通知后备团队", "高", "紧急", "Team Y 华南"],
     ["remind_assignee", "raise_priority", "reassign_backup", "(response)", "team-y"]),
    ("en", ["Level 1 of the ladder (First response)", "Reminded the assignee", "Raised the priority",
            "Told the backup team", "High", "Urgent", "Team Y 华南"],
     ["remind_assignee", "raise_priority", "reassign_backup", "(response)", "team-y"]),
])
def test_sla_escalation_shows_level_milestone_and_action_names(world, language, expected, absent):
    wo = make_wo(world)
    timeline.append_event(wo, "escalation", data={
        "milestone": "response", "level": 1, "policy": "std", "policy_version": 1,
        "actions": ["remind_assignee", "raise_priority", "reassign_backup"],
        "priority": {"from": "high", "to": "urgent"}, "team": {"from": "team-x", "to": "team-y"}})
    event = _between(_page(world, wo, language), "escalation")
    for text in expected:
        assert text in event, (text, event)
    for text in absent:
        assert text not in event, (text, event)


def test_rule_escalation_names_its_actions(world):
    wo = make_wo(world)
    timeline.append_event(wo, "escalation", actor=world.manager, data={
        "rule": "夜间升级", "actions": ["raise_priority", "move_team", "notify"],
        "priority": {"from": "normal", "to": "high"}, "notified": ["manager"]})
    event = _between(_page(world, wo, "en"), "escalation")
    assert "Raised the priority" in event and "Moved to another team" in event and "Normal" in event
    assert "raise_priority" not in event


def test_assignment_names_the_team_not_its_code(world):
    """An assignment shows the team's name; events stored before the name was kept look it up."""
    from closeloop.workorders.services import do_transition

    wo = make_wo(world)
    do_transition(actor=world.dispatcher, wo=wo, action="assign", data={"assignee": "eng_x"})
    timeline.append_event(wo, "transition", actor=world.dispatcher, action="assign",
                          data={"assignee": "eng_y", "assignee_name": "eng_y", "team": "team-y"})
    html = _page(world, wo, "en")
    shown = [part.split("</span>", 1)[0] for part in html.split('data-testid="event-team">')[1:]]
    assert sorted(shown) == ["(Team X 华东)", "(Team Y 华南)"], shown


def test_a_link_event_names_its_kind_in_words_on_both_ends(world):
    """A link shows "Repeat of X" on the new work order and "Linked here: Repeat of Y" on the earlier
    one, in the reader's language, never the stored key ("repeat")."""
    import re

    from django.conf import settings

    from closeloop.workorders import services

    first, again = make_wo(world), make_wo(world)
    services.do_link(actor=world.dispatcher, wo=again, target=first, kind="repeat")
    for lang, on_again, on_first in (("en", "Repeat of", "Linked here: Repeat of"),
                                     ("zh-hans", None, None)):
        c = Client()
        c.force_login(world.dispatcher)
        c.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
        for wo, other, words in ((again, first, on_again), (first, again, on_first)):
            html = c.get(f"/work-orders/{wo.code}/").content.decode()
            event = re.search(r'data-testid="link-event">(.*?)</div>', html, re.S).group(1)
            label = re.sub(r"<[^>]+>", "", event.split("<a ")[0]).strip()
            assert other.code in event and "repeat" not in label, (lang, event)
            if words:
                assert label == words, (lang, label)
            else:
                assert label and label.isascii() is False, (lang, label)
