"""notify.webhooks: another app's own signed webhook (no channel) goes through the same
guard, Delivery log, batch sender and redeliver as every notification."""

import hashlib
import hmac
import json

from closeloop.notify import webhooks
from closeloop.notify.models import Delivery
from closeloop.notify.services import deliver_batch, do_redeliver
from closeloop.outbox.models import OutboxMessage


def test_url_problems_name_the_callers_field(settings):
    settings.CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS = False
    assert webhooks.url_problems("https://example.com/h", field="actions[0].url") == []
    [p] = webhooks.url_problems("http://127.0.0.1:9/x", field="actions[0].url")
    assert p.field == "actions[0].url" and p.code == "private_address"
    [p] = webhooks.url_problems("ftp://example.com/", field="u")
    assert p.field == "u"


def test_queued_once_sent_by_the_batch_signed_and_redelivered(world, sink):
    from closeloop.workorders.tests.factories import make_wo

    wo = make_wo(world)
    body = {"id": "k-1", "hello": "世界"}
    d = webhooks.do_queue_webhook(key="k-1", url=sink.url + "/h", secret="sec", body=body, event="app.thing",
                                  work_order=wo, label="app 1")
    again = webhooks.do_queue_webhook(key="k-1", url=sink.url + "/other", secret="", body={}, event="app.thing")
    assert again.pk == d.pk and OutboxMessage.objects.filter(kind="notify.deliver", key="k-1").count() == 1
    assert d.recipient == "app 1 (127.0.0.1)" and d.channel is None
    assert deliver_batch("w")
    d.refresh_from_db()
    assert d.status == "delivered" and d.attempts == 1
    [req] = sink.requests
    assert json.loads(req["body"]) == body and req["headers"]["X-Closeloop-Delivery"] == "k-1"
    mac = hmac.new(b"sec", req["headers"]["X-Closeloop-Timestamp"].encode() + b"." + req["body"], hashlib.sha256)
    assert req["headers"]["X-Closeloop-Signature"] == "sha256=" + mac.hexdigest()
    do_redeliver(actor=world.admin, delivery=d)
    assert deliver_batch("w")
    assert len(sink.requests) == 2 and sink.requests[1]["body"] == req["body"]


def test_a_4xx_is_permanent_and_pauses_no_channel(world, sink):
    sink.responses = [(410, {}, b"gone")]
    d = webhooks.do_queue_webhook(key="k-2", url=sink.url + "/h", secret="", body={}, event="app.thing")
    assert deliver_batch("w")
    d.refresh_from_db()
    assert d.status == "permanent" and "410" in d.error
    assert Delivery.objects.get(pk=d.pk).channel_id is None
