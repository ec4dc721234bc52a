"""Events in: connected systems' tokens, Standard Webhooks signatures checked by us (made by
the standardwebhooks library), replay refusal, idempotent CRM creates, finance through the
invoice transition, ERP on the timeline, 422s naming fields, scopes."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from standardwebhooks.webhooks import Webhook

from closeloop.core.clock import now
from closeloop.events import services
from closeloop.events.models import InboundMessage
from closeloop.workorders import services as wo_services
from closeloop.workorders.models import TimelineEvent, WorkOrder

pytestmark = pytest.mark.django_db


def _system(world, **kw):
    data = {"key": "crm", "name": "CRM", "scopes": ["crm"], "default_type": "repair", **kw}
    return services.do_create_system(actor=world.admin, data=data)


def post(key, token, body, headers=None):
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    h = {"Authorization": f"Bearer {token}", **(headers or {})}
    return Client().post(f"/api/v1/inbound/{key}", raw, content_type="application/json", headers=h)


def signed(secret, msg_id, body, at=None):
    raw = json.dumps(body)
    at = at or now()
    sig = Webhook(secret).sign(msg_id, at, raw)
    return raw, {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": sig}


def test_crm_creates_once_per_its_id_then_updates(world):
    _s, token, _secret = _system(world)
    body = {"id": "m1", "type": "request.upsert",
            "data": {"external_id": "OPP-7", "title": "服务器电源故障", "customer": "org-a", "priority": "high"}}
    r = post("crm", token, body)
    assert r.status_code == 200, r.content
    code = r.json()["work_order"]
    assert r.json()["outcome"] == "created"
    r = post("crm", token, {**body, "id": "m2", "data": {**body["data"], "title": "服务器电源故障（已换件）"}})
    assert r.status_code == 200 and r.json() == {"id": "m2", "duplicate": False, "work_order": code,
                                                 "outcome": "updated"}
    assert WorkOrder.objects.count() == 1
    wo = WorkOrder.objects.get()
    assert wo.title == "服务器电源故障（已换件）" and wo.external_refs.get().external_id == "OPP-7"
    assert TimelineEvent.objects.filter(work_order=wo, kind="integration").count() == 2
    # the same message again: not processed twice
    r = post("crm", token, {**body, "data": {**body["data"], "title": "changed by a replay"}})
    assert r.status_code == 200 and r.json()["duplicate"] is True
    wo.refresh_from_db()
    assert wo.title == "服务器电源故障（已换件）"
    assert TimelineEvent.objects.filter(work_order=wo, kind="integration").count() == 2


def test_signed_requests_are_checked_and_replays_refused(world):
    _s, token, secret = _system(world, key="crm2", signed=True)
    assert secret.startswith("whsec_")
    body = {"type": "request.upsert", "data": {"external_id": "OPP-1", "title": "t", "customer": "org-a"}}
    raw, h = signed(secret, "msg_1", body)
    r = post("crm2", token, raw, h)
    assert r.status_code == 200, r.content
    # reused id: not processed again
    raw2, h2 = signed(secret, "msg_1", {**body, "data": {**body["data"], "title": "again"}})
    r = post("crm2", token, raw2, h2)
    assert r.json()["duplicate"] is True and WorkOrder.objects.get().title == "t"
    # an old timestamp: refused
    raw3, h3 = signed(secret, "msg_3", body, at=now() - timedelta(minutes=10))
    assert post("crm2", token, raw3, h3).status_code == 401
    # a wrong signature, or none: refused
    raw4, h4 = signed("whsec_" + "QUJD" * 8, "msg_4", body)
    assert post("crm2", token, raw4, h4).status_code == 401
    assert post("crm2", token, {**body, "id": "msg_5"}).status_code == 401
    # the body changed after signing: refused
    _raw5, h5 = signed(secret, "msg_6", body)
    assert post("crm2", token, json.dumps({**body, "data": {**body["data"], "title": "x"}}), h5).status_code == 401
    assert InboundMessage.objects.count() == 1


def test_wrong_token_or_system_is_401(world):
    _system(world)
    body = {"id": "m", "type": "request.upsert", "data": {"external_id": "x", "title": "t"}}
    assert post("crm", "cls_wrong", body).status_code == 401
    assert post("nope", "cls_wrong", body).status_code == 401
    assert Client().post("/api/v1/inbound/crm", json.dumps(body), content_type="application/json").status_code == 401


def _confirmed(world):
    wo = wo_services.do_create_work_order(actor=world.dispatcher, data={
        "type": "repair", "title": "x", "customer": "org-a", "assignee": "eng_x", "team": "team-x",
        "external_refs": [{"system": "finance", "id": "SO-9"}]})
    for action, data in (("accept", {}), ("start", {}), ("complete", {"resolution": "换电源"}), ("confirm", {})):
        wo_services.apply_transition(actor=world.admin, wo=wo, action=action, data=data)
    wo.refresh_from_db()
    assert wo.status == "confirmed"
    return wo


def test_finance_posts_the_invoice_through_the_invoice_transition_and_a_payment(world):
    _s, token, _ = _system(world, key="finance", name="金蝶", scopes=["finance"])
    wo = _confirmed(world)
    r = post("finance", token, {"id": "i1", "type": "invoice.posted",
                                "data": {"external_id": "SO-9", "invoice_number": "INV-001"}})
    assert r.status_code == 200, r.content
    wo.refresh_from_db()
    assert wo.status == "invoiced" and wo.invoice_number == "INV-001"
    assert TimelineEvent.objects.filter(work_order=wo, kind="transition", action="invoice").exists()
    r = post("finance", token, {"id": "p1", "type": "payment.received",
                                "data": {"work_order": wo.code, "amount": "1200.50", "currency": "cny"}})
    assert r.status_code == 200
    ev = TimelineEvent.objects.filter(work_order=wo, kind="integration").last()
    assert ev.data["type"] == "payment.received" and ev.data["amount"] == "1200.50" and ev.data["currency"] == "CNY"


def test_invoice_on_a_work_order_not_yet_confirmed_is_409_and_writes_nothing(world):
    _s, token, _ = _system(world, key="finance", name="fin", scopes=["finance"])
    wo = wo_services.do_create_work_order(actor=world.dispatcher, data={"type": "repair", "title": "x"})
    r = post("finance", token, {"id": "i1", "type": "invoice.posted",
                                "data": {"work_order": wo.code, "invoice_number": "INV-1"}})
    assert r.status_code == 409
    assert not InboundMessage.objects.exists()
    assert not TimelineEvent.objects.filter(work_order=wo, kind="integration").exists()


def test_erp_purchase_lands_on_the_timeline_found_by_their_id(world):
    _s, token, _ = _system(world, key="erp", name="ERP", scopes=["erp"])
    wo = wo_services.do_create_work_order(actor=world.dispatcher, data={
        "type": "repair", "title": "x", "external_refs": [{"system": "erp", "id": "PR-2026-1"}]})
    r = post("erp", token, {"id": "e1", "type": "purchase.updated", "data": {
        "external_id": "PR-2026-1", "purchase_id": "PO-77", "delivery_date": "2026-12-20",
        "items": [{"part_number": "PSU-750", "name": "电源", "quantity": 1, "in_stock": 0}]}})
    assert r.status_code == 200, r.content
    ev = TimelineEvent.objects.filter(work_order=wo, kind="integration").get()
    assert ev.data["delivery_date"] == "2026-12-20" and ev.data["items"][0]["part_number"] == "PSU-750"


def test_bad_input_is_422_naming_the_fields(world):
    _s, token, _ = _system(world, key="all", name="all", scopes=["finance", "crm", "erp"])
    r = post("all", token, {"type": "nope", "data": 3, "x": 1})
    assert r.status_code == 422
    assert {"id", "type", "data", "x"} <= {e["field"] for e in r.json()["errors"]}
    r = post("all", token, {"id": "a", "type": "invoice.posted", "data": {"work_order": "WD1"}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "data.invoice_number"
    r = post("all", token, {"id": "b", "type": "invoice.posted", "data": {"invoice_number": "1"}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "data.work_order"
    r = post("all", token, {"id": "c", "type": "request.upsert", "data": {"external_id": "E", "title": ""}})
    assert r.status_code == 422 and "data.title" in {e["field"] for e in r.json()["errors"]}
    r = post("all", token, {"id": "d", "type": "purchase.updated", "data": {
        "purchase_id": "P", "work_order": "WD1", "delivery_date": "soon"}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "data.delivery_date"
    r = post("all", token, b"{not json")
    assert r.status_code in (400, 422)
    assert not InboundMessage.objects.exists() and not WorkOrder.objects.exists()


def test_scopes_limit_what_a_system_may_send(world):
    _s, token, _ = _system(world)
    r = post("crm", token, {"id": "x", "type": "invoice.posted", "data": {"work_order": "WD", "invoice_number": "1"}})
    assert r.status_code == 403


def test_connected_system_api_shows_the_token_once(world):
    api = world.api(world.admin)
    r = api.post("/api/v1/connected-systems", {"key": "erp", "name": "ERP", "scopes": ["erp"], "signed": True})
    assert r.status_code == 201, r.content
    out = r.json()
    assert out["token"].startswith("cls_") and out["signing_secret"].startswith("whsec_")
    got = api.get(f"/api/v1/connected-systems/{out['id']}").json()
    assert "token" not in got and got["signed"] is True
    r = api.post("/api/v1/connected-systems", {"key": "Bad Key", "name": "", "scopes": ["x"]})
    assert r.status_code == 422
    assert {"key", "name", "scopes"} <= {e["field"] for e in r.json()["errors"]}
    new = api.post(f"/api/v1/connected-systems/{out['id']}/rotate-token").json()["token"]
    body = {"id": "1", "type": "purchase.updated", "data": {"purchase_id": "P", "work_order": "nope"}}
    assert post("erp", out["token"], body).status_code == 401
    assert post("erp", new, body).status_code == 401  # signed system: needs a signature
    _ = datetime.now(UTC)


def test_crm_fills_the_custom_fields_of_the_type(world):
    _s, token, _ = _system(world, key="crm", name="CRM", scopes=["crm"], default_type="production")
    body = {"id": "c1", "type": "request.upsert", "data": {"external_id": "OPP-9", "title": "注塑机"}}
    r = post("crm", token, body)
    assert r.status_code == 422 and "data.custom.temperature" in {e["field"] for e in r.json()["errors"]}
    r = post("crm", token, {**body, "data": {**body["data"], "custom": {"temperature": 180}}})
    assert r.status_code == 200, r.content
    assert WorkOrder.objects.get().custom["temperature"] == 180
