"""Notifications in a real browser: an admin adds a channel and sends a test message; an
engineer's inbox badge counts a new message without a reload; the urgent message is
acknowledged with its button; the delivery log redelivers. No CSP violations."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from closeloop.core.clock import now
from closeloop.notify import ack
from closeloop.notify.conftest import Sink
from closeloop.notify.models import AckChain, AckPolicy, Delivery
from closeloop.notify.services import fan_out_payload
from closeloop.workorders.services import do_transition
from closeloop.workorders.tests.factories import make_wo

from .test_journey import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def hook_sink(settings):
    settings.CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS = True
    settings.CLOSELOOP_NOTIFY_POLL_SECONDS = 1
    s = Sink()
    yield s
    s.close()


def test_channel_test_message_inbox_badge_and_acknowledge(world, browse, hook_sink, screenshot_dir):
    admin = browse(locale="en-US")
    login(admin, "admin")
    admin.goto("/notifications/channels/?kind=webhook")
    form = admin.get_by_test_id("channel-form")
    form.locator("#name").fill("Ops webhook")
    form.locator("#cfg-url").fill(hook_sink.url + "/hook")
    form.locator("#cfg-secret").fill("s3cret")
    form.get_by_test_id("add-channel").click()
    expect(admin.get_by_test_id("channel-edit")).to_be_visible()
    admin.get_by_test_id("send-test").click()
    expect(admin.locator(".alert-success, .alert-info").first).to_contain_text("Delivered")
    assert hook_sink.requests and "X-Closeloop-Signature" in hook_sink.requests[0]["headers"]
    admin.screenshot(path=str(screenshot_dir / "notify-channel-1280.png"), full_page=True)

    # The engineer's badge counts a message that arrives while the page is open.
    eng = browse(locale="zh-CN")
    login(eng, "eng_x")
    expect(eng.get_by_test_id("nav-inbox")).to_be_visible()
    AckPolicy.objects.create(name="night", priorities=["urgent"], always=True, steps=ack.DEFAULT_STEPS)
    wo = make_wo(world, priority="urgent")
    do_transition(actor=world.dispatcher, wo=wo, action="assign", data={"assignee": "eng_x"})
    chain = AckChain.objects.get(work_order=wo)
    fan_out_payload("browser:1", {"event": "ack.request", "work_order": wo.code, "recipients": [{"user": "eng_x"}],
                                  "channels": ["inbox"], "context": {"chain": chain.pk, "ack_url": "http://x/ack"}},
                    now())
    expect(eng.get_by_test_id("unread-count")).to_have_text("1", timeout=10_000)
    eng.get_by_test_id("nav-inbox").click()
    item = eng.get_by_test_id("inbox-item").first
    expect(item).to_contain_text(wo.code)
    eng.screenshot(path=str(screenshot_dir / "notify-inbox-1280.png"), full_page=True)
    item.get_by_test_id("ack-button").click()
    expect(eng.get_by_test_id("ack-button")).to_have_count(0)
    chain.refresh_from_db()
    assert chain.acked_via == "app" and chain.acked_by == world.eng_x

    # The work order page shows the chain acknowledged and the timeline says so.
    eng.goto(f"/work-orders/{wo.code}/")
    expect(eng.get_by_test_id("ack-chain").first).to_have_attribute("data-acked", "1")
    expect(eng.get_by_test_id("notification-event").last).to_contain_text("确认")

    # Delivery log: filter and redeliver with the same id.
    admin.goto("/notifications/deliveries/?medium=webhook")
    expect(admin.get_by_test_id("delivery-row")).to_have_count(1)
    admin.get_by_test_id("redeliver").click()
    expect(admin.get_by_test_id("delivery-row").first).to_have_attribute("data-status", "queued")
    assert Delivery.objects.get(medium="webhook").status == "queued"

    assert browse.watch.csp_violations() == []
    assert browse.watch.page_errors == []
    assert now() - chain.started_at < timedelta(minutes=5)
