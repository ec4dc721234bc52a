"""Templates per event and channel, in the recipient's language, within channel limits."""

from closeloop.notify import messages

CTX = {"code": "WD2026112200001", "title": "数据中心机房精密空调高温告警" * 5, "priority": "紧急",
       "url": "http://127.0.0.1:8000/work-orders/WD2026112200001",
       "ack_url": "http://127.0.0.1:8000/notifications/ack/" + "x" * 43}


def test_sms_is_short_and_keeps_the_acknowledge_link_whole():
    r = messages.render("ack.request", "sms", CTX, "zh-hans")
    assert r.body.endswith(CTX["ack_url"]) and len(r.body) <= messages.SMS_MAX + 1 + len(CTX["ack_url"])
    assert r.body.startswith("紧急工单 WD2026112200001")


def test_voice_has_no_links_and_robots_get_markdown():
    v = messages.render("ack.request", "voice", CTX, "zh-hans")
    assert "http" not in v.body and len(v.body) <= messages.VOICE_MAX
    m = messages.render("sla.escalation", "dingtalk", {**CTX, "milestone": "response", "level": 2,
                                                        "due_local": "2026-11-22 03:15"}, "en")
    assert m.markdown.startswith("### SLA escalation: WD2026112200001")
    assert f"[Open work order]({CTX['url']})" in m.markdown and "[Acknowledge](" in m.markdown


def test_language_and_unknown_events_and_no_field_lookups():
    assert messages.render("test", "email", {"channel": "c"}, "zh-hans").subject == "closeloop 测试消息"
    assert messages.render("test", "email", {"channel": "c"}, "en").subject == "closeloop test message"
    r = messages.render("custom.thing", "email", {"code": "WD1", "title": "t", "message": "hello {code.__class__}"},
                        "en")
    assert r.subject == "WD1 t" and r.body == "hello {code.__class__}"  # payload text is not a template
