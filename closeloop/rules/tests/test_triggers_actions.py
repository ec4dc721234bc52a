"""Issue 5's further triggers (comment_added, sla_warning, sla_breach, schedule) and actions
(add_tags, remove_tags, add_watchers, escalate, webhook, registered ones), their validation,
loops, and the dry run."""

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from closeloop.core.clock import now
from closeloop.notify.models import Delivery
from closeloop.outbox.models import OutboxMessage
from closeloop.outbox.services import handle_one_outbox
from closeloop.rules import runner, schedule
from closeloop.rules.models import Rule, ScheduleFiring
from closeloop.rules.services import do_update_rule, dry_run
from closeloop.workorders import services as wo_services
from closeloop.workorders.models import TimelineEvent, WorkOrder, WorkOrderWatcher

from .test_rules import create, rule, rule_events

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def sink(settings):
    """notify's local HTTP server that records requests (private addresses allowed)."""
    from closeloop.notify.conftest import Sink

    settings.CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS = True
    s = Sink()
    yield s
    s.close()


def problems(exc_info) -> dict:
    return {p.field: p for p in exc_info.value.problems}


def bad(world, **kw):
    from closeloop.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as e:
        rule(world, **kw)
    return problems(e)


# ---- register_action ---------------------------------------------------------------------------

@pytest.fixture
def stamp_action():
    seen = []

    def fn(rule, wo, a):
        seen.append((rule.pk, wo.code, a["label"]))
        return f"stamped {a['label']}"

    def validate(a, where):
        from closeloop.core.errors import FieldProblem

        return [] if isinstance(a.get("label"), str) and a["label"] else [FieldProblem(f"{where}.label", "needed")]

    runner.register_action("stamp", fn, describe=lambda r, wo, a: f"stamp {a.get('label')}", validate=validate)
    yield seen
    for registry in (runner.ACTIONS, runner.DESCRIBERS, runner.VALIDATORS):
        registry.pop("stamp", None)


def test_registered_action_runs_validates_and_describes(world, stamp_action):
    p = bad(world, actions=[{"type": "comment", "body": "x"}, {"type": "stamp"}, {"type": "explode"}])
    assert set(p) == {"actions[1].label", "actions[2].type"}
    assert "stamp" in p["actions[2].type"].message  # the list of types names the registered one
    r = rule(world, actions=[{"type": "stamp", "label": "A"}])
    wo = create(world, title="x")
    assert stamp_action == [(r.pk, wo.code, "A")]
    [ev] = rule_events(wo)
    assert ev.data["actions"] == [{"type": "stamp", "ok": True, "summary": "stamped A"}]
    assert dry_run(rule=r, wo=wo)["actions"] == ["stamp A"]


def test_require_approval_is_validated_when_registered(world):
    assert "require_approval" in runner.ACTIONS  # registered by the approvals app
    p = bad(world, actions=[{"type": "require_approval", "data": []}])
    assert set(p) == {"actions[0].action", "actions[0].data"}


# ---- comment_added ------------------------------------------------------------------------------

def test_comment_added_trigger_sees_author_public_and_body(world):
    rule(world, name="leak", trigger="comment_added",
         condition='event.body.contains("漏水") && !event.public && event.author == "eng_x"',
         actions=[{"type": "add_tags", "tags": ["漏水"]}])
    wo = create(world, title="x", team="team-x")
    wo_services.do_add_comment(actor=world.eng_x, wo=wo, body="机房漏水了", public=False)
    wo.refresh_from_db()
    assert wo.tags == ["漏水"] and [e.data["rule"] for e in rule_events(wo)] == ["leak"]
    wo_services.do_add_comment(actor=world.eng_x, wo=wo, body="机房又漏水", public=True)  # public: no match
    assert len(rule_events(wo)) == 1


def test_a_comment_rule_that_comments_does_not_loop(world):
    rule(world, name="echo", trigger="comment_added", actions=[{"type": "comment", "body": "收到"}])
    wo = create(world, title="x")
    world.api(world.dispatcher).post(f"/api/v1/work-orders/{wo.code}/comments", {"body": "hello"})
    assert TimelineEvent.objects.filter(work_order=wo, kind="comment").count() == 2
    assert len(rule_events(wo)) == 1


def test_two_comment_rules_feeding_each_other_are_capped(world):
    for i in range(2):
        rule(world, name=f"c{i}", trigger="comment_added",
             actions=[{"type": "create_linked", "title": "spawn"}, {"type": "comment", "body": "again"}])
    rule(world, name="on create", trigger="created", condition='wo.title == "spawn"',
         actions=[{"type": "comment", "body": "child"}])
    wo = create(world, title="x")
    wo_services.do_add_comment(actor=world.dispatcher, wo=wo, body="go")
    fired = TimelineEvent.objects.filter(kind="rule")
    assert sum(1 for e in fired if not e.data.get("capped")) == runner.MAX_FIRINGS
    assert sum(1 for e in fired if e.data.get("capped")) == 1


# ---- SLA warning and breach -------------------------------------------------------------------

@pytest.fixture
def sla_policy(world):
    from closeloop.sla.tests.helpers import calendars, policy

    return policy("p", calendars()[1], targets={"response": 3600}, ladder=[])


def test_sla_warning_and_breach_triggers(world, sla_policy):
    from closeloop.sla.worker import handle_one_sla_check

    rule(world, name="warn", trigger="sla_warning", condition='event.milestone == "response"',
         actions=[{"type": "add_tags", "tags": ["sla-warning"]}])
    rule(world, name="breach", trigger="sla_breach",
         actions=[{"type": "escalate", "raise_priority": True, "recipients": ["team_lead"], "message": "{code} 超时"}])
    with time_machine.travel(T0, tick=False):
        wo = create(world, title="x", team="team-x")
    with time_machine.travel(T0 + timedelta(minutes=50), tick=False):  # 75 % of an hour is 45 min
        while handle_one_sla_check("w"):
            pass
    wo.refresh_from_db()
    assert wo.tags == ["sla-warning"] and [e.data["rule"] for e in rule_events(wo)] == ["warn"]
    assert rule_events(wo)[0].data["trigger"] == "sla_warning"
    with time_machine.travel(T0 + timedelta(minutes=61), tick=False):
        while handle_one_sla_check("w"):
            pass
        while handle_one_sla_check("w"):  # nothing new: fires once
            pass
    wo.refresh_from_db()
    assert wo.priority == "high"
    assert [e.data["rule"] for e in rule_events(wo)] == ["warn", "breach"]
    esc = TimelineEvent.objects.get(work_order=wo, kind="escalation", data__rule="breach")
    assert esc.data["priority"] == {"from": "normal", "to": "high"} and esc.data["notified"] == ["manager"]
    msg = OutboxMessage.objects.get(kind="notify")
    assert msg.payload["recipients"] == [{"user": "manager"}] and msg.payload["message"] == f"{wo.code} 超时"


# ---- schedule ------------------------------------------------------------------------------------

def _age(wo, hours):
    WorkOrder.objects.filter(pk=wo.pk).update(created_at=now() - timedelta(hours=hours),
                                              updated_at=now() - timedelta(hours=hours))


def test_schedule_fires_once_per_work_order_per_period(world):
    with time_machine.travel(T0, tick=False):
        r = rule(world, name="stale", trigger="schedule", schedule_minutes=60, condition="wo.idle_hours >= 2.0",
                 actions=[{"type": "comment", "body": "还在等？"}])
        assert r.next_run_at == T0
        idle, fresh = create(world, title="idle"), create(world, title="fresh")
        done = create(world, title="closed")
        WorkOrder.objects.filter(pk=done.pk).update(status="closed")
        for wo in (idle, done):
            _age(wo, 3)
        assert schedule.run_due_schedules("w1") is False
    comments = TimelineEvent.objects.filter(kind="comment")
    assert [c.work_order_id for c in comments] == [idle.pk]
    r.refresh_from_db()
    assert r.last_run_at == T0 and r.next_run_at == T0 + timedelta(hours=1)
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        assert schedule.run_due_schedules("w1") is False  # not due
        # Even a run forced in the same period (two workers, a lease that ran out) fires nothing twice.
        assert schedule.run_rule(Rule.objects.get(pk=r.pk), now()) is False
    assert TimelineEvent.objects.filter(kind="comment").count() == 1
    with time_machine.travel(T0 + timedelta(hours=1, minutes=1), tick=False):
        _age(fresh, 5)
        _age(idle, 3)  # its comment counted as activity; idle again
        schedule.run_due_schedules("w2")
    # The next period: both idle ones.
    assert sorted(c.work_order_id for c in TimelineEvent.objects.filter(kind="comment")) == sorted(
        [idle.pk, idle.pk, fresh.pk])
    assert ScheduleFiring.objects.filter(rule=r).count() == 3
    [ev] = [e for e in rule_events(fresh)]
    assert ev.data["trigger"] == "schedule"


def test_schedule_run_is_capped_and_goes_on_from_its_cursor(world, monkeypatch):
    monkeypatch.setattr(schedule, "SCHEDULE_BATCH", 2)
    with time_machine.travel(T0, tick=False):
        r = rule(world, trigger="schedule", schedule_minutes=15, actions=[{"type": "add_tags", "tags": ["seen"]}])
        wos = [create(world, title=f"w{i}") for i in range(5)]
        assert schedule.run_due_schedules("w") is True
        assert Rule.objects.get(pk=r.pk).schedule_cursor == wos[1].pk
        assert schedule.run_due_schedules("w") is True
        assert schedule.run_due_schedules("w") is False
    assert all(WorkOrder.objects.get(pk=w.pk).tags == ["seen"] for w in wos)
    assert Rule.objects.get(pk=r.pk).schedule_cursor == 0


def test_a_claimed_run_is_not_taken_twice(world):
    with time_machine.travel(T0, tick=False):
        r = rule(world, trigger="schedule", schedule_minutes=5, actions=[{"type": "comment", "body": "x"}])
        Rule.objects.filter(pk=r.pk).update(next_run_at=T0 + schedule.LEASE)  # another worker holds it
        assert schedule.run_due_schedules("w") is False
        assert schedule.next_schedule_at() == T0 + schedule.LEASE


def test_schedule_validation(world):
    assert "schedule_minutes" in bad(world, trigger="schedule")
    assert "schedule_minutes" in bad(world, trigger="schedule", schedule_minutes=4)
    assert "schedule_minutes" in bad(world, trigger="schedule", schedule_minutes=10081)
    assert "schedule_minutes" in bad(world, trigger="created", schedule_minutes=60)
    r = rule(world, trigger="schedule", schedule_minutes=5)
    r = do_update_rule(actor=world.manager, rule=r, data={"trigger": "created"})
    assert r.schedule_minutes is None and r.next_run_at is None
    api = world.api(world.manager)
    resp = api.post("/api/v1/rules", {"name": "s", "trigger": "schedule", "schedule_minutes": 1})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "schedule_minutes"
    resp = api.post("/api/v1/rules", {"name": "s", "trigger": "schedule", "schedule_minutes": 60})
    assert resp.status_code == 201 and resp.json()["schedule_minutes"] == 60 and resp.json()["next_run_at"]


def test_the_worker_has_the_schedule_step():
    from closeloop.core import jobs

    assert "rules.schedule" in [j.name for j in jobs.registered()]


# ---- tags, watchers, escalate ----------------------------------------------------------------

def test_add_and_remove_tags_actions(world):
    rule(world, name="add", actions=[{"type": "add_tags", "tags": ["ＶＩＰ  客户", "cold-chain"]}])
    rule(world, name="remove", trigger="updated", actions=[{"type": "remove_tags", "tags": ["cold-chain", "nope"]}])
    wo = create(world, title="x")
    wo.refresh_from_db()
    assert wo.tags == ["vip-客户", "cold-chain"]
    wo_services.do_update_work_order(actor=world.dispatcher, wo=wo, data={"title": "y"})
    wo.refresh_from_db()
    assert wo.tags == ["vip-客户"]
    upd = TimelineEvent.objects.filter(work_order=wo, kind="updated", data__tags__isnull=False).last()
    assert upd.data["tags"] == {"added": [], "removed": ["cold-chain"]} and upd.actor == world.manager
    assert rule_events(wo)[-1].data["actions"][0]["summary"] == "tags - cold-chain"


def test_hostile_tag_lists_are_refused_naming_the_field(world):
    p = bad(world, actions=[{"type": "add_tags", "tags": [f"t{i}" for i in range(21)]}])
    assert "actions[0].tags" in p
    p = bad(world, actions=[{"type": "comment", "body": "x"}, {"type": "add_tags", "tags": ["ok", "x" * 41, "a,b"]}])
    assert set(p) == {"actions[1].tags[1]", "actions[1].tags[2]"}
    assert "actions[0].tags" in bad(world, actions=[{"type": "remove_tags", "tags": "vip"}])
    assert "actions[0]" in bad(world, actions=[{"type": "add_tags", "tags": ["a" * 30] * 20,
                                                "padding": "x" * 9000}])


def test_add_watchers_action_and_watchers_get_notified(world):
    rule(world, name="watch", trigger="status_changed", condition='event.action == "assign"',
         actions=[{"type": "add_watchers", "watchers": ["assignee", "creator", "eng_y"]}])
    rule(world, name="tell", trigger="status_changed", condition='event.action == "accept"', actions=[
        {"type": "notify", "recipients": ["watchers"], "channels": ["inbox"], "message": "{code} moved"}])
    wo = create(world, title="x", team="team-x", assignee="eng_x")
    assert set(WorkOrderWatcher.objects.filter(work_order=wo).values_list("user__username", flat=True)) == {
        "eng_x", "dispatcher"}
    ev = next(e for e in rule_events(wo) if e.data["rule"] == "watch")
    assert ev.data["actions"][0]["ok"] and "not eng_y" in ev.data["actions"][0]["summary"]
    OutboxMessage.objects.filter(kind="notify").delete()
    wo_services.do_transition(actor=world.eng_x, wo=wo, action="accept")
    assert sorted(m.payload["recipients"][0]["user"] for m in OutboxMessage.objects.filter(
        kind="notify", payload__context__rule="tell")) == [
        "dispatcher", "eng_x"]
    p = bad(world, actions=[{"type": "add_watchers", "watchers": ["watchers"]},
                            {"type": "add_watchers", "watchers": ["nobody_here"]}, {"type": "add_watchers"}])
    assert set(p) == {"actions[0].watchers", "actions[1].watchers", "actions[2].watchers"}


def test_escalate_raises_priority_moves_team_and_notifies(world):
    rule(world, name="esc", condition='wo.title == "esc"', actions=[
        {"type": "escalate", "raise_priority": True, "team": "team-y", "recipients": ["team_lead", "eng_y"],
         "channels": ["inbox", "sms"], "message": "{code} 升级"}])
    wo = create(world, title="esc", team="team-x")
    wo.refresh_from_db()
    assert wo.priority == "high" and wo.team == world.team_y
    esc = TimelineEvent.objects.get(work_order=wo, kind="escalation")
    assert esc.data["team"] == {"from": "team-x", "to": "team-y"} and esc.data["actions"] == [
        "raise_priority", "move_team", "notify"]
    # team_lead is now team Y's (none): only eng_y, on both channels.
    assert sorted((m.payload["recipients"][0]["user"], m.payload["channels"][0])
                  for m in OutboxMessage.objects.filter(kind="notify")) == [
        ("eng_y", "inbox"), ("eng_y", "sms")]


def test_escalate_at_the_top_with_nobody_to_tell_is_recorded(world):
    rule(world, actions=[{"type": "escalate", "raise_priority": True}])
    wo = create(world, title="x", priority="urgent")
    [ev] = rule_events(wo)
    assert ev.data["actions"][0]["ok"] is False and "highest" in ev.data["actions"][0]["error"]


def test_escalate_validation(world):
    p = bad(world, actions=[{"type": "escalate", "raise_priority": "yes", "team": "team-z", "recipients": "all",
                             "channels": ["pigeon"], "message": "m" * 501}])
    assert set(p) == {"actions[0].raise_priority", "actions[0].team", "actions[0].recipients",
                      "actions[0].channels", "actions[0].message"}
    assert "actions[0]" in bad(world, actions=[{"type": "escalate", "raise_priority": False}])


# ---- webhook ---------------------------------------------------------------------------------

def test_webhook_urls_are_checked(world, settings):
    settings.CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS = False
    for url in ("http://127.0.0.1:9/x", "http://localhost/x", "http://[::1]/", "http://10.0.0.1/",
                "http://169.254.169.254/latest"):
        p = bad(world, actions=[{"type": "webhook", "url": url}])
        assert p["actions[0].url"].code == "private_address", url
    for url in ("ftp://example.com/x", "not a url", "", "https://user:pw@example.com/", "https://x/" + "a" * 500):
        assert "actions[0].url" in bad(world, actions=[{"type": "webhook", "url": url}]), url
    assert "actions[0].secret" in bad(world, actions=[{"type": "webhook", "url": "https://example.com/", "secret": 5}])
    settings.CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS = True
    rule(world, actions=[{"type": "webhook", "url": "http://127.0.0.1:9/x"}])


def drain() -> None:
    """Run the worker's outbox step until nothing is due (retries wait for later)."""
    while handle_one_outbox("w"):
        pass


def delivery_log(wo, d) -> TimelineEvent:
    [ev] = [e for e in TimelineEvent.objects.filter(work_order=wo, kind="notification").order_by("id")
            if (e.data or {}).get("delivery") == d.key][-1:]
    return ev


def test_webhook_is_queued_then_delivered_signed_with_a_stable_id(world, sink):
    r = rule(world, name="hook", trigger="comment_added",
             actions=[{"type": "webhook", "url": sink.url + "/in", "secret": "s3cret"}])
    wo = create(world, title="x", team="team-x")
    api = world.api(world.dispatcher)
    assert api.post(f"/api/v1/work-orders/{wo.code}/comments", {"body": "hi"}).status_code == 201
    assert sink.requests == []  # never in the request
    # One notify delivery (no channel: a direct webhook), queued for the worker.
    d = Delivery.objects.get(event=runner.WEBHOOK_EVENT)
    assert d.channel is None and d.medium == "webhook" and d.work_order == wo and d.status == "queued"
    assert d.key.startswith(f"rule-webhook:{r.pk}:{wo.pk}:") and d.address == sink.url + "/in"
    msg = OutboxMessage.objects.get(kind="notify.deliver", key=d.key)
    sink.responses = [(503, {"Retry-After": "0"}, b"busy"), (200, {}, b"ok")]
    drain()
    msg.refresh_from_db()
    d.refresh_from_db()
    assert msg.done_at is None and "503" in msg.last_error and d.status == "failed"
    OutboxMessage.objects.filter(pk=msg.pk).update(available_at=now())
    drain()
    msg.refresh_from_db()
    d.refresh_from_db()
    assert msg.done_at is not None and d.status == "delivered" and d.attempts == 2
    first, second = sink.requests
    assert first["headers"]["X-Closeloop-Delivery"] == second["headers"]["X-Closeloop-Delivery"] == d.key
    body = json.loads(second["body"])
    assert body["id"] == d.key and body["event"] == "rule.webhook" and body["rule"] == {"id": r.pk, "name": "hook"}
    assert body["trigger"] == "comment_added" and body["cause"]["body"] == "hi"
    assert body["work_order"]["code"] == wo.code and body["work_order"]["team"] == "team-x"
    h = second["headers"]
    mac = hmac.new(b"s3cret", h["X-Closeloop-Timestamp"].encode() + b"." + second["body"], hashlib.sha256)
    assert h["X-Closeloop-Signature"] == "sha256=" + mac.hexdigest()
    log = delivery_log(wo, d)
    assert log.data["status"] == "delivered" and log.data["via"] == "127.0.0.1" and "hook" in log.data["text"]
    # The secret is never in the delivery log's output.
    from closeloop.notify.serializers import delivery

    assert "s3cret" not in json.dumps(delivery(d))
    # An administrator redelivers it: the same body and delivery id again.
    from closeloop.notify.services import do_redeliver

    do_redeliver(actor=world.admin, delivery=d)
    drain()
    third = sink.requests[2]
    assert third["headers"]["X-Closeloop-Delivery"] == d.key and json.loads(third["body"]) == body


def test_webhook_refused_at_delivery_is_permanent(world, sink, settings):
    rule(world, name="hook", actions=[{"type": "webhook", "url": sink.url + "/in"}])
    wo = create(world, title="x")
    settings.CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS = False  # e.g. the setting was turned off since
    drain()
    d = Delivery.objects.get(event=runner.WEBHOOK_EVENT)
    msg = OutboxMessage.objects.get(kind="notify.deliver", key=d.key)
    assert msg.done_at is not None and "private" in msg.last_error and sink.requests == []
    assert d.status == "permanent" and "private" in d.error
    assert delivery_log(wo, d).data["status"] == "permanent"


def test_webhook_queued_before_the_upgrade_is_handed_to_notify(world, sink):
    """Rows of the old outbox kind still waiting are delivered through notify, same id."""
    from closeloop.outbox.services import enqueue

    wo = create(world, title="x")
    key = f"rule-webhook:1:{wo.pk}:f1:abcd1234"
    body = {"id": key, "event": "rule.webhook", "rule": {"id": 1, "name": "old"}, "work_order": {"code": wo.code}}
    enqueue(runner.WEBHOOK_KIND, key, {"url": sink.url + "/in", "secret": "s", "work_order": wo.code, "body": body})
    drain()
    d = Delivery.objects.get(key=key)
    assert d.status == "delivered" and d.work_order == wo
    [req] = sink.requests
    assert req["headers"]["X-Closeloop-Delivery"] == key and json.loads(req["body"]) == body


def test_webhook_secret_is_masked_and_kept(world, settings):
    settings.CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS = False
    api = world.api(world.manager)
    r = api.post("/api/v1/rules", {"name": "h", "actions": [{"type": "webhook", "url": "https://example.com/h",
                                                                 "secret": "topsecret"}]})
    assert r.status_code == 201 and r.json()["actions"][0]["secret"] == "********"
    rid = r.json()["id"]
    assert world.api(world.dispatcher).get(f"/api/v1/rules/{rid}").json()["actions"][0]["secret"] == "********"
    r = api.patch(f"/api/v1/rules/{rid}", {"actions": r.json()["actions"]})
    assert r.status_code == 200
    assert Rule.objects.get(pk=rid).actions[0]["secret"] == "topsecret"
    r = api.patch(f"/api/v1/rules/{rid}", {"actions": [{"type": "webhook", "url": "https://example.com/h",
                                                          "secret": "new"}]})
    assert Rule.objects.get(pk=rid).actions[0]["secret"] == "new"


# ---- dry run ---------------------------------------------------------------------------------

def test_dry_run_describes_the_new_actions(world, settings):
    settings.CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS = False
    r = rule(world, trigger="schedule", schedule_minutes=60, condition="wo.age_hours >= 0.0", actions=[
        {"type": "add_tags", "tags": ["a"]}, {"type": "remove_tags", "tags": ["b"]},
        {"type": "add_watchers", "watchers": ["team_lead"]},
        {"type": "escalate", "team": "team-y", "recipients": ["team_lead"]},
        {"type": "webhook", "url": "https://example.com/h"}])
    Rule.objects.filter(pk=r.pk).update(enabled=False)  # the worker must not fire it here
    r.refresh_from_db()
    wo = create(world, title="x", team="team-x")
    out = dry_run(rule=Rule.objects.get(pk=r.pk), wo=wo)
    assert out["trigger"] == "schedule" and out["matched"] is True
    Rule.objects.filter(pk=r.pk).update(enabled=True)
    out = dry_run(rule=Rule.objects.get(pk=r.pk), wo=wo)
    assert out["actions"] == ["add tags a", "remove tags b", "add watchers manager",
                              "escalate: priority normal → high; team → team-y; notify manager",
                              "call the webhook at example.com"]
    assert not TimelineEvent.objects.filter(work_order=wo, kind__in=["rule", "escalation"]).exists()


def test_one_failing_work_order_does_not_stop_a_scheduled_run(world):
    def boom(rule, wo, a):
        if wo.title == "bad":
            raise RuntimeError("bug")
        return "ok"

    runner.register_action("boom", boom)
    try:
        with time_machine.travel(T0, tick=False):
            rule(world, trigger="schedule", schedule_minutes=5, actions=[{"type": "boom"}])
            bad_wo, good = create(world, title="bad"), create(world, title="good")
            assert schedule.run_due_schedules("w") is False
    finally:
        runner.ACTIONS.pop("boom", None)
    assert rule_events(bad_wo) == [] and not ScheduleFiring.objects.filter(work_order=bad_wo).exists()
    assert len(rule_events(good)) == 1


def test_notify_contract_watchers_reach_the_watchers(world):
    from closeloop.notify.services import fan_out_payload

    wo = create(world, title="x", team="team-x")
    wo_services.do_add_watcher(actor=world.dispatcher, wo=wo, user=world.eng_x2)
    out = fan_out_payload("test:watchers", {"event": "rule.notify", "work_order": wo.code,
                                            "recipients": [{"watchers": True}], "channels": ["inbox"]}, now())
    assert [d.user.username for d in out] == ["eng_x2"]


def test_dry_run_of_a_comment_rule_with_a_sample_event(world):
    r = rule(world, trigger="comment_added", condition='event.body.contains("漏水") && !event.public',
             actions=[{"type": "add_tags", "tags": ["漏水"]}])
    wo = create(world, title="x")
    api = world.api(world.dispatcher)
    out = api.post(f"/api/v1/rules/{r.pk}/try", {"work_order": wo.code}).json()
    assert out["trigger"] == "comment_added" and out["matched"] is False and out["error"] is None
    out = api.post(f"/api/v1/rules/{r.pk}/try", {"work_order": wo.code,
                                                 "event": {"body": "机房漏水", "public": False}},
                   headers={"Accept-Language": "en"}).json()
    assert out["would_fire"] is True and out["actions"] == ["add tags 漏水"]
    resp = api.post(f"/api/v1/rules/{r.pk}/try", {"work_order": wo.code, "event": {"body": 5, "evil": 1}})
    assert resp.status_code == 422
    assert sorted(e["field"] for e in resp.json()["errors"]) == ["event.body", "event.evil"]
    resp = api.post(f"/api/v1/rules/{r.pk}/try", {"work_order": wo.code, "trigger": "nonsense"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "trigger"
