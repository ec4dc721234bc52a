"""Acknowledge or escalate: urgent work at night walks IM → SMS → voice → backup →
supervisor, one delayed outbox row per step, until someone acknowledges."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client

from closeloop.notify import ack
from closeloop.notify.conftest import drain
from closeloop.notify.models import AckChain, AckPolicy, Channel, Delivery, InboxItem
from closeloop.workorders.models import TimelineEvent
from closeloop.workorders.services import do_transition
from closeloop.workorders.tests.factories import make_wo

pytestmark = pytest.mark.django_db
NIGHT = datetime(2026, 11, 23, 19, 0, tzinfo=UTC)  # 03:00 Tuesday in Shanghai
DAY = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 Tuesday


@pytest.fixture
def chain_world(world, sink):
    AckPolicy.objects.create(name="urgent at night", priorities=["urgent"], steps=ack.DEFAULT_STEPS)
    Channel.objects.create(kind="dingtalk", name="robot", config={"url": sink.url + "/robot/send?access_token=t"},
                           created_at=NIGHT)
    Channel.objects.create(kind="sms_twilio", name="sms", created_at=NIGHT, config={
        "account_sid": "AC1", "auth_token": "t", "from_number": "+1555", "endpoint": sink.url})
    Channel.objects.create(kind="voice_twilio", name="voice", created_at=NIGHT, config={
        "account_sid": "AC1", "auth_token": "t", "from_number": "+1555", "endpoint": sink.url})
    for u, phone in ((world.eng_x, "+8613800000010"), (world.eng_x2, "+8613800000011"),
                     (world.manager, "+8613800000012")):
        u.phone = phone
        u.save()
    sink.responses = [(201, {}, {"sid": "X", "errcode": 0})]
    return world


def _assign(world, at):
    with time_machine.travel(at, tick=False):
        wo = make_wo(world, priority="urgent")
        do_transition(actor=world.dispatcher, wo=wo, action="assign", data={"assignee": "eng_x"})
    return wo


def _steps(wo):
    return [e.data.get("step") for e in TimelineEvent.objects.filter(work_order=wo, kind="notification",
                                                                     action="ack")]


def test_nobody_acknowledges_the_whole_chain_runs(chain_world, sink):
    world = chain_world
    wo = _assign(world, NIGHT)
    chain = AckChain.objects.get(work_order=wo)
    assert chain.target == world.eng_x
    for minutes in (0, 5, 10, 15, 25):
        with time_machine.travel(NIGHT + timedelta(minutes=minutes, seconds=1), tick=False):
            drain()
    assert _steps(wo) == ["start", "im", "sms", "voice", "backup", "supervisor"]
    media = {(d.recipient, d.medium) for d in Delivery.objects.filter(work_order=wo)}
    assert {("eng_x", "inbox"), ("eng_x", "dingtalk"), ("eng_x", "sms"), ("eng_x", "voice")} <= media
    assert ("eng_x2", "sms") in media and ("manager", "voice") in media
    paths = [r["path"] for r in sink.requests]
    assert any(p.endswith("/Calls.json") for p in paths) and any(p.startswith("/robot/send") for p in paths)
    item = InboxItem.objects.filter(user=world.eng_x, chain=chain).first()
    assert item is not None and "/notifications/ack/" in item.body


def test_the_link_acknowledges_and_stops_the_chain(chain_world, sink):
    wo = _assign(chain_world, NIGHT)
    with time_machine.travel(NIGHT + timedelta(seconds=1), tick=False):
        drain()
        body = InboxItem.objects.get(user=chain_world.eng_x, event="ack.request").body
        path = "/notifications/ack/" + body.split("/notifications/ack/")[1].split()[0]
        c = Client()
        r = c.get(path)
        assert r.status_code == 200 and b'data-testid="ack-confirm"' in r.content
        assert AckChain.objects.get().acked_at is None  # GET (a link preview) does not acknowledge
        r = c.post(path)
        assert b'data-testid="ack-done"' in r.content
        assert c.get("/notifications/ack/not-a-token").status_code == 404
    for minutes in (5, 10, 15, 25):
        with time_machine.travel(NIGHT + timedelta(minutes=minutes, seconds=1), tick=False):
            drain()
    assert _steps(wo) == ["start", "im", "ack"]
    assert AckChain.objects.get().acked_via == "link"
    with time_machine.travel(NIGHT + timedelta(days=2), tick=False):
        assert c.get(path).status_code == 404  # expired


def test_accepting_the_work_order_acknowledges(chain_world):
    world = chain_world
    wo = _assign(world, NIGHT)
    with time_machine.travel(NIGHT + timedelta(minutes=6), tick=False):
        drain()
        do_transition(actor=world.eng_x, wo=wo, action="accept", data={})
    with time_machine.travel(NIGHT + timedelta(minutes=30), tick=False):
        drain()
    assert _steps(wo) == ["start", "im", "sms", "ack"]
    assert AckChain.objects.get().acked_via == "work_order"


def test_in_app_button_and_permissions(chain_world):
    world = chain_world
    wo = _assign(world, NIGHT)
    chain = AckChain.objects.get(work_order=wo)
    with time_machine.travel(NIGHT + timedelta(minutes=1), tick=False):
        r = world.api(world.eng_y, ["read", "write"]).post(f"/api/v1/notifications/chains/{chain.pk}/ack")
        assert r.status_code == 404  # team-y cannot see team-x work
        r = world.api(world.cust_a, ["read", "write"]).post(f"/api/v1/notifications/chains/{chain.pk}/ack")
        assert r.status_code == 403  # their own work order: seen, but not theirs to acknowledge
        r = world.api(world.eng_x, ["read", "write"]).post(f"/api/v1/notifications/chains/{chain.pk}/ack")
        assert r.status_code == 200 and r.json()["via"] == "app"


def test_no_chain_in_working_hours_or_for_normal_priority(chain_world):
    world = chain_world
    _assign(world, DAY)
    with time_machine.travel(NIGHT, tick=False):
        wo = make_wo(world, priority="high")
        do_transition(actor=world.dispatcher, wo=wo, action="assign", data={"assignee": "eng_x"})
    assert not AckChain.objects.exists()


def test_policy_validation(world):
    from closeloop.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as e:
        ack.do_save_policy(actor=world.admin, data={"name": "p", "steps": [{"after": 5, "do": "fax"}],
                                                     "priorities": ["mega"], "work_start": "25:00"})
    assert {p.field for p in e.value.problems} == {"steps[0]", "priorities", "work_start"}
    p = ack.do_save_policy(actor=world.admin, data={"name": "p", "steps": [{"after": 0, "do": "sms"}]})
    assert p.steps == [{"after": 0, "do": "sms"}]


def test_a_policy_for_high_and_urgent_starts_for_high_too(chain_world):
    """Issue 15: a policy saved for high and urgent only ever started for urgent."""
    world = chain_world
    AckPolicy.objects.all().delete()
    r = world.api(world.admin, ["read", "write", "admin"]).post("/api/v1/notifications/ack-policies", {
        "name": "high and urgent at night", "priorities": ["high", "urgent"], "steps": ack.DEFAULT_STEPS})
    assert r.status_code in (200, 201), r.content
    with time_machine.travel(NIGHT, tick=False):
        high = make_wo(world, priority="high")
        do_transition(actor=world.dispatcher, wo=high, action="assign", data={"assignee": "eng_x"})
        normal = make_wo(world, priority="normal")
        do_transition(actor=world.dispatcher, wo=normal, action="assign", data={"assignee": "eng_x"})
    assert AckChain.objects.filter(work_order=high, target=world.eng_x).exists()
    assert not AckChain.objects.filter(work_order=normal).exists()
    assert _steps(high) == ["start"]


@pytest.mark.parametrize("language,high_words,urgent_words", [
    ("zh-hans", ("高优先级", "优先级 高"), ("紧急",)),
    ("en", ("High priority", "priority High"), ("URGENT", "Urgent work order")),
])
def test_messages_name_the_priority_a_chain_started_for(chain_world, language, high_words, urgent_words):
    """A chain for a high-priority work order does not call it urgent (nor "URGENT" in Chinese): each
    message names its priority, translated; the acknowledge page too. Urgent ones keep 紧急 / URGENT."""
    world = chain_world
    AckPolicy.objects.all().delete()
    AckPolicy.objects.create(name="high and urgent", priorities=["high", "urgent"], steps=ack.DEFAULT_STEPS)
    for u in (world.eng_x, world.eng_x2, world.manager):
        u.language = language
        u.save()
    with time_machine.travel(NIGHT, tick=False):
        high = make_wo(world, priority="high")
        do_transition(actor=world.dispatcher, wo=high, action="assign", data={"assignee": "eng_x"})
        urgent = make_wo(world, priority="urgent")
        do_transition(actor=world.dispatcher, wo=urgent, action="assign", data={"assignee": "eng_x"})
    for minutes in (0, 5, 10, 15, 25):
        with time_machine.travel(NIGHT + timedelta(minutes=minutes, seconds=1), tick=False):
            drain()
    high_msgs = list(Delivery.objects.filter(work_order=high, event__startswith="ack."))
    assert {d.event for d in high_msgs} == {"ack.request", "ack.backup", "ack.supervisor"}
    for d in high_msgs:
        text = f"{d.subject} {d.body} {d.markdown}"
        assert "URGENT" not in text and "rgent" not in text and "紧急" not in text, (d.event, d.medium, text)
        assert any(w in text for w in high_words), (d.event, d.medium, text)
    for d in Delivery.objects.filter(work_order=urgent, event__startswith="ack.", medium="inbox"):
        assert any(w in d.subject + d.body for w in urgent_words), (d.event, d.subject)
    # The inbox renders the stored key and parameters again in the reader's language.
    c = Client()
    c.force_login(world.eng_x)
    with time_machine.travel(NIGHT + timedelta(minutes=30), tick=False):
        inbox = c.get("/notifications/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert high_words[0] in inbox
    # The acknowledge page of the high-priority chain.
    item = InboxItem.objects.filter(user=world.eng_x, event="ack.request", work_order=high).first()
    path = "/notifications/ack/" + item.body.split("/notifications/ack/")[1].split()[0].rstrip("。.")
    with time_machine.travel(NIGHT + timedelta(minutes=30), tick=False):
        page = Client().get(path, HTTP_ACCEPT_LANGUAGE=language).content.decode()
    text = page.split('data-testid="ack-text">')[1].split("</p>")[0]
    assert ("高优先级工单" if language == "zh-hans" else "High priority work order") in text
    assert "rgent" not in text and "紧急" not in text
