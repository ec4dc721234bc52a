"""Receiving mail: new work orders, held mail, threading, attachments, auto-replies, loops, duplicates."""

import logging

import pytest
from django.core.files.storage import default_storage

from closeloop.core import mailids
from closeloop.customers.models import Contact
from closeloop.fieldwork.tests.helpers import png
from closeloop.mailin import services
from closeloop.mailin.models import InboundMessage, Outcome
from closeloop.workorders.models import Attachment, TimelineEvent, WorkOrder

from .conftest import mail

pytestmark = pytest.mark.django_db


@pytest.fixture
def box(world):
    world.contact_a.email = "wang@hospital-a.cn"
    world.contact_a.save()
    return services.do_create_mailbox(actor=world.admin, data={
        "name": "报修邮箱", "kind": "smtp", "address": "service@closeloop.test", "type": "repair", "team": "team-x"})


def test_known_contact_opens_a_work_order_of_the_mailbox_type_and_team(world, box):
    row = services.do_receive_message(mail(), box)
    assert row.outcome == Outcome.CREATED
    wo = row.work_order
    assert (wo.wo_type.key, wo.team.code, wo.contact_id, wo.customer_id, wo.site_id) == (
        "repair", "team-x", world.contact_a.pk, world.org_a.pk, world.site_a.pk)
    assert wo.title == "呼吸机报警" and "ICU" in wo.description
    ev = TimelineEvent.objects.get(work_order=wo, kind="email")
    assert ev.public and ev.data["from"] == "wang@hospital-a.cn" and ev.data["via"] == "new"
    assert wo.created_by.username == services.INTAKE_USERNAME and not wo.created_by.is_active


def test_unknown_sender_is_held_until_a_dispatcher_accepts_it(world, box):
    row = services.do_receive_message(mail(frm="li@unknown.cn", name="李工", mid="<u1@unknown.cn>"), box)
    assert (row.outcome, row.reason, row.work_order) == (Outcome.HELD, "unknown_sender", None)
    assert WorkOrder.objects.count() == 0
    api = world.api(world.dispatcher)
    assert [m["from"] for m in api.get("/api/v1/mail/held").json()] == ["li@unknown.cn"]
    r = api.post(f"/api/v1/mail/held/{row.pk}/accept", {})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "customer"
    r = api.post(f"/api/v1/mail/held/{row.pk}/accept", {"customer": "org-b"})
    assert r.status_code == 200, r.content
    wo = WorkOrder.objects.get(code=r.json()["work_order"])
    assert wo.customer == world.org_b and wo.contact.email == "li@unknown.cn" and wo.team == world.team_x
    assert api.post(f"/api/v1/mail/held/{row.pk}/accept", {"customer": "org-b"}).status_code == 409
    # Now a contact: the next mail opens a work order at once.
    nxt = services.do_receive_message(mail(frm="li@unknown.cn", subject="又坏了", mid="<u2@unknown.cn>"), box)
    assert nxt.outcome == Outcome.CREATED and nxt.work_order.customer == world.org_b
    assert Contact.objects.filter(email="li@unknown.cn").count() == 1


def test_discard_held(world, box):
    row = services.do_receive_message(mail(frm="x@spam.cn", mid="<s@spam.cn>"), box)
    r = world.api(world.dispatcher).post(f"/api/v1/mail/held/{row.pk}/discard")
    assert r.status_code == 200 and r.json()["outcome"] == "discarded"
    row.refresh_from_db()
    assert row.raw is None


def test_reply_threads_by_the_code_in_the_subject(world, box):
    wo = services.do_receive_message(mail(), box).work_order
    reply = mail(subject=f"Re: [{wo.code}] 呼吸机报警", mid="<m2@hospital-a.cn>",
                 body="今天下午有人在。\n\nOn Mon, Dec 7, 2026 at 10:00 AM 客服 wrote:\n> 我们会派工程师")
    row = services.do_receive_message(reply, box)
    assert (row.outcome, row.work_order, row.reason) == (Outcome.THREADED, wo, "subject")
    ev = TimelineEvent.objects.filter(work_order=wo, kind="email").order_by("-id").first()
    assert ev.data["body"] == "今天下午有人在。" and ev.public
    assert WorkOrder.objects.count() == 1


def test_a_stranger_naming_a_code_does_not_thread(world, box):
    wo = services.do_receive_message(mail(), box).work_order
    row = services.do_receive_message(mail(frm="eve@evil.cn", subject=f"Re: {wo.code}", mid="<e@evil.cn>"), box)
    assert row.outcome == Outcome.HELD and row.work_order is None


def test_reply_threads_by_in_reply_to_a_message_id_we_sent(world, box):
    wo = services.do_receive_message(mail(), box).work_order
    ours = mailids.make("notify:assigned:1:email", wo.code)
    row = services.do_receive_message(mail(frm="someone@elsewhere.cn", subject="Re: 好的", mid="<r@elsewhere.cn>",
                                           headers={"In-Reply-To": ours, "References": ours}), box)
    assert (row.outcome, row.work_order, row.reason) == (Outcome.THREADED, wo, "headers")
    forged = "<" + wo.code + ".0000000000000000.abc@" + mailids.domain() + ">"
    row = services.do_receive_message(mail(frm="someone@elsewhere.cn", subject="Re: x", mid="<f@elsewhere.cn>",
                                           headers={"In-Reply-To": forged}), box)
    assert row.outcome == Outcome.HELD


def test_attachments_kept_with_the_upload_checks_and_refused_ones_named(world, box, settings):
    settings.MAX_UPLOAD_BYTES = 4096
    raw = mail(attachments=[("现场.png", png(), "image/png"), ("tool.exe", b"MZ\x90\x00" + b"\x00" * 100,
                                                                "application/octet-stream"),
                            ("big.pdf", b"%PDF-1.4\n" + b"x" * 5000, "application/pdf")])
    row = services.do_receive_message(raw, box)
    wo = row.work_order
    atts = list(Attachment.objects.filter(work_order=wo))
    assert [(a.original_name, a.content_type, a.public) for a in atts] == [("现场.png", "image/png", True)]
    assert default_storage.exists(atts[0].file.name)
    assert [r["name"] for r in row.refused] == ["tool.exe", "big.pdf"]
    ev = TimelineEvent.objects.get(work_order=wo, kind="email")
    assert [r["name"] for r in ev.data["refused"]] == ["tool.exe", "big.pdf"]


@pytest.mark.parametrize("headers,frm", [
    ({"Auto-Submitted": "auto-replied"}, "wang@hospital-a.cn"),
    ({"X-Autoreply": "yes"}, "wang@hospital-a.cn"),
    ({"Precedence": "bulk"}, "wang@hospital-a.cn"),
    ({"Precedence": "auto_reply"}, "wang@hospital-a.cn"),
    ({}, "MAILER-DAEMON@mx.hospital-a.cn"),
])
def test_auto_replies_are_ignored_with_a_log_line(world, box, caplog, headers, frm):
    caplog.set_level(logging.INFO, logger="closeloop.mailin")
    row = services.do_receive_message(mail(frm=frm, headers=headers), box)
    assert (row.outcome, row.reason) == (Outcome.IGNORED, "auto_reply")
    assert WorkOrder.objects.count() == 0
    assert any("ignored: auto_reply" in r.getMessage() for r in caplog.records)


def test_loops_are_ignored(world, box, caplog):
    caplog.set_level(logging.INFO, logger="closeloop.mailin")
    ours = services.do_receive_message(mail(mid=mailids.make("k", "WD2026120700001")), box)
    xloop = services.do_receive_message(mail(mid="<l2@hospital-a.cn>", headers={"X-Loop": "closeloop"}), box)
    self_sent = services.do_receive_message(mail(frm="service@closeloop.test", mid="<l3@x>"), box)
    assert [(r.outcome, r.reason) for r in (ours, xloop, self_sent)] == [(Outcome.IGNORED, "loop")] * 3
    assert WorkOrder.objects.count() == 0
    assert sum("ignored: loop" in r.getMessage() for r in caplog.records) == 3


def test_per_sender_rate_limit(world, box, settings):
    settings.CLOSELOOP_MAIL_RATE_PER_HOUR = 3
    rows = [services.do_receive_message(mail(mid=f"<r{i}@hospital-a.cn>", subject=f"第{i}封"), box) for i in range(5)]
    assert [r.outcome for r in rows] == [Outcome.CREATED] * 3 + [Outcome.IGNORED] * 2
    assert rows[-1].reason == "rate_limited"


def test_the_same_message_id_twice_is_one_event(world, box):
    a = services.do_receive_message(mail(), box)
    b = services.do_receive_message(mail(), box)
    assert a.pk == b.pk and getattr(b, "duplicate", False)
    assert WorkOrder.objects.count() == 1 and InboundMessage.objects.count() == 1
    assert TimelineEvent.objects.filter(kind="email").count() == 1


def test_a_type_that_cannot_be_filed_holds_the_mail(world, box):
    box.wo_type = world.production  # has a required custom field mail cannot fill
    box.save()
    row = services.do_receive_message(mail(), box)
    assert (row.outcome, row.reason) == (Outcome.HELD, "invalid") and "temperature" in row.detail
    assert WorkOrder.objects.count() == 0
