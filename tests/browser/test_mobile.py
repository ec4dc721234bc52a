"""The engineer's phone journey in Chromium at phone size (issue 6): accept, depart, arrive
with the site's code (typed fallback), checklist, closure form, a watermarked photo, a part,
complete, the customer signs on the phone; the work order waits for finance's invoice number
(posted through the API), then closes; the PDF report downloads. Plus: offline queueing
and a conflict that is shown, not dropped."""

import io

import pytest
from playwright.sync_api import Page, expect

from closeloop.fieldwork import evidence
from closeloop.fieldwork.models import Photo, Signature
from closeloop.fieldwork.tests.helpers import gate_policy, jpeg
from closeloop.workorders import services
from closeloop.workorders.lifecycle import S
from closeloop.workorders.models import WorkOrder

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}


@pytest.fixture(autouse=True)
def _patient_expect():
    """Phone pages reload after each queued action; a loaded CI machine needs more than 5 s."""
    expect.set_options(timeout=15_000)
    yield
    expect.set_options(timeout=5_000)


def phone(browse, username) -> Page:
    page = browse(**PHONE)
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation({"latitude": 31.2003, "longitude": 121.4002, "accuracy": 15})
    page.goto("/login/?next=/m/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(f"pw-{username}-123")
    page.get_by_test_id("login-submit").click()
    page.wait_for_url("**/m/")
    return page


def ready(page: Page):
    """Wait until mobile.js has wired the page (after each reload), so a tap is not a native submit."""
    expect(page.locator("body[data-ready='1']")).to_have_count(1)


def tap(page: Page, testid: str):
    ready(page)
    page.get_by_test_id(testid).click()


def act(page: Page, testid: str | None = None, locator=None):
    """Tap, then wait for the page to come back with the work order's next version."""
    ready(page)
    before = page.get_by_test_id("wo").get_attribute("data-version")
    (locator or page.get_by_test_id(testid)).click()
    expect(page.get_by_test_id("wo")).not_to_have_attribute("data-version", before)
    ready(page)


def status_is(page: Page, wo, status: str):
    expect(page.get_by_test_id("wo")).to_have_attribute("data-status", status)
    assert WorkOrder.objects.get(pk=wo.pk).status == status


def make(world):
    gate_policy(world.repair, auto_close=True)
    wo = services.do_create_work_order(actor=world.dispatcher, data={
        "type": "repair", "title": "注塑机模温异常", "site": "site-a", "asset": "SN-A-1", "contact": world.contact_a.pk,
        "priority": "urgent", "assignee": "eng_x"})
    return wo


def test_phone_journey(world, browse, tmp_path):
    wo = make(world)
    page = phone(browse, "eng_x")
    expect(page.get_by_test_id("today-item")).to_have_count(1)
    tap(page, "today-item")
    tap(page, "accept")
    status_is(page, wo, S.ACCEPTED)
    tap(page, "depart")
    status_is(page, wo, S.EN_ROUTE)
    page.get_by_test_id("qr-input").fill(evidence.qr_payload(world.site_a))
    tap(page, "checkin-submit")
    status_is(page, wo, S.ON_SITE)
    ci = WorkOrder.objects.get(pk=wo.pk).checkins.get()
    assert ci.latitude == pytest.approx(31.2003) and ci.flags == [] and ci.device_time is not None
    tap(page, "start")
    status_is(page, wo, S.IN_PROGRESS)
    for i in (0, 1):
        act(page, locator=page.locator(f"[data-testid=step][data-index='{i}'] [data-testid=step-pass]"))
        expect(page.locator(f"[data-testid=step][data-index='{i}'] [data-testid=step-result]")).to_be_visible()
    page.get_by_test_id("form-temperature").fill("185")
    page.get_by_test_id("form-pressure").fill("8.5")
    act(page, "form-submit")
    expect(page.locator("[data-testid=gates] [data-gate=technical]")).to_contain_text("铭牌")  # the label, not the key
    page.get_by_test_id("photo-kind").select_option("nameplate")
    page.get_by_test_id("photo-file").set_input_files(
        files=[{"name": "nameplate.jpg", "mimeType": "image/jpeg", "buffer": jpeg((1600, 1200))}])
    act(page, "photo-submit")
    expect(page.get_by_test_id("photo")).to_have_count(1)
    page.get_by_test_id("part-name").fill("加热圈")
    act(page, "part-submit")
    expect(page.get_by_test_id("part")).to_have_count(1)
    expect(page.locator("[data-testid=gates] [data-gate=technical]")).to_have_attribute("data-passed", "true")
    ready(page)
    page.get_by_test_id("resolution").fill("更换加热圈, 模温恢复正常")
    tap(page, "complete-submit")
    status_is(page, wo, S.RESOLVED)
    # The customer signs on the phone.
    ready(page)
    page.get_by_test_id("signer-name").fill("王护士")
    pad = page.get_by_test_id("sign-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 40)
    page.mouse.down()
    for k in range(1, 12):
        page.mouse.move(box["x"] + 20 + k * 25, box["y"] + 40 + (k % 3) * 20)
    page.mouse.up()
    tap(page, "sign-submit")
    status_is(page, wo, S.CONFIRMED)
    sig = Signature.objects.get(work_order=wo)
    assert sig.signer_name == "王护士" and sig.via == "device" and bytes(sig.image_png).startswith(b"\x89PNG")
    # The work order waits for finance: the financial gate is still open.
    expect(page.locator("[data-testid=gates] [data-gate=financial]")).to_have_attribute("data-passed", "false")
    r = world.api(world.finance).post(f"/api/v1/work-orders/{wo.code}/actions/invoice",
                                      {"invoice_number": "INV-2026-0042"})
    assert r.status_code == 200 and r.json()["status"] == S.CLOSED
    # The watermarked photo: re-encoded JPEG, no EXIF.
    from PIL import Image

    p = Photo.objects.get(work_order=wo)
    with p.file.open("rb") as fh:
        im = Image.open(io.BytesIO(fh.read()))
    assert im.format == "JPEG" and not im.getexif() and (p.width, p.height) == (1600, 1200)
    # The report downloads (from the phone page, which still lists it for the engineer).
    with page.expect_download() as dl:
        page.evaluate(f"() => {{ const a = document.createElement('a'); a.href = "
                      f"'/fieldwork/work-orders/{wo.code}/report.pdf'; a.download = ''; document.body.append(a); "
                      f"a.click(); }}")
    path = tmp_path / "report.pdf"
    dl.value.save_as(path)
    assert path.read_bytes().startswith(b"%PDF")
    assert browse.watch.csp_violations() == [] and browse.watch.page_errors == []


def test_offline_queue_then_conflict_shown(world, browse):
    wo = make(world)
    page = phone(browse, "eng_x")
    page.goto(f"/m/wo/{wo.code}/")
    page.context.set_offline(True)
    tap(page, "accept")
    expect(page.get_by_test_id("queue-badge")).to_have_text("1")
    expect(page.get_by_test_id("net-status")).to_be_visible()
    assert WorkOrder.objects.get(pk=wo.pk).status == S.ASSIGNED
    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    status_is(page, wo, S.ACCEPTED)
    # Meanwhile a dispatcher cancels it; the engineer's queued "depart" is refused and shown.
    page.context.set_offline(True)
    tap(page, "depart")
    expect(page.get_by_test_id("queue-badge")).to_have_text("1")
    services.do_transition(actor=world.dispatcher, wo=WorkOrder.objects.get(pk=wo.pk), action="cancel",
                           data={"reason": "客户取消"})
    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.get_by_test_id("action-error")).to_contain_text("409")
    expect(page.get_by_test_id("queue-badge")).to_be_hidden()
    page.reload()
    expect(page.get_by_test_id("action-error")).to_be_visible()  # kept until dismissed
    page.get_by_test_id("action-error").get_by_role("button").click()
    expect(page.get_by_test_id("action-error")).to_have_count(0)


def _y4m_of(text: str, path) -> None:
    """A few frames of a QR code as a Y4M video, for Chromium's fake camera."""
    import segno
    from PIL import Image

    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="png", scale=6, border=4)
    qr = Image.open(io.BytesIO(buf.getvalue())).convert("L")
    w, h = 640, 480
    frame = Image.new("L", (w, h), 255)
    side = min(h - 40, qr.width)
    frame.paste(qr.resize((side, side), Image.NEAREST), ((w - side) // 2, (h - side) // 2))
    y = frame.tobytes()
    uv = bytes([128]) * ((w // 2) * (h // 2))
    with open(path, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(10):
            fh.write(b"FRAME\n" + y + uv + uv)


def test_arrive_by_scanning_with_the_phone_camera(world, transactional_db, live_server, monkeypatch, tmp_path):
    """Chromium's fake camera shows the site's QR code; the page decodes it and checks in."""
    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, _require_browser

    _require_browser()
    from django.db import connection, connections
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    wo = make(world)
    for action in ("accept", "depart"):
        services.do_transition(actor=world.eng_x, wo=WorkOrder.objects.get(pk=wo.pk), action=action)
    video = tmp_path / "qr.y4m"
    _y4m_of(evidence.qr_payload(world.site_a), video)
    args = CHROMIUM_ARGS + ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                            f"--use-file-for-fake-video-capture={video}"]
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            ctx = b.new_context(base_url=live_server.url, viewport=PHONE, locale="zh-CN",
                                permissions=["camera", "geolocation"],
                                geolocation={"latitude": 31.2, "longitude": 121.4})
            page = ctx.new_page()
            page.goto("/login/?next=/m/")
            page.locator("#id_username").fill("eng_x")
            page.locator("#id_password").fill("pw-eng_x-123")
            page.get_by_test_id("login-submit").click()
            page.wait_for_url("**/m/")
            page.goto(f"/m/wo/{wo.code}/")
            tap(page, "scan")
            status_is(page, wo, S.ON_SITE)
            ci = WorkOrder.objects.get(pk=wo.pk).checkins.get()
            assert ci.scanned == "site:site-a" and ci.flags == []
        finally:
            b.close()
            connections.close_all()


def test_customer_signs_through_the_link_on_a_phone(world, browse):
    from closeloop.fieldwork import services as fw_services
    from closeloop.fieldwork.models import ClosurePolicy

    wo = make(world)
    # The technical gate is the phone journey's subject; here the customer signs a work order
    # whose technical gate has nothing left open (a signature is refused until it passes).
    ClosurePolicy.objects.filter(wo_type=world.repair).update(required_photos=[], form_fields=[], checklist=[])
    WorkOrder.objects.filter(pk=wo.pk).update(status=S.RESOLVED, resolution="更换加热圈")
    wo = WorkOrder.objects.get(pk=wo.pk)
    _link, token = fw_services.do_send_signature_link(actor=world.dispatcher, wo=wo, base_url="")
    page = browse(**PHONE)
    page.goto(f"/sign/{token}/")
    ready(page)
    expect(page.get_by_test_id("signer-name")).to_have_value("王护士")
    pad = page.get_by_test_id("sign-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    page.mouse.move(box["x"] + 30, box["y"] + 30)
    page.mouse.down()
    page.mouse.move(box["x"] + 200, box["y"] + 80)
    page.mouse.up()
    tap(page, "sign-submit")
    expect(page.get_by_test_id("sign-done")).to_be_visible()
    wo.refresh_from_db()
    assert wo.status == S.CONFIRMED and wo.signatures.get().via == "link"
    page.goto(f"/sign/{token}/")
    expect(page.get_by_test_id("sign-invalid")).to_be_visible()  # one time
    assert browse.watch.csp_violations() == []


def test_installable_and_opens_offline(world, browse):
    """The manifest is linked, the service worker takes control, and a page seen before opens offline."""
    wo = make(world)
    page = phone(browse, "eng_x")
    ready(page)
    manifest = page.evaluate("document.querySelector('link[rel=manifest]').href")
    assert manifest.endswith("/m/manifest.webmanifest")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()  # now controlled by the service worker, which caches what it serves
    ready(page)
    assert page.evaluate("!!navigator.serviceWorker.controller")
    page.goto(f"/m/wo/{wo.code}/")
    ready(page)
    page.context.set_offline(True)
    page.goto("/m/")
    expect(page.get_by_test_id("today-item")).to_have_count(1)
    page.context.set_offline(False)
