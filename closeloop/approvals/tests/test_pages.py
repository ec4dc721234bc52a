"""Console pages: inbox (phone-size), request, decide, bypass, flows, designer, reports, the work order card."""

from closeloop.outbox.models import OutboxMessage
from closeloop.workorders.lifecycle import S
from closeloop.workorders.tests.factories import make_wo

from .. import services
from ..models import RequestStatus


def test_inbox_decide_from_phone_page(world, org, purchase_flow):
    wo = make_wo(world, status=S.IN_PROGRESS)
    c = world.browser_client(world.eng_x)
    page = c.get(f"/work-orders/{wo.code}/")
    assert page.status_code == 200 and b'data-testid="approvals-card"' in page.content
    r = c.post(f"/work-orders/{wo.code}/approvals", {"action": "purchase_part", "amount": "120", "part": "fuse",
                                                      "safety": "high", "impact": ""})
    assert r.status_code == 302
    req = wo.approvals.get()
    assert req.data == {"amount": 120.0, "part": "fuse", "safety": "high"}
    m = world.browser_client(world.manager)
    inbox = m.get("/approvals/")
    assert inbox.status_code == 200 and f'data-request="{req.pk}"'.encode() in inbox.content
    assert b'name="viewport"' in inbox.content
    # The nav badge counts it.
    assert b'data-testid="nav-approvals-badge">1<' in inbox.content
    r = m.post(f"/approvals/requests/{req.pk}/decide", {"decision": "approve", "comment": "ok",
                                                         "next": "/approvals/"})
    assert r.status_code == 302 and r["Location"] == "/approvals/"
    req.refresh_from_db()
    assert req.status == RequestStatus.APPROVED
    assert c.get(f"/approvals/requests/{req.pk}/").status_code == 200
    assert world.browser_client(world.cust_a).get(f"/approvals/requests/{req.pk}/").status_code == 404
    assert world.browser_client(world.eng_y).get(f"/approvals/requests/{req.pk}/").status_code == 404


def test_bypass_and_justify_pages(world, org, purchase_flow):
    wo = make_wo(world, status=S.IN_PROGRESS)
    req = services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part", data={"amount": 1200})
    m = world.browser_client(world.admin)
    page = m.get(f"/approvals/requests/{req.pk}/")
    assert b'data-testid="bypass"' in page.content
    m.post(f"/approvals/requests/{req.pk}/bypass", {"step": "lead2#1", "reason": "ICU down"})
    j = req.steps.get(key="lead2#1").justification
    inbox = m.get("/approvals/")
    assert b'data-testid="justifications"' in inbox.content
    m.post(f"/approvals/justifications/{j.pk}", {"text": "ventilator"})
    j.refresh_from_db()
    assert j.status == "filed"
    # An engineer sees no bypass form and cannot post one.
    e = world.browser_client(world.eng_x)
    assert b'data-testid="bypass"' not in e.get(f"/approvals/requests/{req.pk}/").content
    e.post(f"/approvals/requests/{req.pk}/bypass", {"step": "fin", "reason": "x"})
    assert req.steps.get(key="fin").status == "pending"


def test_designer_pages_for_managers_only(world, org, purchase_flow):
    m = world.browser_client(world.manager)
    for url in ("/approvals/flows/", f"/approvals/flows/{purchase_flow.pk}/designer", "/approvals/reports/"):
        assert m.get(url).status_code == 200, url
        assert world.browser_client(world.dispatcher).get(url).status_code == 404
        assert world.browser_client(world.cust_a).get(url).status_code == 404
    r = m.post("/approvals/flows/", {"name": "Close", "action": "close", "type": "repair"})
    assert r.status_code == 302 and "/designer" in r["Location"]
    assert OutboxMessage.objects.count() == 0


def test_handoff_requirements_page(world):
    m = world.browser_client(world.manager)
    assert m.get("/approvals/handoffs/").status_code == 200
    assert world.browser_client(world.dispatcher).get("/approvals/handoffs/").status_code == 404
    r = m.post("/approvals/handoffs/", {"action": "complete", "type": "repair", "to_team": "team-y",
                                        "fields": ["customer", "asset.serial_number"], "custom": "repair_history"})
    assert r.status_code == 302
    from ..models import HandoffRequirement

    req = HandoffRequirement.objects.get()
    assert req.fields == ["customer", "asset.serial_number", "custom.repair_history"] and req.active
    m.post("/approvals/handoffs/", {"toggle": req.pk})
    req.refresh_from_db()
    assert not req.active


def test_request_page_shows_parallel_path(world):
    flow = services.do_create_flow(actor=world.admin, data={"name": "Par", "action": "scrap_asset", "tree": {
        "nodes": [{"id": "par", "type": "parallel", "name": "Both", "branches": [
            {"id": "p1", "nodes": [{"id": "a", "type": "approver", "name": "Finance check",
                                    "approvers": {"kind": "role", "role": "finance"}}]},
            {"id": "p2", "nodes": [{"id": "b", "type": "approver", "name": "Safety check", "mode": "all",
                                    "approvers": {"kind": "user", "users": ["manager", "dispatcher"]}}]}]}]}})
    services.do_publish(actor=world.admin, flow=flow)
    wo = make_wo(world, status=S.IN_PROGRESS)
    req = services.do_start_request(actor=world.eng_x, wo=wo, action="scrap_asset")
    page = world.browser_client(world.manager).get(f"/approvals/requests/{req.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="path-parallel"' in html and "Finance check" in html and "Safety check" in html
    assert 'data-testid="decide"' in html


def test_timeline_event_include_renders_every_event(world, org, purchase_flow):
    from django.template.loader import render_to_string

    from closeloop.workorders.models import TimelineEvent

    wo = make_wo(world, status=S.IN_PROGRESS)
    req = services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part", data={"amount": 1200})
    services.do_bypass(actor=world.admin, req=req, reason="ICU down")
    services.do_decide(actor=world.finance, req=req, decision="approve", comment="ok")
    events = list(TimelineEvent.objects.filter(work_order=wo, kind="approval"))
    assert {ev.data["event"] for ev in events} >= {"requested", "bypassed", "approved"}, [e.data for e in events]
    for ev in events:
        html = render_to_string("approvals/_timeline_event.html", {"d": ev.data, "ev": ev})
        assert f'data-event="{ev.data["event"]}"' in html
        assert f"#{req.pk}" in html


def test_card_names_the_action_not_its_key(world, org, purchase_flow):
    """The approvals card (and the request page) show the action's translated label: `close` is
    关闭 / Close, the product's purchase_part 配件采购 / Parts purchase; never the key."""
    import re

    from django.utils import translation

    from closeloop.workorders.lifecycle import TRANSITIONS

    close_flow = services.do_create_flow(actor=world.admin, data={"name": "结单审批", "action": "close", "tree": {
        "nodes": [{"id": "m", "type": "approver", "approvers": {"kind": "role", "role": "manager"}}]}})
    services.do_publish(actor=world.admin, flow=close_flow)
    wo = make_wo(world, status=S.IN_PROGRESS)
    services.do_start_request(actor=world.eng_x, wo=wo, action="close", data={})
    services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part", data={"amount": 100})
    c = world.browser_client(world.manager)
    for language, purchase in (("zh-hans", "配件采购"), ("en", "Parts purchase")):
        with translation.override(language):
            close = str(TRANSITIONS["close"].label)
        html = c.get(f"/work-orders/{wo.code}/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
        card = html.split('data-testid="approvals-card"', 1)[1].split('data-testid="request-approval"', 1)[0]
        shown = re.findall(r'data-testid="approval-action">([^<]*)<', card)
        assert sorted(shown) == sorted([close, purchase]), (language, shown)
        assert close != "close"
        options = html.split('data-testid="request-approval"', 1)[1].split("</select>", 1)[0]
        assert f"({close})" in options and f"({purchase})" in options and "(close)" not in options
        req = wo.approvals.get(action="close")
        page = c.get(f"/approvals/requests/{req.pk}/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
        assert f": {close} ·" in page, language
