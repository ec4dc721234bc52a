"""Delivery semantics through the real outbox: retries with Retry-After, permanent errors
flag the address, channels pause after N failures and tell their owner, a worker that dies
mid-delivery loses nothing, a redelivery carries the same id."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from closeloop.notify import services
from closeloop.notify.conftest import drain
from closeloop.notify.models import Channel, Delivery, FlaggedAddress, InboxItem, Status
from closeloop.outbox import services as outbox
from closeloop.outbox.models import OutboxMessage
from closeloop.workorders.models import TimelineEvent
from closeloop.workorders.tests.factories import make_wo

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"  # these tests read the English log texts


T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def _hook(sink, world, **kw):
    return Channel.objects.create(kind="webhook", name="hook", config={"url": sink.url + "/in"}, events=["ev"],
                                  owner=world.admin, created_at=T0, **kw)


def _cause(wo, key="c1"):
    outbox.enqueue("notify", key, {"event": "ev", "work_order": wo.code, "recipients": []})


def test_retry_after_then_delivered_with_the_same_id(world, sink):
    with time_machine.travel(T0, tick=False):
        _hook(sink, world)
        wo = make_wo(world)
        _cause(wo)
        sink.responses = [(429, {"Retry-After": "30"}, b""), (200, {}, b"ok")]
        drain()
        d = Delivery.objects.get()
        assert d.status == Status.FAILED and d.attempts == 1 and "429" in d.error
        row = OutboxMessage.objects.get(kind="notify.deliver")
        assert row.available_at == T0 + timedelta(seconds=30)
    with time_machine.travel(T0 + timedelta(seconds=31), tick=False):
        drain()
    d.refresh_from_db()
    assert d.status == Status.DELIVERED and d.attempts == 2
    ids = {r["headers"]["X-Closeloop-Delivery"] for r in sink.requests}
    assert ids == {d.key} and len(sink.requests) == 2
    texts = [e.data["text"] for e in TimelineEvent.objects.filter(work_order=wo, kind="notification")]
    assert len(texts) == 1 and "delivered" in texts[0]


def test_permanent_error_stops_at_once_and_flags_the_address(world, sink):
    Channel.objects.create(kind="sms_twilio", name="sms", created_at=T0, config={
        "account_sid": "AC1", "auth_token": "t", "from_number": "+1555", "endpoint": sink.url})
    world.eng_x.phone = "+1000"
    world.eng_x.save()
    sink.responses = [(400, {}, {"code": 21211, "message": "invalid number"})]
    with time_machine.travel(T0, tick=False):
        wo = make_wo(world)
        outbox.enqueue("notify", "c1", {"event": "ev", "work_order": wo.code, "recipients": [{"user": "eng_x"}],
                                        "channels": ["sms"]})
        drain()
        d = Delivery.objects.get(medium="sms")
        assert d.status == Status.PERMANENT and "invalid number" in d.error
        assert OutboxMessage.objects.get(kind="notify.deliver").done_at is not None
        assert FlaggedAddress.objects.filter(medium="sms", address="+1000").exists()
        ev = TimelineEvent.objects.filter(work_order=wo, kind="notification").last()
        assert "SMS" in ev.data["text"] and "failed" in ev.data["text"] and "invalid number" in ev.data["text"]
        # The next message to that address is skipped, not sent.
        outbox.enqueue("notify", "c2", {"event": "ev", "work_order": wo.code, "recipients": [{"user": "eng_x"}],
                                        "channels": ["sms"]})
        drain()
    assert len(sink.requests) == 1
    assert Delivery.objects.get(cause="c2").status == Status.SKIPPED


def test_channel_pauses_after_n_failures_and_tells_its_owner(world, sink, settings):
    settings.CLOSELOOP_NOTIFY_PAUSE_AFTER = 3
    sink.responses = [(503, {}, b"down")]
    t = T0
    with time_machine.travel(t, tick=False):
        ch = _hook(sink, world)
        wo = make_wo(world)
        for i in range(3):
            _cause(wo, f"c{i}")
        drain()
    ch.refresh_from_db()
    assert ch.paused_at is not None and ch.consecutive_failures == 3
    note = InboxItem.objects.get(user=world.admin, event="channel.paused")
    assert "hook" in note.subject
    # While paused nothing is sent; resuming makes the waiting messages due and they go out.
    sink.responses = [(200, {}, b"ok")]
    with time_machine.travel(t + timedelta(hours=2), tick=False):
        n = len(sink.requests)
        drain()
        assert len(sink.requests) == n
        services.do_resume_channel(actor=world.admin, channel=ch)
        drain()
    assert Delivery.objects.filter(medium="webhook", status=Status.DELIVERED).count() == 3


def test_a_worker_killed_mid_delivery_loses_nothing(world, sink):
    with time_machine.travel(T0, tick=False):
        _hook(sink, world)
        wo = make_wo(world)
        _cause(wo)
        assert outbox.handle_one_outbox("w1")  # fan-out
        claimed = outbox._claim("dead-worker", T0)  # claims the delivery, then dies
        assert claimed.kind == "notify.deliver"
        assert not drain()
    with time_machine.travel(T0 + outbox.LEASE + timedelta(seconds=1), tick=False):
        drain()
    d = Delivery.objects.get()
    assert d.status == Status.DELIVERED
    assert [r["headers"]["X-Closeloop-Delivery"] for r in sink.requests] == [d.key]


def test_redeliver_sends_again_with_the_same_id(world, sink):
    with time_machine.travel(T0, tick=False):
        _hook(sink, world)
        wo = make_wo(world)
        _cause(wo)
        drain()
        d = Delivery.objects.get()
        services.do_redeliver(actor=world.admin, delivery=d)
        drain()
    assert [r["headers"]["X-Closeloop-Delivery"] for r in sink.requests] == [d.key, d.key]


def test_gives_up_after_max_attempts(world, sink, monkeypatch):
    monkeypatch.setattr(services, "MAX_ATTEMPTS", 2)
    sink.responses = [(500, {}, b"no")]
    with time_machine.travel(T0, tick=False) as tm:
        _hook(sink, world)
        wo = make_wo(world)
        _cause(wo)
        drain()
        tm.move_to(T0 + timedelta(hours=2))
        drain()
    d = Delivery.objects.get()
    assert d.status == Status.PERMANENT and "Gave up" in d.error


def test_send_test_message(world, sink):
    ch = _hook(sink, world)
    d = services.do_send_test(actor=world.admin, channel=ch)
    assert d.status == Status.DELIVERED and sink.requests[0]["headers"]["X-Closeloop-Delivery"] == d.key
    sink.responses = [(401, {}, b"bad secret")]
    d = services.do_send_test(actor=world.admin, channel=ch)
    assert d.status == Status.PERMANENT and "401" in d.error


def test_the_batch_step_delivers_concurrently_and_records_each_outcome(world, sink):
    from closeloop.notify.services import deliver_batch, fan_out_payload

    def by_path(handler, body):
        if handler.path.startswith("/bad"):
            return (404, {}, b"gone")
        if handler.path.startswith("/busy"):
            return (429, {"Retry-After": "45"}, b"")
        return (200, {}, b"ok")

    sink.responses = [by_path]
    for name in ("ok", "bad", "busy"):
        Channel.objects.create(kind="webhook", name=name, config={"url": f"{sink.url}/{name}"}, created_at=T0)
    with time_machine.travel(T0, tick=False):
        for i in range(10):
            fan_out_payload(f"b{i}", {"event": "ev", "recipients": [{"channel": "ok"}]}, T0)
        fan_out_payload("bad", {"event": "ev", "recipients": [{"channel": "bad"}]}, T0)
        fan_out_payload("busy", {"event": "ev", "recipients": [{"channel": "busy"}]}, T0)
        assert deliver_batch("w")
        assert not deliver_batch("w")
    by = {d.channel.name: d for d in Delivery.objects.select_related("channel").filter(medium="webhook")}
    assert Delivery.objects.filter(channel__name="ok", status=Status.DELIVERED).count() == 10
    assert by["bad"].status == Status.PERMANENT and by["busy"].status == Status.FAILED
    rows = {m.key: m for m in OutboxMessage.objects.filter(kind="notify.deliver")}
    assert rows[f"bad:c{by['bad'].channel_id}:webhook"].done_at is not None
    busy = rows[f"busy:c{by['busy'].channel_id}:webhook"]
    assert busy.done_at is None and busy.available_at == T0 + timedelta(seconds=45) and busy.claimed_until is None
    assert OutboxMessage.objects.filter(kind="notify.deliver", done_at__isnull=False).count() == 11
    assert len({r["headers"]["X-Closeloop-Delivery"] for r in sink.requests}) == 12


def test_the_fan_out_step_handles_causes_in_batches(world):
    from closeloop.notify.services import fan_out_batch

    with time_machine.travel(T0, tick=False):
        for i in range(5):
            outbox.enqueue("notify", f"f{i}", {"event": "ev", "recipients": [{"user": "eng_x"}]})
        outbox.enqueue("notify", "broken", {"event": "ev", "recipients": "not-a-list"})
        assert fan_out_batch("w")
        assert not fan_out_batch("w")
    assert InboxItem.objects.filter(user=world.eng_x).count() == 5
    assert not OutboxMessage.objects.filter(kind="notify", done_at__isnull=True).exists()
