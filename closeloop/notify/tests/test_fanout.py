"""From a "notify" outbox row to deliveries: the three payload formats, recipients,
preferences, quiet hours, public-only contacts, stable ids, the inbox."""

from datetime import UTC, datetime, time

import pytest
import time_machine

from closeloop.notify.conftest import drain
from closeloop.notify.models import Channel, Delivery, InboxItem, Status, UserPreference, UserSettings
from closeloop.outbox.models import OutboxMessage
from closeloop.outbox.services import enqueue
from closeloop.workorders.models import TimelineEvent
from closeloop.workorders.tests.factories import make_wo

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai


def test_contract_payload_reaches_the_inbox_and_the_robot(world, sink):
    with time_machine.travel(T0, tick=False):
        Channel.objects.create(kind="dingtalk", name="ops", config={"url": sink.url + "/robot/send?access_token=t",
                                                                    "secret": "SECabc"},
                               events=["approval.requested"], created_at=T0)
        wo = make_wo(world)
        enqueue("notify", "approval:1:step1:eng_x", {
            "event": "approval.requested", "work_order": wo.code, "recipients": [{"user": "eng_x"}],
            "message": "请审批"})
        drain()
    item = InboxItem.objects.get(user=world.eng_x)
    assert wo.code in item.subject and "请审批" in item.body
    assert len(sink.requests) == 1
    body = sink.requests[0]["body"].decode()
    assert '"msgtype": "markdown"' in body or '"msgtype":"markdown"' in body
    robot = Delivery.objects.get(medium="dingtalk")
    assert robot.status == Status.DELIVERED
    ev = TimelineEvent.objects.filter(work_order=wo, kind="notification").last()
    # The timeline is written in the deployment's language (zh-hans by default).
    assert ev.data["status"] == "delivered" and ev.data["text"] == "10:00 通过钉钉发给 ops — 已送达"


def test_pending_rows_in_the_older_formats_are_converted_by_the_migration(world):
    """notify/0003: rules' and the SLA ladder's own payloads, still pending at the upgrade."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("closeloop.notify.migrations.0003_one_notify_format")
    with time_machine.travel(T0, tick=False):
        wo = make_wo(world)
        enqueue("notify", "rule:1:2:v1:3:inbox", {"channel": "inbox", "to": "eng_x", "phone": "", "work_order": wo.code,
                                                  "rule": "urgent words", "message": "冷却报警"})
        enqueue("notification", "escalation:1:notify_supervisor:2", {
            "event": "sla.escalation", "channel": "inbox", "to": "manager", "work_order": wo.code,
            "milestone": "first_response", "level": 1, "action": "notify_supervisor",
            "due_at": T0.isoformat(), "title": wo.title, "priority": "high"})
        migration.forwards(apps, None)
        assert set(OutboxMessage.objects.values_list("kind", flat=True)) == {"notify"}
        drain()
    assert InboxItem.objects.get(user=world.eng_x).body.startswith("冷却报警")
    m = InboxItem.objects.get(user=world.manager)
    assert m.event == "sla.escalation" and wo.code in m.subject
    assert not OutboxMessage.objects.filter(done_at__isnull=True).exists()


def test_the_one_producer_writes_one_notify_row_per_key(world):
    from closeloop.notify.services import notify

    wo = make_wo(world)
    assert notify(key="k:1", event="rule.notify", work_order=wo, recipients=[{"user": "eng_x"}], channels=["inbox"],
                  message="冷却报警", context={"rule": "r"})
    assert not notify(key="k:1", event="rule.notify", work_order=wo, recipients=[{"user": "eng_y"}])
    row = OutboxMessage.objects.get(key="k:1")
    assert row.kind == "notify" and row.payload == {
        "event": "rule.notify", "work_order": wo.code, "recipients": [{"user": "eng_x"}], "channels": ["inbox"],
        "context": {"rule": "r"}, "message": "冷却报警"}


def test_fan_out_twice_makes_no_duplicates(world):
    from closeloop.notify.services import fan_out_payload

    wo = make_wo(world)
    p = {"event": "x", "work_order": wo.code, "recipients": [{"team": "team-x", "who": "members"}]}
    first = fan_out_payload("cause-1", p, T0)
    again = fan_out_payload("cause-1", p, T0)
    assert len(first) == 2 and again == []
    assert InboxItem.objects.count() == 2


def test_contacts_only_get_public_messages(world, smtp, settings):
    from closeloop.notify.services import fan_out_payload

    world.contact_a.email = "nurse@example.com"
    world.contact_a.save()
    Channel.objects.create(kind="email", name="mail", config={"host": "127.0.0.1", "port": smtp.port,
                                                             "from_email": "noreply@closeloop.test"}, created_at=T0)
    wo = make_wo(world)
    assert fan_out_payload("c1", {"event": "work_order.status", "work_order": wo.code,
                                  "recipients": [{"contact": world.contact_a.pk}]}, T0) == []
    out = fan_out_payload("c2", {"event": "work_order.status", "work_order": wo.code, "public": True,
                                 "recipients": [{"contact": world.contact_a.pk}]}, T0)
    assert [d.medium for d in out] == ["email"]
    assert "/work-orders/" not in out[0].body  # no internal link for a customer


def test_preferences_and_quiet_hours(world, sink):
    from closeloop.notify.services import fan_out_payload

    Channel.objects.create(kind="webhook", name="hook", config={"url": sink.url}, created_at=T0)
    Channel.objects.create(kind="sms_twilio", name="sms", config={"account_sid": "AC1", "auth_token": "t",
                                                                  "from_number": "+15550001", "endpoint": sink.url},
                           created_at=T0)
    world.eng_x.phone = "13800000002"
    world.eng_x.time_zone = "Asia/Shanghai"
    world.eng_x.save()
    UserPreference.objects.create(user=world.eng_x, event="*", medium="sms", enabled=True)
    UserSettings.objects.create(user=world.eng_x, quiet_start=time(22, 0), quiet_end=time(7, 0))
    night = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 00:00 in Shanghai
    wo = make_wo(world)
    out = {d.medium: d for d in fan_out_payload("n1", {"event": "x", "work_order": wo.code,
                                                       "recipients": [{"user": "eng_x"}]}, night)}
    assert set(out) == {"inbox", "sms"}
    assert out["sms"].scheduled_at == datetime(2026, 11, 23, 23, 0, tzinfo=UTC)  # 07:00 local
    wo.priority = "urgent"
    wo.save()
    out = {d.medium: d for d in fan_out_payload("n2", {"event": "x", "work_order": wo.code,
                                                       "recipients": [{"user": "eng_x"}]}, night)}
    assert out["sms"].scheduled_at == night  # urgent ignores quiet hours
    UserPreference.objects.create(user=world.eng_x, event="x", medium="sms", enabled=False)
    out = fan_out_payload("n3", {"event": "x", "recipients": [{"user": "eng_x"}]}, night)
    assert [d.medium for d in out] == ["inbox"]


def test_missing_channel_or_address_is_logged_as_skipped(world, settings):
    settings.LANGUAGE_CODE = "en"
    from closeloop.notify.services import fan_out_payload

    wo = make_wo(world)
    out = fan_out_payload("s1", {"event": "x", "work_order": wo.code, "recipients": [{"user": "eng_x"}],
                                 "channels": ["sms"]}, T0)
    assert out[0].status == Status.SKIPPED and "SMS" in out[0].error
    assert TimelineEvent.objects.filter(work_order=wo, kind="notification").exists()
