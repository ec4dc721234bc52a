"""Templates per event and channel, in the recipient's language, within channel limits."""

import pytest

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


def test_texts_are_keys_and_parameters_rendered_in_the_readers_language():
    """A caller's message is a key (any app's msgid) and parameters; labels travel in every language."""
    from closeloop.workorders.models import Priority

    msg = messages.text("Approval requested: %(a)s on %(c)s", a="配件采购", c="WD1")
    assert messages.resolve(msg, "en") == "Approval requested: 配件采购 on WD1"
    assert messages.resolve(msg, "zh-hans") == "待你审批：WD1 的 配件采购"
    label = messages.localized(Priority.URGENT.label)
    assert messages.resolve(label, "en") == "Urgent" and messages.resolve(label, "zh-hans") == "紧急"
    r = messages.render("approval.requested", "inbox", {"code": "WD1", "title": "t", "message": msg,
                                                        "priority": label}, "en")
    assert "配件采购 on WD1" in r.body and "待你审批" not in r.body
    # A translation that does not fit its parameters falls back to the source, never a crash.
    assert messages.resolve({"msgid": "%(x)s only", "params": {}}, "en") == "%(x)s only"


@pytest.mark.django_db
def test_status_and_priority_in_the_recipients_language_and_the_site_default(world):
    """Labels were rendered once in the worker's language (Chinese) for everyone; now per recipient.
    Without a language of their own, a recipient gets the site's (the company's from the first run)."""
    from django.utils import translation

    from closeloop.administration.models import CompanySettings
    from closeloop.core.clock import now
    from closeloop.notify.models import InboxItem
    from closeloop.notify.services import fan_out_payload
    from closeloop.workorders.tests.factories import make_wo

    world.eng_x.language = "en"
    world.eng_x.save()
    wo = make_wo(world, priority="urgent")
    with translation.override("zh-hans"):
        fan_out_payload("c1", {"event": "work_order.assigned", "work_order": wo.code,
                               "recipients": [{"user": "eng_x"}, {"user": "eng_y"}]}, now())
    en = InboxItem.objects.get(user=world.eng_x)
    assert "(priority Urgent)" in en.body and "紧急" not in en.body
    assert "紧急" in InboxItem.objects.get(user=world.eng_y).body  # eng_y has no language: the site's (zh-hans)
    CompanySettings.objects.create(name="ACME", time_zone="Asia/Shanghai", language="en", created_at=now())
    with translation.override("zh-hans"):
        fan_out_payload("c2", {"event": "work_order.assigned", "work_order": wo.code,
                               "recipients": [{"user": "eng_y"}]}, now())
    assert "(priority Urgent)" in InboxItem.objects.filter(user=world.eng_y).first().body


@pytest.mark.django_db
def test_delivery_on_the_timeline_is_shown_in_the_readers_language(world):
    """The timeline keeps the text written in the deployment's language; pages render it again."""
    from django.conf import settings

    from closeloop.workorders import timeline
    from closeloop.workorders.tests.factories import make_wo

    wo = make_wo(world)
    timeline.append_event(wo, "notification", action="delivery", data={
        "delivery": "k1", "recipient": "ops", "medium": "dingtalk", "via": "钉钉", "status": "delivered",
        "error": "", "event": "approval.requested", "channel": "ops", "text": "10:00 通过钉钉发给 ops — 已送达"})
    c = world.browser_client(world.dispatcher)
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = c.get(f"/work-orders/{wo.code}/").content.decode()
    event = html.split('data-testid="notification-event"')[1].split("</div>")[0]
    assert "sent to ops via DingTalk at" in event and "通过钉钉" not in event
    c.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    html = c.get(f"/work-orders/{wo.code}/").content.decode()
    assert "通过钉钉发给 ops — 已送达" in html.split('data-testid="notification-event"')[1].split("</div>")[0]
