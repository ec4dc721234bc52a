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
