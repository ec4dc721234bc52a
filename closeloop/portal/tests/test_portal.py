"""Customer portal: QR reports, tracking links, notifications at key steps, confirm/sign/rate,
reopen window, rate limits."""

import base64
import io
from datetime import timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from closeloop.core.clock import now
from closeloop.outbox.models import OutboxMessage
from closeloop.portal import services
from closeloop.portal.models import Feedback, TrackingLink
from closeloop.workorders import services as wo_services
from closeloop.workorders.attachments import do_add_attachment
from closeloop.workorders.lifecycle import S
from closeloop.workorders.models import TimelineEvent, WorkOrder

pytestmark = pytest.mark.django_db

def _png(seed: int = 0) -> bytes:
    from PIL import Image, ImageDraw

    im = Image.new("RGBA", (120, 40), (255, 255, 255, 0))
    ImageDraw.Draw(im).line([(5, 30), (40 + seed, 5), (110, 30 - seed % 20)], fill=(0, 0, 0, 255), width=3)
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


PNG = _png()


def _report_via_qr(client, world, **over):
    token = services.sign_qr(world.asset_a)
    data = {"what": "呼吸机报警，无法开机\n屏幕黑", "phone": "13900001111", "name": "李医生", **over}
    return client.post(f"/portal/q/{token}/report", data)


def test_qr_report_creates_work_order_with_tracking_link_and_contact(world):
    c = Client()
    r = _report_via_qr(c, world)
    assert r.status_code == 302
    wo = WorkOrder.objects.get()
    assert wo.customer == world.org_a and wo.asset == world.asset_a and wo.site == world.site_a
    assert wo.title == "呼吸机报警，无法开机" and "屏幕黑" in wo.description
    assert wo.contact.phone == "13900001111" and wo.contact.name == "李医生"
    link = TrackingLink.objects.get(work_order=wo)
    assert r["Location"] == f"/portal/t/{link.token}/"
    assert len(link.token) >= 40 and wo.code not in link.token
    assert TimelineEvent.objects.filter(work_order=wo, kind="portal", public=True).exists()
    page = c.get(r["Location"])
    assert page.status_code == 200
    assert wo.code in page.content.decode()


def test_report_needs_what_and_phone_and_keeps_input(world):
    c = Client()
    r = _report_via_qr(c, world, what="", phone="abc")
    assert r.status_code == 422
    body = r.content.decode()
    assert 'data-testid="error-what"' in body and 'data-testid="error-phone"' in body
    assert "李医生" in body
    assert WorkOrder.objects.count() == 0


def test_report_with_photo(world):
    c = Client()
    photo = SimpleUploadedFile("p.png", PNG, content_type="image/png")
    r = _report_via_qr(c, world, photo=photo)
    assert r.status_code == 302
    wo = WorkOrder.objects.get()
    assert wo.attachments.get().public is True


def test_tampered_or_unknown_tokens_are_404(world):
    c = Client()
    token = services.sign_qr(world.asset_a)
    assert c.get(f"/portal/q/{token[:-2]}xx/").status_code == 404
    assert c.get("/portal/t/not-a-token/").status_code == 404
    assert c.post("/portal/q/bogus/report", {"what": "x", "phone": "13900001111"}).status_code == 404


def test_site_qr_goes_to_report_prefilled(world):
    c = Client()
    token = services.sign_qr(world.site_b)
    r = c.get(f"/portal/q/{token}/")
    assert r.status_code == 302 and r["Location"].endswith("/report")
    page = c.get(r["Location"])
    assert "乙医院本部" in page.content.decode()
    c.post(r["Location"], {"what": "门禁坏了", "phone": "13900002222"})
    assert WorkOrder.objects.get().customer == world.org_b


def test_rate_limit_on_anonymous_reports(world, settings):
    settings.PORTAL_RATE_LIMITS = {"report": (2, 3600), "lookup": (100, 60), "act": (5, 3600)}
    c = Client()
    assert _report_via_qr(c, world).status_code == 302
    assert _report_via_qr(c, world).status_code == 302
    r = _report_via_qr(c, world)
    assert r.status_code == 429
    assert WorkOrder.objects.count() == 2


def test_rate_limit_on_token_lookups(world, settings):
    settings.PORTAL_RATE_LIMITS = {"report": (5, 3600), "lookup": (3, 60), "act": (5, 3600)}
    c = Client()
    codes = [c.get(f"/portal/t/guess{i}/").status_code for i in range(5)]
    assert codes == [404, 404, 404, 429, 429]


def test_account_report_and_own_view(world):
    c = world.browser_client(world.cust_a)
    r = c.post("/portal/new", {"what": "监护仪不显示", "where": "a:SN-A-1", "phone": "13800000001"})
    assert r.status_code == 302
    wo = WorkOrder.objects.get()
    assert wo.created_by == world.cust_a and wo.asset == world.asset_a and wo.contact == world.contact_a
    assert r["Location"] == f"/portal/w/{wo.code}/"
    assert c.get(r["Location"]).status_code == 200
    # Another organisation's asset is refused, naming the field.
    r = c.post("/portal/new", {"what": "x", "where": "a:SN-B-1"})
    assert r.status_code == 422 and WorkOrder.objects.count() == 1


def test_key_steps_enqueue_public_notifications_to_the_contact(world):
    wo = services.do_report(actor=None, place=world.asset_a, what="报警", phone="13800000001")
    d = world.dispatcher
    wo_services.do_transition(actor=d, wo=wo, action="assign", data={"assignee": "eng_x"})
    for action in ("accept", "depart", "arrive", "start"):
        wo_services.do_transition(actor=world.eng_x, wo=wo, action=action)
    wo_services.do_transition(actor=world.eng_x, wo=wo, action="complete", data={"resolution": "换了电源"})
    rows = list(OutboxMessage.objects.filter(kind="notify", key__startswith=f"portal:{wo.pk}:").order_by("id"))
    assert [r.payload["event"] for r in rows] == ["portal.accepted", "portal.on_the_way", "portal.arrived",
                                                  "portal.done"]
    link = TrackingLink.objects.get(work_order=wo)
    for r in rows:
        assert r.payload["recipients"] == [{"contact": wo.contact_id}]
        assert r.payload["public"] is True and r.payload["work_order"] == wo.code
        assert r.payload["context"]["url"].endswith(f"/portal/t/{link.token}/")
    assert services.tracking_url(wo).endswith(link.token + "/")


def _resolved(world):
    wo = services.do_report(actor=None, place=world.asset_a, what="报警", phone="13800000001")
    wo_services.do_transition(actor=world.dispatcher, wo=wo, action="assign", data={"assignee": "eng_x"})
    for action in ("accept", "arrive", "start"):
        wo_services.do_transition(actor=world.eng_x, wo=wo, action=action)
    wo_services.do_transition(actor=world.eng_x, wo=wo, action="complete", data={"resolution": "换了电源"})
    return wo


def test_confirm_sign_and_rate_through_tracking_link(world):
    wo = _resolved(world)
    token = TrackingLink.objects.get(work_order=wo).token
    c = Client()
    page = c.get(f"/portal/t/{token}/").content.decode()
    assert 'data-testid="confirm-form"' in page
    r = c.post(f"/portal/t/{token}/confirm", {"rating": "4", "comment": "很快", "signer_name": "李医生",
                                             "signature": "data:image/png;base64," + base64.b64encode(PNG).decode()})
    assert r.status_code == 302
    wo.refresh_from_db()
    assert wo.status == S.CONFIRMED and wo.rating == 4
    fb = Feedback.objects.get(work_order=wo)
    assert fb.comment == "很快" and fb.signer_name == "李医生"
    from closeloop.fieldwork.models import Signature

    sig = Signature.objects.get(work_order=wo)
    assert sig.signer_name == "李医生"


def test_confirm_with_a_stale_version_is_refused(world):
    wo = _resolved(world)
    token = TrackingLink.objects.get(work_order=wo).token
    Client().post(f"/portal/t/{token}/confirm", {
        "rating": "5", "signer_name": "李医生", "version": str(wo.version - 1),
        "signature": "data:image/png;base64," + base64.b64encode(_png(3)).decode()})
    wo.refresh_from_db()
    assert wo.status == S.RESOLVED


def test_confirm_needs_rating_and_name(world):
    wo = _resolved(world)
    token = TrackingLink.objects.get(work_order=wo).token
    Client().post(f"/portal/t/{token}/confirm", {"rating": "9", "signer_name": ""})
    wo.refresh_from_db()
    assert wo.status == S.RESOLVED


def test_reopen_within_window_only(world, settings):
    settings.PORTAL_REOPEN_DAYS = 3
    wo = _resolved(world)
    token = TrackingLink.objects.get(work_order=wo).token
    with time_machine.travel(now() + timedelta(days=4)):
        Client().post(f"/portal/t/{token}/reopen", {"reason": "又坏了"})
        wo.refresh_from_db()
        assert wo.status == S.RESOLVED
    Client().post(f"/portal/t/{token}/reopen", {"reason": "又坏了"})
    wo.refresh_from_db()
    assert wo.status == S.ASSIGNED


def test_public_timeline_hides_internal_comments(world):
    wo = _resolved(world)
    wo_services.do_add_comment(actor=world.dispatcher, wo=wo, body="内部：客户很难缠", public=False)
    wo_services.do_add_comment(actor=world.dispatcher, wo=wo, body="已安排工程师", public=True)
    token = TrackingLink.objects.get(work_order=wo).token
    body = Client().get(f"/portal/t/{token}/").content.decode()
    assert "已安排工程师" in body and "客户很难缠" not in body
    live = Client().get(f"/portal/t/{token}/live").content.decode()
    assert "客户很难缠" not in live and 'data-status="resolved"' in live


def test_passport_shows_open_work_last_service_and_no_plan(world):
    done = _resolved(world)
    services.do_report(actor=None, place=world.asset_a, what="又报警", phone="13800000001")
    token = services.sign_qr(world.asset_a)
    body = Client().get(f"/portal/q/{token}/").content.decode()
    assert 'data-testid="passport-wo"' in body
    assert done.title in body  # last service
    assert "passport-next" in body
    # Nothing about org B's asset, and no internal fields.
    assert "SN-B-1" not in body




def test_work_order_page_shows_staff_the_tracking_link_and_feedback(world):
    wo = _resolved(world)
    token = TrackingLink.objects.get(work_order=wo).token
    Client().post(f"/portal/t/{token}/confirm", {"rating": "5", "comment": "好", "signer_name": "李医生",
                                                "signature": "data:image/png;base64," + base64.b64encode(_png(9)).decode()})
    body = world.browser_client(world.dispatcher).get(f"/work-orders/{wo.code}/").content.decode()
    assert f"/portal/t/{token}/" in body and 'data-testid="portal-feedback"' in body
    body = world.browser_client(world.cust_a).get(f"/work-orders/{wo.code}/").content.decode()
    assert token not in body


def test_demo_line_prints_a_qr_and_a_tracking_link(world):
    from closeloop.portal.demo import seed

    services.do_report(actor=None, place=world.asset_a, what="报警", phone="13800000001")
    line = seed()
    assert "/portal/q/" in line and "/portal/t/" in line


def test_account_holder_downloads_public_attachments_only_of_own_org(world):
    c = world.browser_client(world.cust_a)
    c.post("/portal/new", {"what": "监护仪不显示", "where": "a:SN-A-1",
                           "photo": SimpleUploadedFile("p.png", _png(5), content_type="image/png")})
    wo = WorkOrder.objects.get()
    att = wo.attachments.get()
    body = c.get(f"/portal/w/{wo.code}/").content.decode()
    assert f"/work-orders/{wo.code}/attachments/{att.pk}" in body
    assert c.get(f"/work-orders/{wo.code}/attachments/{att.pk}").status_code == 200
    other = world.browser_client(world.cust_b)
    assert other.get(f"/work-orders/{wo.code}/attachments/{att.pk}").status_code == 404


def test_tracking_link_downloads_public_attachments_only(world):
    wo = services.do_report(actor=None, place=world.asset_a, what="报警", phone="13800000001")
    pub = do_add_attachment(actor=world.dispatcher, wo=wo, public=True,
                                        upload=SimpleUploadedFile("报告.pdf", b"%PDF-1.4 public"))
    internal = do_add_attachment(actor=world.dispatcher, wo=wo, public=False,
                                             upload=SimpleUploadedFile("内部.pdf", b"%PDF-1.4 internal"))
    other = services.do_report(actor=None, place=world.asset_a, what="别的", phone="13800000002")
    other_att = do_add_attachment(actor=world.dispatcher, wo=other, public=True,
                                              upload=SimpleUploadedFile("别的.pdf", b"%PDF-1.4 other"))
    token = TrackingLink.objects.get(work_order=wo).token
    c = Client()
    page = c.get(f"/portal/t/{token}/").content.decode()
    assert f"/portal/t/{token}/attachments/{pub.pk}" in page and "内部.pdf" not in page
    r = c.get(f"/portal/t/{token}/attachments/{pub.pk}")
    assert r.status_code == 200 and b"".join(r.streaming_content) == b"%PDF-1.4 public"
    assert r["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert c.get(f"/portal/t/{token}/attachments/{internal.pk}").status_code == 404
    assert c.get(f"/portal/t/{token}/attachments/{other_att.pk}").status_code == 404
    assert c.get(f"/portal/t/{'x' * 40}/attachments/{pub.pk}").status_code == 404


def test_qr_report_asks_for_the_types_required_fields_and_shows_every_error(world):
    """Issue 15: the anonymous report form was refused with a 422 and showed no error, because
    the type requires a custom field the form never asked for."""
    from closeloop.workorders.models import CustomField

    CustomField.objects.create(wo_type=world.repair, key="department", label="科室", kind="choice",
                               choices=["ICU", "急诊"], required=True)
    CustomField.objects.create(wo_type=world.repair, key="bed", label="床号", kind="text", required=True)
    CustomField.objects.create(wo_type=world.repair, key="device", label="设备", kind="asset", required=True)
    CustomField.objects.create(wo_type=world.repair, key="note2", label="备注", kind="text", required=False)
    c = Client()
    token = services.sign_qr(world.asset_a)
    page = c.get(f"/portal/q/{token}/report").content.decode()
    assert 'name="custom.department"' in page and 'name="custom.bed"' in page and "科室" in page
    assert 'name="custom.device"' not in page  # the scanned equipment fills it
    assert 'name="custom.note2"' not in page  # optional fields stay off the public form
    r = _report_via_qr(c, world, **{"custom.department": "ICU"})
    assert r.status_code == 422
    body = r.content.decode()
    assert 'data-testid="error-custom-bed"' in body and "ICU" in body  # the error where the input is; input kept
    assert WorkOrder.objects.count() == 0
    r = _report_via_qr(c, world, **{"custom.department": "ICU", "custom.bed": "12"})
    assert r.status_code == 302
    wo = WorkOrder.objects.get()
    assert wo.custom == {"department": "ICU", "bed": "12", "device": world.asset_a.serial_number}


def test_report_shows_an_error_of_a_field_the_form_has_no_input_for(world, monkeypatch):
    from closeloop.core.errors import FieldProblem, ValidationFailed

    def refuse(**kw):
        raise ValidationFailed(FieldProblem("title", "标题太长"))

    monkeypatch.setattr(services.wo_services, "do_create_work_order", refuse)
    r = _report_via_qr(Client(), world)
    assert r.status_code == 422 and 'data-testid="report-error"' in r.content.decode()
    assert "标题太长" in r.content.decode()
