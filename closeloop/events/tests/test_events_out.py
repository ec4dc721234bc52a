"""Events out: subscriptions, Standard Webhooks deliveries verified by the standardwebhooks
library in a local receiver, redelivery with the same id, pause after failures with the owner's
notice, rotation overlap, filters, ordering, secrets never in clear."""

import json
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from closeloop.audit.models import AuditRecord
from closeloop.core.clock import now
from closeloop.events import producer, services
from closeloop.events.models import Delivery, Subscription
from closeloop.outbox.models import OutboxMessage
from closeloop.workorders import services as wo_services

from .helpers import run_worker

pytestmark = pytest.mark.django_db


def _sub(world, receiver, **kw):
    data = {"name": "ERP", "url": receiver.url + "/hook", "events": ["*"], **kw}
    return services.do_create_subscription(actor=world.admin, data=data)


def _wo(world, **kw):
    return wo_services.do_create_work_order(actor=world.dispatcher, data={
        "type": "repair", "title": "呼吸机报警", "customer": "org-a", "site": "site-a", **kw})


def _headers(req) -> dict:
    return {k.lower(): v for k, v in req["headers"].items()}


def test_delivery_is_signed_and_verified_by_the_standardwebhooks_library(world, receiver):
    sub, secret = _sub(world, receiver)
    wo = _wo(world)
    run_worker()
    assert receiver.requests, "nothing delivered"
    req = receiver.requests[0]
    h = _headers(req)
    payload = Webhook(secret).verify(req["body"], h)
    assert payload["type"] == "work_order.created"
    assert payload["data"]["work_order"]["code"] == wo.code
    assert payload["data"]["work_order"]["version"] == 1
    assert isinstance(payload["data"]["sequence"], int)
    assert h["webhook-id"] == Delivery.objects.get(subscription=sub, event_type="work_order.created").webhook_id
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "QUJD" * 8).verify(req["body"], h)


def test_api_create_shows_secret_once_and_never_stores_it_in_clear(world, receiver):
    api = world.api(world.admin)
    r = api.post("/api/v1/event-subscriptions", {"name": "CRM", "url": receiver.url, "events": ["work_order.assigned"]})
    assert r.status_code == 201, r.content
    secret = r.json()["secret"]
    assert secret.startswith("whsec_")
    assert "secret" not in api.get(f"/api/v1/event-subscriptions/{r.json()['id']}").json()
    _wo(world, assignee="eng_x", team="team-x")
    run_worker()
    assert len(receiver.requests) == 1
    Webhook(secret).verify(receiver.requests[0]["body"], _headers(receiver.requests[0]))
    sid = r.json()["id"]
    api.post(f"/api/v1/event-subscriptions/{sid}/rotate-secret", {"overlap_hours": 1})
    everything = json.dumps([list(OutboxMessage.objects.values("payload", "last_error")),
                             list(Delivery.objects.values("body", "log", "last_error")),
                             list(AuditRecord.objects.values("before", "after"))], default=str)
    assert secret not in everything and secret[6:] not in everything
    assert secret not in Subscription.objects.get(pk=sid).secret_enc


def test_redelivery_keeps_the_same_id_and_body(world, receiver):
    sub, secret = _sub(world, receiver, events=["work_order.created"])
    _wo(world)
    run_worker()
    d = Delivery.objects.get(subscription=sub)
    assert d.status == "delivered"
    r = world.api(world.admin).post(f"/api/v1/event-deliveries/{d.pk}/redeliver")
    assert r.status_code == 200, r.content
    run_worker()
    assert len(receiver.requests) == 2
    first, second = (_headers(x) for x in receiver.requests)
    assert first["webhook-id"] == second["webhook-id"] == d.webhook_id
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"]
    Webhook(secret).verify(receiver.requests[1]["body"], second)


def test_retries_with_backoff_then_delivers_with_the_same_id(world, receiver):
    sub, secret = _sub(world, receiver, events=["work_order.created"])
    receiver.responses = [(503, {}, b"busy"), (500, {}, b"oops"), (200, {}, b"ok")]
    t = now()
    with time_machine.travel(t, tick=False):
        _wo(world)
        run_worker(at=t)
    d = Delivery.objects.get(subscription=sub)
    assert d.status == "retrying" and d.attempts == 1
    for _i in range(3):
        t += timedelta(hours=2)
        with time_machine.travel(t, tick=False):
            run_worker(at=t)
    d.refresh_from_db()
    assert d.status == "delivered" and d.attempts == 3
    ids = {_headers(x)["webhook-id"] for x in receiver.requests}
    assert ids == {d.webhook_id}
    assert [e["status_code"] for e in d.log] == [200, 500, 503]


def test_pause_after_consecutive_failures_tells_the_owner_and_resume_sends_what_was_held(world, receiver, settings):
    settings.CLOSELOOP_EVENTS_PAUSE_AFTER = 3
    sub, _secret = _sub(world, receiver, events=["work_order.created"])
    receiver.responses = [(500, {}, b"down")]
    t = now()
    with time_machine.travel(t, tick=False):
        for i in range(3):
            _wo(world, title=f"t{i}")
        run_worker(at=t)
    sub.refresh_from_db()
    assert not sub.active and sub.paused_at is not None and sub.consecutive_failures == 3
    notice = OutboxMessage.objects.get(kind="notify", payload__event="events.subscription_paused")
    assert notice.payload["recipients"] == [{"user": "admin"}]
    assert set(Delivery.objects.filter(subscription=sub).values_list("status", flat=True)) <= {"held", "retrying"}
    # while paused, nothing new is produced for it (the cached set was dropped)
    _wo(world, title="while paused")
    assert not OutboxMessage.objects.filter(kind="events.fan_out", done_at__isnull=True).exists()
    # retries due while paused are held, not sent
    t += timedelta(hours=2)
    n = len(receiver.requests)
    with time_machine.travel(t, tick=False):
        run_worker(at=t)
    assert len(receiver.requests) == n
    assert set(Delivery.objects.filter(subscription=sub).values_list("status", flat=True)) == {"held"}
    receiver.responses = [(200, {}, b"ok")]
    r = world.api(world.admin).post(f"/api/v1/event-subscriptions/{sub.pk}/resume")
    assert r.status_code == 200 and r.json()["active"] is True
    with time_machine.travel(t, tick=False):
        run_worker(at=t)
    assert set(Delivery.objects.filter(subscription=sub).values_list("status", flat=True)) == {"delivered"}


def test_rotation_signs_with_both_secrets_during_the_overlap_only(world, receiver):
    sub, old = _sub(world, receiver, events=["work_order.created"])
    new = services.do_rotate_secret(actor=world.admin, sub=sub, overlap_hours=2)
    t = now()
    with time_machine.travel(t, tick=False):
        _wo(world)
        run_worker(at=t)
    req = receiver.requests[-1]
    h = _headers(req)
    assert len(h["webhook-signature"].split()) == 2
    Webhook(old).verify(req["body"], h)
    Webhook(new).verify(req["body"], h)
    later = t + timedelta(hours=3)
    with time_machine.travel(later, tick=False):
        _wo(world, title="after the overlap")
        run_worker(at=later)
        req = receiver.requests[-1]
        h = _headers(req)
        assert len(h["webhook-signature"].split()) == 1
        Webhook(new).verify(req["body"], h)
        with pytest.raises(WebhookVerificationError):
            Webhook(old).verify(req["body"], h)


def test_filter_and_event_types(world, receiver):
    _sub(world, receiver, events=["work_order.created"], condition='data.work_order.priority == "urgent"')
    _wo(world, title="normal")
    _wo(world, title="urgent one", priority="urgent")
    run_worker()
    bodies = [json.loads(x["body"]) for x in receiver.requests]
    assert [b["data"]["work_order"]["title"] for b in bodies] == ["urgent one"]


def test_no_subscription_means_no_rows_and_no_queries_after_the_cached_check(world):
    _wo(world, title="warm-up")  # fills the cached set (empty)
    with CaptureQueriesContext(connection) as ctx:
        _wo(world, title="measured")
    assert not OutboxMessage.objects.filter(kind="events.fan_out").exists()
    assert not any("events_subscription" in q["sql"] for q in ctx.captured_queries)


def test_producing_adds_one_insert_per_change(world, receiver):
    _sub(world, receiver, events=["*"])
    _wo(world, title="warm-up")
    with CaptureQueriesContext(connection) as ctx:
        _wo(world, title="measured")
    outbox_inserts = [q for q in ctx.captured_queries if "outbox_outboxmessage" in q["sql"]
                      and q["sql"].lstrip().upper().startswith("INSERT") and "events.fan_out" in q["sql"]]
    assert 1 <= len(outbox_inserts) <= 3  # one per timeline append of the create (created, sla...)
    assert not any("events_subscription" in q["sql"] for q in ctx.captured_queries)


def test_a_subscriber_rebuilds_the_work_order_from_events_in_any_order(world, receiver):
    _sub(world, receiver, events=["*"])
    wo = _wo(world, assignee="eng_x", team="team-x")
    wo_services.do_transition(actor=world.eng_x, wo=wo, action="accept")
    wo_services.do_update_work_order(actor=world.dispatcher, wo=wo, data={"priority": "high"})
    wo_services.do_transition(actor=world.eng_x, wo=wo, action="start")
    run_worker()
    bodies = [json.loads(x["body"]) for x in receiver.requests]
    seqs = [b["data"]["sequence"] for b in bodies]
    assert len(set(seqs)) == len(seqs)
    # delivered in reverse: keep the snapshot with the highest version
    state = {}
    for b in reversed(bodies):
        snap = b["data"]["work_order"]
        if snap["version"] >= state.get("version", 0):
            state = snap
    wo.refresh_from_db()
    assert (state["version"], state["status"], state["priority"], state["assignee"]) == \
        (wo.version, wo.status, wo.priority, "eng_x")
    # each event's own version never goes down in sequence order
    by_seq = sorted(bodies, key=lambda b: b["data"]["sequence"])
    versions = [b["data"]["event"]["version"] for b in by_seq if b["data"]["event"]["version"]]
    assert versions == sorted(versions)
    types = [b["type"] for b in by_seq]
    assert types.index("work_order.created") < types.index("work_order.assigned") < types.index("work_order.accept")


def test_bad_input_is_422_naming_fields_and_writes_nothing(world):
    api = world.api(world.admin)
    r = api.post("/api/v1/event-subscriptions", {"name": "", "url": "ftp://x", "events": ["nope"],
                                                 "condition": "data.work_order.priority =="})
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"name", "url", "events", "condition"} <= fields
    r = api.post("/api/v1/event-subscriptions", {"name": "x", "url": "http://10.0.0.1/h", "events": ["*"]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "url"
    assert not Subscription.objects.exists()
    r = api.post("/api/v1/event-subscriptions", {"name": "x", "url": "https://example.com", "events": ["*"],
                                                 "extra": 1})
    assert r.status_code == 422


def test_subscription_write_drops_the_cached_set(world, receiver):
    assert producer.subscribed_types() == frozenset()
    _sub(world, receiver, events=["work_order.created"])
    assert producer.subscribed_types() == frozenset({"work_order.created"})


def test_a_maintenance_plan_occurrence_is_sent_as_maintenance_generated(world, receiver):
    from datetime import UTC, datetime

    from closeloop.maintenance import engine
    from closeloop.maintenance import services as maintenance
    from closeloop.maintenance.models import Plan
    from closeloop.workorders.models import WorkOrderType

    WorkOrderType.objects.create(key="pm", name="预防性维护", prefix="PM", kind="preventive")
    world.asset_a.model = "LX-9"
    world.asset_a.save()
    with time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC), tick=False):
        plan = maintenance.do_create_plan(actor=world.manager, data={
            "name": "季度保养", "type": "pm", "scope": "asset", "asset": world.asset_a.serial_number,
            "trigger": "calendar", "every": 1, "unit": "month", "title": "{plan} {serial} {due}",
            "start_date": "2026-03-02"})
    _sub(world, receiver, events=["maintenance.generated"])
    at = datetime(2026, 3, 2, 2, 7, tzinfo=UTC)
    Plan.objects.filter(pk=plan.pk).update(next_check_at=at)
    with time_machine.travel(at, tick=False):
        engine.run_due_plans("w", at)
        _wo(world, title="by hand, not maintenance")
        run_worker(at=at)
    bodies = [json.loads(x["body"]) for x in receiver.requests]
    assert [b["type"] for b in bodies] == ["maintenance.generated"]
    assert bodies[0]["data"]["maintenance"]["plan"] == "季度保养"
