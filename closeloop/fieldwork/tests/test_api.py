"""Field work over the API: the whole loop, evidence, bad input, permissions."""

import base64
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from closeloop.fieldwork import evidence
from closeloop.fieldwork.models import CheckIn, Photo
from closeloop.outbox.models import OutboxMessage
from closeloop.workorders.lifecycle import S
from closeloop.workorders.models import TimelineEvent, WorkOrder
from closeloop.workorders.tests.factories import make_wo

from .helpers import gate_policy, jpeg, png


def _b64(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def _upload(api, code, data, name="p.jpg", kind="nameplate", **extra):
    return api.upload(f"/api/v1/work-orders/{code}/photos",
                      {"file": SimpleUploadedFile(name, data, content_type="image/jpeg")}, {"kind": kind, **extra})


def test_phone_journey_over_api(world):
    gate_policy(world.repair, auto_close=True)
    wo = make_wo(world, status=S.ASSIGNED, asset=world.asset_a)
    eng, fin = world.api(world.eng_x), world.api(world.finance)
    base = f"/api/v1/work-orders/{wo.code}"
    assert eng.get("/api/v1/me/field-work").json()["items"][0]["code"] == wo.code
    assert eng.post(f"{base}/actions/accept").status_code == 200
    assert eng.post(f"{base}/actions/depart").status_code == 200
    r = eng.post(f"{base}/checkins", {"qr": evidence.qr_payload(world.site_a), "latitude": 31.2001,
                                      "longitude": 121.4001, "accuracy": 10})
    assert r.status_code == 201, r.content
    assert r.json()["status"] == S.ON_SITE and r.json()["flags"] == []
    assert eng.post(f"{base}/actions/start").status_code == 200
    for i in (0, 1):
        assert eng.post(f"{base}/steps", {"index": i, "result": "pass"}).status_code == 201
    assert eng.put(f"{base}/closure-form", {"data": {"temperature": 180, "pressure": 8.5}}).status_code == 200
    r = _upload(eng, wo.code, jpeg())
    assert r.status_code == 201, r.content
    assert eng.post(f"{base}/parts", {"name": "压缩机", "part_number": "P-1", "quantity": 1}).status_code == 201
    gates = eng.get(f"{base}/gates").json()
    assert {g["gate"]: g["passed"] for g in gates["gates"]} == {"technical": True, "delivery": False,
                                                                "financial": False}
    assert eng.post(f"{base}/actions/complete", {"resolution": "更换压缩机"}).status_code == 200
    version = eng.get(base).json()["version"]
    r = eng.post(f"{base}/signatures", {"signer_name": "王护士", "image_png": _b64(png(11)), "version": version})
    assert r.status_code == 201, r.content
    assert WorkOrder.objects.get(pk=wo.pk).status == S.CONFIRMED
    # Finance posts the invoice number through the API; every gate passed, so it closes.
    r = fin.post(f"{base}/actions/invoice", {"invoice_number": "INV-2026-001"})
    assert r.status_code == 200 and r.json()["status"] == S.CLOSED
    gates = eng.get(f"{base}/gates").json()
    assert gates["all_passed"] and gates["gates"][2]["by"] == "finance"
    pdf = eng.get(f"{base}/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and b"FontFile" in pdf.content


def test_close_with_gate_missing_is_409_naming_gates(world):
    gate_policy(world.repair)
    wo = make_wo(world, status=S.INVOICED, invoice_number="INV-1")
    r = world.api(world.dispatcher).post(f"/api/v1/work-orders/{wo.code}/actions/close")
    assert r.status_code == 409
    body = r.json()
    assert body["type"].endswith("/gates_not_passed") and set(body["gates"]) == {"technical", "delivery"}
    assert {e["field"] for e in body["errors"]} == {"gates.technical", "gates.delivery"}


def test_forged_and_foreign_qr_refused(world):
    wo = make_wo(world, status=S.EN_ROUTE)
    eng = world.api(world.eng_x)
    good = evidence.qr_payload(world.site_a)
    forged = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
    for qr, code in ((forged, "forged"), ("CL:S:site-a:", "forged"), ("hello", "forged"),
                     (evidence.qr_payload(world.site_b), "foreign"), (evidence.qr_payload(world.asset_b), "foreign")):
        r = eng.post(f"/api/v1/work-orders/{wo.code}/checkins", {"qr": qr})
        assert r.status_code == 422, qr
        assert r.json()["errors"][0] == {"field": "qr", "message": r.json()["errors"][0]["message"], "code": code}
    assert WorkOrder.objects.get(pk=wo.pk).status == S.EN_ROUTE and not CheckIn.objects.exists()
    # The asset's own code is accepted (lower-case typing too).
    r = eng.post(f"/api/v1/work-orders/{wo.code}/checkins", {"qr": evidence.qr_payload(world.asset_a).lower()})
    assert r.status_code == 422  # signatures are case-sensitive base32 upper; lower-case kind ok, sig not
    wo.asset = world.asset_a
    wo.save()
    r = eng.post(f"/api/v1/work-orders/{wo.code}/checkins", {"qr": evidence.qr_payload(world.asset_a)})
    assert r.status_code == 201


def test_suspicious_checkin_flagged_not_refused(world, time_machine):
    time_machine.move_to("2026-11-22 10:00:00+08:00", tick=False)
    wo = make_wo(world, status=S.EN_ROUTE)
    r = world.api(world.eng_x).post(f"/api/v1/work-orders/{wo.code}/checkins", {
        "qr": evidence.qr_payload(world.site_a), "latitude": 31.3, "longitude": 121.4,
        "device_time": "2026-11-22T09:30:00+08:00"})
    assert r.status_code == 201
    flags = r.json()["flags"]
    assert len(flags) == 2 and "11119" in flags[0] and "1800" in flags[1]
    ev = TimelineEvent.objects.filter(work_order=wo, kind="checkin").get()
    assert ev.data["review"] is True and ev.data["distance_m"] > 10000
    assert WorkOrder.objects.get(pk=wo.pk).status == S.ON_SITE


def test_photo_reencoded_watermarked_exif_kept_as_claim(world):
    wo = make_wo(world, status=S.ON_SITE)
    exif = Image.Exif()
    exif[0x010F] = "Acme"
    exif[0x0110] = "Phone 9"
    exif[0x0132] = "2020:01:01 08:00:00"
    r = _upload(world.api(world.eng_x), wo.code, jpeg(exif=exif, color=(0, 200, 0)), latitude=31.2, longitude=121.4)
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["claimed"]["device"] == "Acme Phone 9" and body["claimed"]["taken_at"] == "2020:01:01 08:00:00"
    assert body["flags"]  # taken years before the upload: flagged for review
    p = Photo.objects.get()
    with p.file.open("rb") as fh:
        im = Image.open(io.BytesIO(fh.read()))
        assert im.format == "JPEG" and not im.getexif()
        bottom = im.convert("RGB").getpixel((im.width // 2, im.height - 3))
        top = im.convert("RGB").getpixel((im.width // 2, 3))
        assert top[1] > 150 and bottom[1] < 150  # the watermark band darkens the bottom


@pytest.mark.parametrize("name,data,code", [
    ("huge.png", "huge", "too_large"),
    ("x.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "type"),
    ("x.jpg", b'<?xml version="1.0"?><svg><script>alert(1)</script></svg>', "type"),
    ("doc.pdf", b"%PDF-1.4 not a photo", "type"),
    ("trunc.jpg", "truncated", "invalid"),
    ("empty.jpg", b"", "required"),
])
def test_bad_photos_refused(world, name, data, code):
    wo = make_wo(world, status=S.ON_SITE)
    if data == "huge":
        # 20000 x 20000 PNG of one colour compresses to almost nothing: a decompression bomb.
        im = Image.new("1", (20000, 20000))
        out = io.BytesIO()
        im.save(out, "PNG")
        data = out.getvalue()
        assert len(data) < 200_000
    elif data == "truncated":
        data = jpeg()[:2000]
    r = _upload(world.api(world.eng_x), wo.code, data, name=name)
    assert r.status_code == 422, r.content
    assert r.json()["errors"][0]["field"] == "file" and r.json()["errors"][0]["code"] == code
    assert not Photo.objects.exists()


def test_signature_replay_and_stale_version_over_api(world):
    a = make_wo(world, status=S.RESOLVED, resolution="ok")
    b = make_wo(world, status=S.RESOLVED, resolution="ok")
    eng = world.api(world.eng_x)
    image = _b64(png(21))
    assert eng.post(f"/api/v1/work-orders/{a.code}/signatures",
                    {"signer_name": "王", "image_png": image, "version": a.version}).status_code == 201
    r = eng.post(f"/api/v1/work-orders/{b.code}/signatures", {"signer_name": "王", "image_png": image,
                                                              "version": b.version})
    assert r.status_code == 409 and r.json()["field"] == "image_png"
    r = eng.post(f"/api/v1/work-orders/{b.code}/signatures", {"signer_name": "王", "image_png": _b64(png(22)),
                                                              "version": b.version - 1})
    assert r.status_code == 409 and r.json()["field"] == "version"
    r = eng.post(f"/api/v1/work-orders/{b.code}/signatures", {"signer_name": "王", "image_png": image,
                                                              "version": b.version, "extra": 1})
    assert r.status_code == 422


def test_signature_link_flow(world):
    from django.test import Client

    wo = make_wo(world, status=S.RESOLVED, resolution="ok", contact=world.contact_a)
    r = world.api(world.eng_x).post(f"/api/v1/work-orders/{wo.code}/signature-links")
    assert r.status_code == 201
    row = OutboxMessage.objects.get(kind="notify")
    assert row.payload["recipients"] == [{"contact": world.contact_a.pk}] and row.payload["public"] is True
    url = row.payload["context"]["url"]
    path = url[url.index("/sign/"):]
    c = Client(enforce_csrf_checks=False)
    assert c.get(path).status_code == 200
    assert c.get(path[:-5] + "xxxx/").status_code == 404
    r = c.post(path, {"signer_name": "王护士", "image_png": _b64(png(31)), "version": wo.version},
               content_type="application/json")
    assert r.status_code == 201, r.content
    wo.refresh_from_db()
    assert wo.status == S.CONFIRMED and wo.signatures.get().via == "link"
    assert c.get(path).status_code == 404  # one time


ENDPOINTS = [
    ("get", "gates", None),
    ("post", "steps", {"index": 0, "result": "pass"}),
    ("post", "parts", {"name": "x", "quantity": 1}),
    ("put", "closure-form", {"data": {"temperature": 1, "pressure": 1}}),
    ("post", "checkins", {"qr": "SITE"}),
    ("get", "report.pdf", None),
    ("get", "photos", None),
]
# role -> expected status on own (visible) work order for each endpoint, then on another team's
MATRIX = {
    "eng_x": ([200, 201, 201, 200, 201, 200, 200], 404),
    "eng_y": ([404] * 7, None),
    # Arriving is the engineer's own step (the lifecycle's "arrive" is assignee/admin only).
    "dispatcher": ([200, 201, 201, 200, 403, 200, 200], None),
    "finance": ([200, 403, 403, 403, 403, 200, 200], None),
    "cust_a": ([200, 403, 403, 403, 403, 200, 200], 404),
    "cust_b": ([404] * 7, None),
}


@pytest.mark.parametrize("who", list(MATRIX))
def test_permission_matrix(world, who):
    gate_policy(world.repair)
    user = getattr(world, who)
    api = world.api(user)
    own = make_wo(world, status=S.EN_ROUTE)
    other = make_wo(world, status=S.EN_ROUTE, org="b")
    expected, other_status = MATRIX[who]
    for (method, path, body), want in zip(ENDPOINTS, expected, strict=True):
        if body and body.get("qr") == "SITE":
            body = {"qr": evidence.qr_payload(world.site_a)}
        fn = getattr(api, method)
        r = fn(f"/api/v1/work-orders/{own.code}/{path}", body) if body is not None else fn(
            f"/api/v1/work-orders/{own.code}/{path}")
        assert r.status_code == want, (who, path, r.status_code, r.content[:200])
        if other_status is not None:
            r = fn(f"/api/v1/work-orders/{other.code}/{path}", body) if body is not None else fn(
                f"/api/v1/work-orders/{other.code}/{path}")
            assert r.status_code == other_status, (who, "other", path, r.status_code)
    if who == "cust_a":
        assert api.get(f"/api/v1/work-orders/{own.code}/photos").json() == []
    # QR codes: dispatch staff only
    r = api.get(f"/api/v1/sites/{world.site_a.code}/qr")
    assert r.status_code == (200 if who == "dispatcher" else 404)
    r = api.get(f"/api/v1/assets/{world.asset_a.serial_number}/qr")
    assert r.status_code == (200 if who == "dispatcher" else 404)
    if who == "dispatcher":
        assert r["Content-Type"].startswith("image/svg")


def test_policy_api_validation_and_permissions(world):
    r = world.api(world.manager).put("/api/v1/work-order-types/repair/closure-gates", {
        "required_photos": ["nameplate"], "form_fields": [{"key": "t", "kind": "colour"}], "checkin_radius_m": 5})
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"form_fields[0].kind", "checkin_radius_m"}
    r = world.api(world.manager).put("/api/v1/work-order-types/repair/closure-gates", {
        "required_photos": ["nameplate"], "checklist": ["断电"], "require_invoice": False})
    assert r.status_code == 200 and r.json()["require_invoice"] is False
    assert world.api(world.dispatcher).put("/api/v1/work-order-types/repair/closure-gates",
                                           {"checklist": []}).status_code == 403
    assert world.api(world.cust_a).get("/api/v1/work-order-types/repair/closure-gates").status_code == 404


@pytest.mark.parametrize("who,want", [("eng_x", 201), ("eng_x2", 403), ("eng_y", 404), ("dispatcher", 201),
                                      ("finance", 403), ("cust_a", 201), ("cust_b", 404)])
def test_signature_endpoint_permissions(world, who, want):
    wo = make_wo(world, status=S.RESOLVED, resolution="ok", contact=world.contact_a)
    r = world.api(getattr(world, who)).post(f"/api/v1/work-orders/{wo.code}/signatures", {
        "signer_name": "王", "image_png": _b64(png(50)), "version": wo.version})
    assert r.status_code == want, r.content
    if want == 201:
        assert r.json()["via"] == ("portal" if who == "cust_a" else "device")
    r = world.api(getattr(world, who)).post(f"/api/v1/work-orders/{wo.code}/signature-links")
    assert r.status_code == {"eng_x": 201, "dispatcher": 201, "eng_y": 404, "cust_b": 404}.get(who, 403), r.content


def test_retries_are_safe(world):
    """JSON actions replay under their Idempotency-Key; a photo upload retried returns the same photo."""
    import os

    wo = make_wo(world, status=S.EN_ROUTE)
    eng = world.api(world.eng_x)
    body = {"qr": evidence.qr_payload(world.site_a), "latitude": 31.2, "longitude": 121.4}
    first = eng.post(f"/api/v1/work-orders/{wo.code}/checkins", body, headers={"Idempotency-Key": "ci-1"})
    again = eng.post(f"/api/v1/work-orders/{wo.code}/checkins", body, headers={"Idempotency-Key": "ci-1"})
    assert first.status_code == again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert CheckIn.objects.count() == 1
    # A real phone photo (several MB of noise-like JPEG).
    im = Image.frombytes("RGB", (2000, 1500), os.urandom(2000 * 1500 * 3))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=95)
    assert len(out.getvalue()) > 2 * 1024 * 1024
    a = _upload(eng, wo.code, out.getvalue(), kind="after")
    b = _upload(eng, wo.code, out.getvalue(), kind="after")
    assert a.status_code == b.status_code == 201 and a.json()["id"] == b.json()["id"]
    assert Photo.objects.count() == 1
