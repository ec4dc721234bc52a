"""Against real servers on 127.0.0.1: pymap for IMAP polling, aiosmtpd for inbound SMTP, and our
email channel's outgoing Message-ID / Reply-To coming back as a threaded reply."""

import email
import email.policy
import smtplib
from datetime import timedelta

import pytest
import time_machine

from closeloop.core.clock import now
from closeloop.mailin import imap, secrets, services
from closeloop.mailin.models import InboundMessage, Mailbox, Outcome
from closeloop.notify.conftest import make_delivery, smtp  # noqa: F401  (the aiosmtpd sink fixture)
from closeloop.workorders.models import TimelineEvent, WorkOrder

from .conftest import free_port, mail


@pytest.fixture
def contact(world):
    world.contact_a.email = "wang@hospital-a.cn"
    world.contact_a.save()
    return world.contact_a


def _imap_box(world, server, password=None):
    return services.do_create_mailbox(actor=world.admin, data={
        "name": "IMAP", "kind": "imap", "address": server.user, "type": "repair", "host": "127.0.0.1",
        "port": server.port, "security": "none", "username": server.user,
        "password": password or server.password})


@pytest.mark.django_db
def test_imap_poll_opens_work_orders_marks_seen_and_is_idempotent(world, contact, imap_server):
    mb = _imap_box(world, imap_server)
    assert secrets.decrypt(mb.password_encrypted) == imap_server.password
    assert imap_server.password not in mb.password_encrypted
    imap_server.append(mail())
    imap_server.append(mail(frm="li@unknown.cn", mid="<u@unknown.cn>"))
    assert imap.poll(mb) == (2, None)
    assert imap_server.unseen() == []
    assert WorkOrder.objects.count() == 1
    assert sorted(InboundMessage.objects.values_list("outcome", flat=True)) == [Outcome.CREATED, Outcome.HELD]
    imap_server.append(mail())  # the same mail again (polled twice, or delivered twice)
    assert imap.poll(mb) == (1, None)
    assert WorkOrder.objects.count() == 1 and InboundMessage.objects.count() == 2
    mb.refresh_from_db()
    assert mb.last_ok_at is not None and mb.last_error == ""


@pytest.mark.django_db
def test_the_worker_step_polls_due_mailboxes_only(world, contact, imap_server):
    mb = _imap_box(world, imap_server)
    imap_server.append(mail())
    assert imap.next_at() <= now()
    imap.step("w1")
    assert WorkOrder.objects.count() == 1
    imap_server.append(mail(mid="<m2@hospital-a.cn>", subject="第二封"))
    imap.step("w1")  # not due yet
    assert WorkOrder.objects.count() == 1
    with time_machine.travel(now() + timedelta(seconds=mb.poll_seconds + 1), tick=False):
        imap.step("w1")
    assert WorkOrder.objects.count() == 2


@pytest.mark.django_db
def test_imap_login_failure_is_shown_on_the_mailbox_page(world, imap_server):
    mb = _imap_box(world, imap_server, password="wrong-password")
    taken, error = imap.poll(mb)
    assert taken == 0 and "AUTHENTICATIONFAILED" in error  # in the deployment's language, the server's words
    mb.refresh_from_db()
    assert mb.last_error == error and mb.last_error_at is not None
    page = world.browser_client(world.admin).get(f"/settings/mailboxes/{mb.pk}")
    assert page.status_code == 200
    assert 'data-testid="last-error"' in page.content.decode() and "AUTHENTICATIONFAILED" in page.content.decode()
    assert world.api(world.admin).get(f"/api/v1/mailboxes/{mb.pk}").json()["last_error"] == error


@pytest.mark.django_db
def test_imap_connection_refused_is_recorded(world):
    mb = services.do_create_mailbox(actor=world.admin, data={
        "name": "x", "kind": "imap", "address": "x@example.com", "type": "repair", "host": "127.0.0.1",
        "port": free_port(), "security": "none", "username": "x", "password": "y"})
    taken, error = imap.poll(mb)
    assert taken == 0 and f"127.0.0.1:{mb.port}" in error and "refused" in error.lower()


@pytest.mark.django_db(transaction=True)
def test_inbound_smtp_server_accepts_configured_addresses_only(world, contact):
    from closeloop.mailin.smtp import controller

    services.do_create_mailbox(actor=world.admin, data={
        "name": "SMTP", "kind": "smtp", "address": "service@closeloop.test", "type": "repair", "team": "team-x"})
    port = free_port()
    ctl = controller("127.0.0.1", port, 10 * 2**20)
    ctl.start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            refused = s.sendmail("wang@hospital-a.cn", ["service@closeloop.test"], mail())
            assert refused == {}
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                s.sendmail("wang@hospital-a.cn", ["nobody@closeloop.test"], mail(mid="<n@x>"))
    finally:
        ctl.stop()
    wo = WorkOrder.objects.get()
    assert wo.team == world.team_x and wo.contact == contact
    assert InboundMessage.objects.get().mailbox.kind == "smtp"


@pytest.mark.django_db
def test_outgoing_email_names_the_code_and_reply_to_and_the_reply_threads(world, contact, smtp):  # noqa: F811
    from closeloop.notify.channels import email as email_channel
    from closeloop.notify.models import Channel

    box = services.do_create_mailbox(actor=world.admin, data={
        "name": "SMTP", "kind": "smtp", "address": "service@closeloop.test", "type": "repair"})
    wo = services.do_receive_message(mail(), box).work_order
    ch = Channel.objects.create(kind="email", name="mail", created_at=now(), config=email_channel.validate({
        "host": "127.0.0.1", "port": smtp.port, "from_email": "noreply@closeloop.test",
        "reply_to": "service@closeloop.test"}))
    d = make_delivery(ch, address="wang@hospital-a.cn", key="assigned:1:email", subject="工程师已派出",
                      work_order=wo)
    mid = email_channel.send(ch, d)
    assert wo.code in mid and mid.endswith("@closeloop>")
    sent = email.message_from_string(smtp.messages[0]["data"], policy=email.policy.default)
    assert sent["Reply-To"] == "service@closeloop.test" and str(sent["Message-ID"]).strip() == mid
    assert sent["Subject"].startswith(f"[{wo.code}]") and sent["Auto-Submitted"] == "auto-generated"
    # The customer's mail program replies to Reply-To, quoting the Message-ID.
    reply = mail(subject="Re: 工程师已派出", mid="<reply@hospital-a.cn>", body="好的，谢谢",
                 headers={"In-Reply-To": mid, "References": mid})
    row = services.do_receive_message(reply, box)
    assert (row.outcome, row.work_order, row.reason) == (Outcome.THREADED, wo, "headers")
    assert TimelineEvent.objects.filter(work_order=wo, kind="email").count() == 2
    # Our own message bounced straight back is a loop, not a reply.
    looped = services.do_receive_message(smtp.messages[0]["data"].encode(), box)
    assert (looped.outcome, looped.reason) == (Outcome.IGNORED, "auto_reply")  # Auto-Submitted comes first
    assert Mailbox.objects.count() == 1
