"""Pages: the gates card on the work order page, the phone pages, PWA files, QR sheets, photos."""

import json

from django.test import Client

from closeloop.fieldwork import evidence
from closeloop.fieldwork.tests.helpers import gate_policy, jpeg
from closeloop.workorders.lifecycle import S
from closeloop.workorders.tests.factories import make_wo


def test_gates_card_on_work_order_page(world):
    gate_policy(world.repair)
    wo = make_wo(world, status=S.IN_PROGRESS)
    html = world.browser_client(world.dispatcher).get(f"/work-orders/{wo.code}/").content.decode()
    assert 'data-testid="gates"' in html and 'data-gate="technical"' in html and "照片: 铭牌" in html
    assert f"/fieldwork/work-orders/{wo.code}/report.pdf" in html
    # The customer sees the gates (their own work order), not the staff-only photos or report link.
    html = world.browser_client(world.cust_a).get(f"/work-orders/{wo.code}/").content.decode()
    if 'data-testid="gates"' in html:
        assert "report.pdf" not in html


def test_phone_pages(world):
    gate_policy(world.repair)
    wo = make_wo(world, status=S.ON_SITE)
    eng = world.browser_client(world.eng_x)
    r = eng.get("/m/")
    assert r.status_code == 200 and wo.code in r.content.decode()
    r = eng.get(f"/m/wo/{wo.code}/")
    assert r.status_code == 200 and 'data-testid="photos"' in r.content.decode()
    # The gates card and the photo kinds show labels, never the policy's keys ("照片: nameplate").
    html = r.content.decode()
    assert "照片: 铭牌" in html and ">铭牌 *</option>" in html and ">nameplate" not in html
    assert "nameplate" not in eng.get(f"/m/wo/{wo.code}/", HTTP_ACCEPT_LANGUAGE="en").content.decode().split(
        'data-testid="gates"')[1].split("</ul>")[0]
    assert world.browser_client(world.eng_y).get(f"/m/wo/{wo.code}/").status_code == 404
    assert world.browser_client(world.cust_a).get(f"/m/wo/{wo.code}/").status_code == 404
    assert world.browser_client(world.dispatcher).get("/m/").status_code == 302
    assert Client().get("/m/").status_code == 302
    m = json.loads(Client().get("/m/manifest.webmanifest").content)
    assert m["start_url"] == "/m/" and m["display"] == "standalone" and len(m["icons"]) == 2
    assert Client().get("/m/icon-192.png").content.startswith(b"\x89PNG")
    assert Client().get("/m/icon-7.png").status_code == 404
    sw = Client().get("/m/sw.js")
    assert sw.status_code == 200 and sw["Content-Type"].startswith("text/javascript")


def test_qr_sheet_and_photo_access(world):
    wo = make_wo(world, status=S.ON_SITE)
    disp = world.browser_client(world.dispatcher)
    r = disp.get("/fieldwork/qr/site/site-a/")
    assert r.status_code == 200 and evidence.qr_payload(world.site_a) in r.content.decode()
    assert disp.get("/fieldwork/qr/asset/SN-A-1/?format=png").content.startswith(b"\x89PNG")
    assert b"<svg" in disp.get("/fieldwork/qr/site/site-a/?format=svg").content
    assert world.browser_client(world.eng_x).get("/fieldwork/qr/site/site-a/").status_code == 404
    assert world.browser_client(world.cust_a).get("/fieldwork/qr/site/site-a/").status_code == 404
    from django.core.files.uploadedfile import SimpleUploadedFile

    from closeloop.fieldwork.evidence import do_add_photo

    p = do_add_photo(actor=world.eng_x, wo=wo, upload=SimpleUploadedFile("a.jpg", jpeg()), kind="after")
    r = world.browser_client(world.eng_x).get(f"/fieldwork/photos/{p.pk}")
    assert r.status_code == 200 and r["Content-Type"] == "image/jpeg"
    for who in (world.eng_y, world.cust_a, world.cust_b):
        assert world.browser_client(who).get(f"/fieldwork/photos/{p.pk}").status_code == 404
    assert world.browser_client(world.cust_b).get(f"/fieldwork/work-orders/{wo.code}/report.pdf").status_code == 404
    r = world.browser_client(world.cust_a).get(f"/fieldwork/work-orders/{wo.code}/report.pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")


def test_gate_policy_console(world):
    mgr = world.browser_client(world.manager)
    r = mgr.get("/fieldwork/gates/")
    assert r.status_code == 200 and 'data-type="repair"' in r.content.decode()
    r = mgr.post("/fieldwork/gates/", {"type": "production", "required_photos": "first_article, after",
                                        "checklist": "开模\n注塑\n", "form_fields": "mold_temp|模温|number|°C|0|400\n"
                                        "hold|保压时间|number|s", "require_signature": "on",
                                        "checkin_radius_m": "300"})
    assert r.status_code == 302
    p = world.production.closure_policy
    assert p.required_photos == ["first_article", "after"] and p.checklist == ["开模", "注塑"]
    assert p.form_fields[0] == {"key": "mold_temp", "label": "模温", "kind": "number", "unit": "°C", "required": True,
                                "min": 0.0, "max": 400.0}
    assert p.require_signature and not p.require_invoice and not p.auto_close and p.checkin_radius_m == 300
    r = mgr.post("/fieldwork/gates/", {"type": "production", "form_fields": "x|X|colour", "checkin_radius_m": "2"})
    assert r.status_code == 422 and "form_fields[0].kind" in r.content.decode()
    for who in (world.dispatcher, world.eng_x, world.cust_a):
        assert world.browser_client(who).get("/fieldwork/gates/").status_code == 403


def test_send_signature_link_from_console(world):
    from closeloop.outbox.models import OutboxMessage

    gate_policy(world.repair)
    wo = make_wo(world, status=S.RESOLVED, contact=world.contact_a, resolution="ok")
    disp = world.browser_client(world.dispatcher)
    assert 'data-testid="send-signature-link"' in disp.get(f"/work-orders/{wo.code}/").content.decode()
    r = disp.post(f"/fieldwork/work-orders/{wo.code}/signature-link")
    assert r.status_code == 302 and OutboxMessage.objects.filter(kind="notify").count() == 1
    assert world.browser_client(world.eng_y).post(
        f"/fieldwork/work-orders/{wo.code}/signature-link").status_code == 404


def test_nav_entries(world):
    html = world.browser_client(world.eng_x).get("/work-orders/").content.decode()
    assert 'href="/m/"' in html
    html = world.browser_client(world.manager).get("/work-orders/").content.decode()
    assert 'href="/fieldwork/gates/"' in html and 'href="/m/"' not in html


def test_flagged_evidence_reviewed_from_the_card(world):
    from closeloop.fieldwork.models import CheckIn
    from closeloop.workorders.models import TimelineEvent

    wo = make_wo(world, status=S.EN_ROUTE)
    evidence.do_check_in(actor=world.eng_x, wo=wo, qr=evidence.qr_payload(world.site_a), latitude=31.5,
                         longitude=121.4)
    disp = world.browser_client(world.dispatcher)
    html = disp.get(f"/work-orders/{wo.code}/").content.decode()
    assert 'data-testid="evidence-flags"' in html and 'data-testid="review-form"' in html
    # An engineer sees the flags, cannot clear them.
    assert world.api(world.eng_x).post(f"/api/v1/work-orders/{wo.code}/evidence-review").status_code == 403
    assert disp.post(f"/fieldwork/work-orders/{wo.code}/review", {"note": "路上堵车, 电话确认到场"}).status_code == 302
    ci = CheckIn.objects.get()
    assert ci.reviewed_by == world.dispatcher and ci.flags  # the flag stays on record
    assert TimelineEvent.objects.filter(work_order=wo, kind="evidence", data__note="路上堵车, 电话确认到场").exists()
    assert 'data-testid="evidence-flags"' not in disp.get(f"/work-orders/{wo.code}/").content.decode()
    assert world.api(world.dispatcher).post(f"/api/v1/work-orders/{wo.code}/evidence-review").json() == {
        "reviewed": 0}


def test_phone_links_call_and_route(world):
    from closeloop.customers.models import Site
    from closeloop.fieldwork.views import call_link, route_link

    assert route_link(None) == ""
    assert route_link(world.site_a).startswith("geo:31.200000,121.400000?q=31.200000,121.400000(")
    no_coords = Site(customer=world.org_a, code="x", name="X", address="上海市 徐汇区 1 号")
    assert route_link(no_coords) == "geo:0,0?q=%E4%B8%8A%E6%B5%B7%E5%B8%82%20%E5%BE%90%E6%B1%87%E5%8C%BA%201%20%E5%8F%B7"
    wo = make_wo(world, contact=world.contact_a)
    assert call_link(wo) == {"name": "王护士", "phone": "13800000001", "href": "tel:13800000001"}


def test_gate_policies_page_lists_photo_kinds_with_their_labels(world):
    html = world.browser_client(world.manager).get("/fieldwork/gates/").content.decode()
    hint = html.split('data-testid="photo-kind-keys"')[1].split("</div>")[0]
    assert "<code>nameplate</code> 铭牌" in hint and "<code>after</code> 施工后" in hint
