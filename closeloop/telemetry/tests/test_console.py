"""The console pages: gateways (token once, revoke), meters, an asset's page, the condition
builder, "try against history" and saving; managers and admins only."""

from datetime import UTC, datetime

import pytest
import time_machine

from closeloop.telemetry import services
from closeloop.telemetry.models import AlarmEvent, Condition, Gateway, Meter

NOW = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture
def mgr(world):
    return world.browser_client(world.manager)


def test_a_gateway_token_is_shown_once_and_can_be_revoked(world, mgr):
    r = mgr.post("/settings/telemetry/", {"action": "create", "name": "机房网关", "customer": "org-a",
                                          "scope": "alarms"})
    assert r.status_code == 200
    g = Gateway.objects.get()
    token = r.context["token"]
    assert token.startswith("clg_") and token.encode() in r.content
    assert (g.customer.code, g.scope) == ("org-a", "alarms")
    assert services.authenticate_gateway(token) == g
    assert token.encode() not in mgr.get("/settings/telemetry/").content
    r = mgr.post("/settings/telemetry/", {"action": "revoke", "id": g.pk})
    assert r.status_code == 302
    assert services.authenticate_gateway(token) is None
    r = mgr.post("/settings/telemetry/", {"action": "create", "name": ""})
    assert r.status_code == 422 and b"name" in r.content


def test_meters_by_model_and_on_the_asset_page(world, mgr):
    r = mgr.post("/settings/telemetry/meters/", {"assets": "V60 M3", "kind": "running_hours", "unit": "h",
                                                 "mode": "cumulative"})
    assert r.status_code == 302
    assert Meter.objects.filter(kind="running_hours").count() == 2
    r = mgr.post("/settings/telemetry/meters/", {"assets": "SN-A-1", "kind": "running_hours", "unit": "min"})
    assert r.status_code == 422  # the kind already counts in h
    r = mgr.post("/settings/telemetry/meters/", {"assets": "nothing", "kind": "x", "unit": "h"})
    assert r.status_code == 422
    assert mgr.get("/settings/telemetry/meters/?q=SN-A").status_code == 200
    page = mgr.get("/settings/telemetry/assets/SN-A-1/")
    assert page.status_code == 200 and b"running_hours" in page.content
    m = Meter.objects.get(asset=world.asset_a)
    assert mgr.post("/settings/telemetry/assets/SN-A-1/", {"action": "delete", "id": m.pk}).status_code == 302
    assert not Meter.objects.filter(pk=m.pk).exists()
    assert mgr.get("/settings/telemetry/assets/NOPE/").status_code == 404


def test_builder_try_and_save(world, mgr):
    AlarmEvent.objects.bulk_create([AlarmEvent(asset=world.asset_a, kind="door_delay", received_at=NOW,
                                               at=datetime(2026, 11, d, 9, tzinfo=UTC)) for d in range(10, 16)])
    form = {"metric": "alarms.count", "kind": "door_delay", "window": "30", "unit": "d", "op": ">",
            "threshold": "5", "expression": "", "period": "90", "assets": "SN-A-1 SN-B-1"}
    r = mgr.post("/settings/telemetry/conditions/", {**form, "action": "build"})
    assert r.context["form"]["expression"] == "alarms.door_delay.count_30d > 5"
    r = mgr.post("/settings/telemetry/conditions/", {**form, "action": "build", "joiner": "and",
                                                     "metric": "reading.last", "kind": "temperature", "op": ">=",
                                                     "threshold": "80", "expression": "asset.model == \"V60\""})
    assert r.context["form"]["expression"] == 'asset.model == "V60" && reading.temperature.last >= 80.0'
    r = mgr.post("/settings/telemetry/conditions/", {**form, "action": "build", "threshold": "lots"})
    assert r.status_code == 422 and r.context["errors"][0]["field"] == "threshold"
    with time_machine.travel(NOW, tick=False):
        r = mgr.post("/settings/telemetry/conditions/", {**form, "action": "try",
                                                         "expression": "alarms.door_delay.count_30d > 5"})
    assert r.status_code == 200
    res = r.context["result"]
    assert res["fired"] == 1 and res["firings"][0]["at"] == datetime(2026, 11, 15, 9, tzinfo=UTC)
    r = mgr.post("/settings/telemetry/conditions/", {**form, "action": "save", "name": "开门延时",
                                                     "expression": "alarms.door_delay.count_30d > 5",
                                                     "active": "on"})
    assert r.status_code == 302
    c = Condition.objects.get()
    assert c.builder["metric"] == "alarms.count" and c.active
    assert mgr.get(f"/settings/telemetry/conditions/?id={c.pk}").context["form"]["kind"] == "door_delay"
    r = mgr.post("/settings/telemetry/conditions/", {"id": c.pk, "action": "save", "name": "开门延时",
                                                     "expression": "alarms.door_delay.count_30d >"})
    assert r.status_code == 422 and r.context["errors"][0]["field"] == "expression"
    assert mgr.post("/settings/telemetry/conditions/", {"id": c.pk, "action": "delete"}).status_code == 302
    assert not Condition.objects.exists()


def test_others_are_refused(world):
    for user in (world.dispatcher, world.eng_x, world.cust_a, world.finance):
        assert world.browser_client(user).get("/settings/telemetry/conditions/").status_code == 403
