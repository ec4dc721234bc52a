"""Consolidated purchasing: batch-age needs become ONE request per vendor × period × source,
never twice; reorder points and plan forecasts feed it too; the request is a `purchase` work
order routed through the approval flows (amount conditions apply); an approved request goes
to the ERP by webhook (a local HTTP server) and its purchase order number comes back."""

import hashlib
import hmac
import json
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from closeloop.approvals import services as approvals
from closeloop.approvals.models import ApprovalStep
from closeloop.customers.models import Asset
from closeloop.notify.conftest import Sink, drain
from closeloop.parts import services as parts
from closeloop.parts.models import Location, Part
from closeloop.purchasing import services
from closeloop.purchasing.models import BatchAgeRule, Need, PurchaseRequest
from closeloop.workorders.models import ExternalRef, WorkOrderType

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def encoders(world, *, old=3, young=9):
    enc = Part.objects.create(number="ENC-5000", name="编码器", unit="pcs", vendor="华锐编码器", price=Decimal("1200"),
                              asset_models=["GEN2"], created_at=T0)
    for i in range(old + young):
        Asset.objects.create(customer=world.org_a, site=world.site_a, name=f"曳引机编码器{i}", model="GEN2",
                             batch="B-2020-03", serial_number=f"ENC-{i:04d}",
                             install_date=date(2021, 6, 1) if i < old else date(2023, 1, 1))
    rule = BatchAgeRule.objects.create(name="编码器五年更换", batch="B-2020-03", years=5, part=enc, quantity=1,
                                       created_at=T0)
    return enc, rule


def flow(world, *, auto_below=None):
    tree = {"settings": {}, "auto_approve": [], "nodes": [
        {"id": "mgr", "type": "approver", "name": "经理", "approvers": {"kind": "role", "role": "manager"}},
        {"id": "fin", "type": "condition", "branches": [
            {"id": "big", "condition": "amount > 3000", "nodes": [
                {"id": "cfo", "type": "approver", "name": "财务", "approvers": {"kind": "role", "role": "finance"}}]},
            {"id": "small", "default": True, "nodes": []}]}]}
    if auto_below is not None:
        tree["auto_approve"] = [{"name": "小额", "condition": f"amount < {auto_below}"}]
    f = approvals.do_create_flow(actor=world.manager, data={"name": "采购审批", "action": "purchase", "tree": tree})
    approvals.do_publish(actor=world.manager, flow=f)
    return f


@time_machine.travel(T0, tick=False)
def test_three_old_encoders_make_one_request_once(world):
    enc, rule = encoders(world)
    flow(world)
    made = services.do_consolidate(actor=world.manager)
    assert len(made) == 1
    pr = made[0]
    [line] = list(pr.lines.all())
    assert (line.part, line.quantity, pr.amount) == (enc, 3, Decimal("3600.00"))
    assert pr.vendor == "华锐编码器" and pr.source == "age" and pr.period == "2026-12"
    wo = pr.work_order
    assert wo.wo_type.key == "purchase" and "编码器 × 3" in wo.title
    # consolidating again (the button twice, the worker next hour, next month) makes nothing
    assert services.do_consolidate(actor=world.manager) == []
    with time_machine.travel(date(2027, 1, 15)):
        assert services.do_consolidate(actor=world.manager) == []
    assert PurchaseRequest.objects.count() == 1 and Need.objects.count() == 3
    # routed through the approval flow with the amount: over 3000 also needs finance
    req = services.approval_of(pr)
    assert req.data == {"amount": 3600.0, "vendor": "华锐编码器", "source": "age", "lines": 1}
    approvals.do_decide(actor=world.manager, req=req, decision="approve")
    req.refresh_from_db()
    assert req.status == "pending"
    assert list(ApprovalStep.objects.filter(request=req).values_list("key", "status")) == [
        ("mgr", "approved"), ("cfo", "pending")]
    approvals.do_decide(actor=world.finance, req=req, decision="approve")
    assert services.status_of(pr) == "approved"


@time_machine.travel(T0, tick=False)
def test_a_fourth_encoder_ageing_later_is_ordered_in_a_later_period(world):
    enc, rule = encoders(world, old=3, young=1)
    services.do_consolidate(actor=world.manager)
    Asset.objects.filter(serial_number="ENC-0003").update(install_date=date(2021, 12, 20))
    with time_machine.travel(datetime(2026, 12, 25, 9, tzinfo=ZoneInfo("Asia/Shanghai"))):
        assert services.do_consolidate(actor=world.manager) == []  # this month's request is made already
    with time_machine.travel(datetime(2027, 1, 4, 9, tzinfo=ZoneInfo("Asia/Shanghai"))):
        [pr] = services.do_consolidate(actor=world.manager)
    assert [(ln.part_id, ln.quantity) for ln in pr.lines.all()] == [(enc.pk, 1)] and pr.period == "2027-01"
    assert services.status_of(pr) == "no_flow"  # no flow for "purchase": left for a person to start


@time_machine.travel(T0, tick=False)
def test_small_requests_are_approved_by_the_flows_auto_rule(world):
    encoders(world, old=1, young=0)
    flow(world, auto_below=2000)
    [pr] = services.do_consolidate(actor=world.manager)
    assert services.status_of(pr) == "approved" and services.approval_of(pr).auto_rule == "小额"


@time_machine.travel(T0, tick=False)
def test_reorder_points_and_plan_forecasts_feed_consolidation_per_vendor(world):
    from closeloop.maintenance import services as maintenance

    refrigerant = Part.objects.create(number="R410A", name="制冷剂", vendor="冷媒供应商", price=Decimal("480"),
                                      created_at=T0)
    filt = Part.objects.create(number="FLT-1", name="滤网", vendor="冷媒供应商", price=Decimal("35"), created_at=T0)
    Location.objects.create(code="central", name="中央仓", kind="central")
    parts.do_receive(actor=world.manager, data={"part": "R410A", "target": "central", "quantity": 1})
    parts.do_set_reorder_point(actor=world.manager, data={"part": "R410A", "location": "central", "minimum": 2,
                                                          "target": 6})
    WorkOrderType.objects.create(key="pm", name="保养", prefix="PM", kind="preventive")
    maintenance.do_create_plan(actor=world.manager, data={
        "name": "滤网月换", "type": "pm", "scope": "asset", "asset": "SN-A-1", "trigger": "calendar", "every": 1,
        "unit": "month", "start_date": "2026-12-20", "title": "{plan}", "parts": [{"part_id": filt.pk, "quantity": 2}]})
    made = {pr.source: pr for pr in services.do_consolidate(actor=world.manager)}
    assert set(made) == {"reorder", "forecast"}
    assert [(ln.part_id, ln.quantity) for ln in made["reorder"].lines.all()] == [(refrigerant.pk, 5)]
    forecast = made["forecast"].lines.get()
    assert forecast.part == filt and forecast.quantity >= 2  # 8 weeks: the plan's December and January visits
    assert services.do_consolidate(actor=world.manager) == []
    # still below the minimum next month, but on an open request: not ordered again
    with time_machine.travel(date(2027, 1, 10)):
        assert not [pr for pr in services.do_consolidate(actor=world.manager) if pr.source == "reorder"]


@time_machine.travel(T0, tick=False)
def test_an_approved_request_goes_to_the_erp_and_its_po_number_comes_back(world, settings):
    settings.CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS = True
    sink = Sink()
    try:
        encoders(world)
        flow(world, auto_below=10000)
        services.do_save_settings(actor=world.admin, data={"erp_url": sink.url + "/erp/po", "erp_secret": "erp-s3"})
        [pr] = services.do_consolidate(actor=world.manager)
        api = world.api(world.manager)
        code = pr.work_order.code
        r = api.post(f"/api/v1/purchase-requests/{code}/send")
        assert r.status_code == 200, r.content
        assert sink.requests == []  # never inside the request: the worker sends it
        assert api.post(f"/api/v1/purchase-requests/{code}/send").status_code == 409  # once
        drain()
        [hit] = sink.requests
        body = json.loads(hit["body"])
        assert body["request"] == code and body["amount"] == "3600.00" and body["vendor"] == "华锐编码器"
        assert body["lines"] == [{"part_number": "ENC-5000", "name": "编码器", "unit": "pcs", "quantity": "3",
                                  "unit_price": "1200.00", "amount": "3600.00"}]
        h = hit["headers"]
        mac = hmac.new(b"erp-s3", h["X-Closeloop-Timestamp"].encode() + b"." + hit["body"], hashlib.sha256)
        assert h["X-Closeloop-Signature"] == "sha256=" + mac.hexdigest()
        # the ERP posts its purchase order number back (with a token of its own)
        url = f"/api/v1/purchase-requests/{code}/purchase-order"
        assert api.post(url, {"po_number": ""}).status_code == 422
        r = api.post(url, {"po_number": "PO-2026-0042"})
        assert r.status_code == 200 and r.json()["po_number"] == "PO-2026-0042" and r.json()["status"] == "ordered"
        assert api.post(url, {"po_number": "PO-2026-0042"}).status_code == 200  # the same again: fine
        assert api.post(url, {"po_number": "PO-9"}).status_code == 409
        assert ExternalRef.objects.get(work_order=pr.work_order).external_id == "PO-2026-0042"
    finally:
        sink.close()


@time_machine.travel(T0, tick=False)
def test_sending_needs_approval_and_a_url_and_roles(world):
    encoders(world)
    flow(world)
    [pr] = services.do_consolidate(actor=world.manager)
    api = world.api(world.manager)
    code = pr.work_order.code
    r = api.post(f"/api/v1/purchase-requests/{code}/send")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "erp_url"
    services.do_save_settings(actor=world.admin, data={"erp_url": "https://erp.example.com/po"})
    assert api.post(f"/api/v1/purchase-requests/{code}/send").status_code == 409  # not approved yet
    assert world.api(world.dispatcher).post("/api/v1/purchase-requests/consolidate").status_code == 403
    assert world.api(world.eng_x).get("/api/v1/purchase-requests").status_code == 403


def test_bad_rule_and_settings_input_is_a_422_naming_fields(world):
    api = world.api(world.manager)
    r = api.post("/api/v1/purchase-rules", {"name": "", "years": 0, "part": "NOPE"})
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"name", "years", "part", "batch"}
    r = api.put("/api/v1/purchasing/settings", {"period": "year", "forecast_weeks": 0, "erp_url": "ftp://x"})
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"period", "forecast_weeks", "erp_url"}
    assert not BatchAgeRule.objects.exists()
