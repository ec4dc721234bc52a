"""The weekly digest: its figures are the dashboard's measures (and the hand reading of the
scripted work orders of test_measures), it goes once per ISO week to each manager who has not
turned it off (never to engineers), through a real channel, and nobody gets a week twice even
when workers race."""

import io
from datetime import date, datetime, timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command

from closeloop.analytics import digest, measures
from closeloop.analytics.models import DigestSent
from closeloop.analytics.tests.test_measures import TZ, story  # noqa: F401  (the scripted work orders)
from closeloop.notify import messages
from closeloop.notify.conftest import smtp  # noqa: F401  (the aiosmtpd sink)
from closeloop.notify.models import Channel, Delivery, InboxItem, UserSettings
from closeloop.notify.services import deliver_batch, fan_out_batch
from closeloop.outbox.models import OutboxMessage

MONDAY = date(2026, 11, 2)  # the story's week, 2026-W45
SENT_AT = datetime(2026, 11, 9, 8, 30, tzinfo=TZ)  # the next Monday, after 08:00


def at(t):
    return time_machine.travel(t, tick=False)


def joined_long_ago():
    """People made by the fixtures joined today (the real clock); these tests live in November."""
    from closeloop.accounts.models import User

    User.objects.update(date_joined=datetime(2026, 10, 1, tzinfo=TZ))


def digest_rows():
    return OutboxMessage.objects.filter(kind="notify", key__startswith="analytics.digest:")


def render(lang, monday=MONDAY):
    f = digest.figures(monday)
    return messages.render(digest.EVENT, "email", {"week": f["week"], "url": digest.link(monday),
                                                   "message": digest.message(f)}, lang)


@pytest.mark.django_db
def test_the_figures_are_the_measures_and_the_hand_reading(story):  # noqa: F811
    with at(SENT_AT):
        f = digest.figures(MONDAY)
        scope = measures.Scope(MONDAY, MONDAY + timedelta(days=6))
        assert f["week"] == "2026-W45"
        assert f["current"] == measures.summary(scope)
        assert f["previous"] == measures.summary(scope.previous())
        assert [(c["state"], c["key"], c["hours"]) for c in f["stuck"]] == [
            (c["state"], c["key"], c["hours"]) for c in measures.top_stuck(scope, 3)]
        en, zh = render("en"), render("zh-hans")
    cur = f["current"]
    # the hand reading (test_measures): 3 created; a responded in 20 min, b 14 h 50 min late;
    # one target breached; b reopened after one of two completions; nothing the week before
    assert (cur["created"], cur["sla_attainment"], cur["breached"], cur["reopen_rate"]) == (3, 0.5, 1, 0.5)
    assert cur["response_avg_s"] == (20 + 14 * 60 + 50) * 60 / 2
    assert f["previous"]["created"] == 0
    assert en.subject == "Weekly digest 2026-W45"
    for line in ("Week 2026-W45 (2026-11-02 – 2026-11-08)", "- Work orders created: 3 (0)",
                 "- SLA attainment: 50.0% (—)", "- Overdue SLA targets: 1 (0)",
                 "- First response (average): 455.0 min (—)", "- Reopen rate: 50.0% (—)"):
        assert line in en.body
    top = f["stuck"][0]
    assert f"{round(top['hours'], 1)} h" in en.body and en.body.count("; ") == len(f["stuck"]) - 1
    assert en.url.endswith("/analytics/?from=2026-11-02&to=2026-11-08")
    assert zh.subject == "每周摘要 2026-W45"
    assert "新建工单：3（0）" in zh.body and "SLA 达成率：50.0%（—）" in zh.body and "小时" in zh.body
    assert zh.body.count("；") == len(f["stuck"]) - 1 and "; " not in zh.body


@pytest.mark.django_db
def test_once_per_week_per_manager_none_for_engineers_or_who_opted_out(world):
    from closeloop.accounts.models import Role, User

    second = world._user("manager2", Role.MANAGER)
    quiet = world._user("manager3", Role.MANAGER)
    UserSettings.objects.create(user=quiet, digest=False)
    joined_long_ago()
    with at(datetime(2026, 11, 9, 7, 59, tzinfo=TZ)):  # Monday before 08:00: not due yet
        assert digest.due_week() is None and digest.step("w1") is False
        assert digest.next_at() == datetime(2026, 11, 9, 8, 0, tzinfo=TZ)
    with at(SENT_AT):
        assert digest.next_at() == SENT_AT
        assert digest.step("w1") is False  # one batch did everyone
        assert digest.step("w2") is False
        assert digest.next_at() == datetime(2026, 11, 16, 8, 0, tzinfo=TZ)
    got = set(DigestSent.objects.values_list("user__username", "week"))
    assert got == {("manager", "2026-W45"), ("manager2", "2026-W45")}
    assert sorted(r.payload["recipients"][0]["user"] for r in digest_rows()) == ["manager", "manager2"]
    assert all(r.payload.get("no_robots") for r in digest_rows())
    # an administrator only when they turn it on; never an engineer, dispatcher or finance
    UserSettings.objects.create(user=world.admin, digest=True)
    with at(SENT_AT + timedelta(days=2)):  # later in the week: the newcomer still gets last week's
        digest.step("w1")
    assert DigestSent.objects.filter(week="2026-W45").count() == 3
    assert not DigestSent.objects.filter(user__role__in=["engineer", "dispatcher", "finance", "customer"]).exists()
    assert not DigestSent.objects.filter(user=quiet).exists()
    # the next week is a new week
    with at(SENT_AT + timedelta(days=7)):
        digest.step("w1")
    assert DigestSent.objects.filter(week="2026-W46").count() == 3
    assert digest_rows().count() == 6
    assert second.pk in set(DigestSent.objects.filter(week="2026-W46").values_list("user_id", flat=True))
    assert User.objects.filter(role="engineer").count() == 3
    # a manager who joined after a week ended gets the next week's, not that one
    with at(SENT_AT + timedelta(days=8)):
        late = world._user("newcomer", Role.MANAGER)
        digest.step("w1")
        assert not DigestSent.objects.filter(user=late).exists()
    with at(SENT_AT + timedelta(days=14)):
        digest.step("w1")
    assert list(DigestSent.objects.filter(user=late).values_list("week", flat=True)) == ["2026-W47"]


@pytest.mark.django_db
def test_a_row_written_by_another_worker_first_means_nothing_is_asked(world):
    """The IntegrityError path: the person was pending when read, another worker recorded them
    before this one's insert; this one asks notify for nothing."""
    joined_long_ago()
    with at(SENT_AT):
        people = list(digest.pending(MONDAY))
        assert [u.username for u in people] == ["manager"]
        DigestSent.objects.create(user=people[0], week="2026-W45", sent_at=SENT_AT)  # the other worker
        msg = digest.message(digest.figures(MONDAY))
        assert digest.send_one(people[0], MONDAY, msg, digest.link(MONDAY)) is False
        assert digest.send_week(MONDAY) == (0, False)
    assert not digest_rows().exists() and DigestSent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_send_each_person_once(world):
    from closeloop.accounts.models import Role
    from closeloop.core.testing import run_at_once

    for i in range(5):
        world._user(f"boss{i}", Role.MANAGER)
    joined_long_ago()

    def send(i):
        with at(SENT_AT):
            return digest.send_week(MONDAY)[0]

    results, errors = run_at_once(3, send)
    assert not errors, errors
    assert sum(results) == 6  # six managers, whoever sent
    assert DigestSent.objects.count() == 6 and digest_rows().count() == 6


@pytest.mark.django_db
def test_waits_for_the_refresh_to_fold_in_the_week(story):  # noqa: F811
    from closeloop.analytics.models import Cursor

    Cursor.objects.filter(name="timeline").update(last_event_id=0)
    joined_long_ago()
    with at(SENT_AT):
        assert digest.refresh_behind(MONDAY) and digest.step("w1") is False
        assert not DigestSent.objects.exists()
        from closeloop.analytics import refresh

        refresh.catch_up()
        assert digest.step("w1") is False and DigestSent.objects.count() == 1


@pytest.mark.django_db
def test_delivered_by_email_in_the_managers_language_and_in_the_inbox(story, smtp):  # noqa: F811
    w = story["w"]
    w.manager.email, w.manager.language = "boss@example.com", "zh-hans"
    w.manager.save()
    joined_long_ago()
    with at(SENT_AT):
        Channel.objects.create(kind="email", name="mail", created_at=SENT_AT, config={
            "host": "127.0.0.1", "port": smtp.port, "from_email": "noreply@closeloop.test"})
        digest.step("worker")
        while fan_out_batch("worker"):
            pass
        while deliver_batch("worker"):
            pass
    d = Delivery.objects.get(event="analytics.digest", medium="email")
    assert d.status == "sent" and d.language == "zh-hans" and d.address == "boss@example.com"
    assert len(smtp.messages) == 1
    import email
    from email.policy import default

    m = email.message_from_string(smtp.messages[0]["data"], policy=default)
    assert smtp.messages[0]["to"] == ["boss@example.com"]
    assert m["Subject"] == "每周摘要 2026-W45"
    body = m.get_body(("plain",)).get_content()
    assert "新建工单：3（0）" in body and "/analytics/?from=2026-11-02&to=2026-11-08" in body
    # the inbox keeps the key and parameters: an English reader sees English
    item = InboxItem.objects.get(user=w.manager, event="analytics.digest")
    [shown] = messages.for_reader([item], "en")
    assert "Work orders created: 3 (0)" in shown.body and item.url.endswith("to=2026-11-08")


@pytest.mark.django_db
def test_preferences_page_and_api_turn_it_off(world):
    c = world.browser_client(world.manager)
    page = c.get("/notifications/preferences")
    assert b'data-testid="digest-toggle"' in page.content and b" checked" in page.content.split(b"digest-toggle")[1][:20]
    c.post("/notifications/preferences", {"quiet_start": "", "quiet_end": ""})  # toggle unticked
    assert UserSettings.objects.get(user=world.manager).digest is False
    assert not digest.digest_recipients().filter(pk=world.manager.pk).exists()
    assert b'data-testid="digest-toggle"' not in world.browser_client(world.eng_x).get(
        "/notifications/preferences").content
    api = world.api(world.manager)
    assert api.get("/api/v1/notifications/preferences").json()["weekly_digest"] is False
    r = api.put("/api/v1/notifications/preferences", {"weekly_digest": True})
    assert r.status_code == 200 and r.json()["weekly_digest"] is True
    r = api.put("/api/v1/notifications/preferences", {})  # absent: unchanged
    assert r.json()["weekly_digest"] is True
    eng = world.api(world.eng_x)
    assert eng.get("/api/v1/notifications/preferences").json()["weekly_digest"] is None
    r = eng.put("/api/v1/notifications/preferences", {"weekly_digest": True})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "weekly_digest"
    assert not UserSettings.objects.filter(user=world.eng_x).exists()  # nothing half-written
    r = api.put("/api/v1/notifications/preferences", {"weekly_digest": "yes please"})
    assert r.status_code == 422


@pytest.mark.django_db
def test_command_previews_and_sends(story):  # noqa: F811
    out = io.StringIO()
    joined_long_ago()
    with at(SENT_AT):
        call_command("send_digest", "--week", "2026-W45", "--dry-run", stdout=out)
        assert not DigestSent.objects.exists() and not digest_rows().exists()
        text = out.getvalue()
        assert "weekly digest 2026-W45: 1 recipients, 1 not sent yet" in text and "manager (manager" in text
        assert "Work orders created: 3 (0)" in text or "新建工单：3（0）" in text
        with pytest.raises(CommandError, match="--week"):
            call_command("send_digest", "--week", "2026-45")
        with pytest.raises(CommandError, match="not over yet"):
            call_command("send_digest", "--week", "2026-W46")
        out = io.StringIO()
        call_command("send_digest", "--week", "2026-W45", stdout=out)
        assert "sent to 1 people" in out.getvalue()
        out = io.StringIO()
        call_command("send_digest", "--week", "2026-W45", stdout=out)
        assert "sent to 0 people" in out.getvalue()
        assert digest.step("w1") is False  # the worker does not send it again
    assert DigestSent.objects.count() == 1 and digest_rows().count() == 1


@pytest.mark.django_db
def test_the_demo_sends_its_manager_last_weeks_digest(story):  # noqa: F811
    from closeloop.analytics.demo import seed_digest

    with at(SENT_AT + timedelta(hours=3)):
        assert seed_digest() == "2026-W45"
        assert seed_digest() == "2026-W45"  # run again: still one
        assert seed_digest("eng_x") is None  # not offered to engineers
    assert list(DigestSent.objects.values_list("user__username", "week")) == [("manager", "2026-W45")]
    assert digest_rows().count() == 1


@pytest.mark.django_db
def test_on_the_managers_own_channels_but_never_a_voice_call(world):
    from closeloop.notify.models import UserPreference

    for medium in ("sms", "voice", "dingtalk"):
        UserPreference.objects.create(user=world.manager, event="*", medium=medium, enabled=True)
    joined_long_ago()
    with at(SENT_AT):
        digest.step("w1")
    [row] = digest_rows()
    assert row.payload["channels"] == ["inbox", "sms", "dingtalk"]
