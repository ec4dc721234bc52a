"""Ingestion: mixed good and bad items, replays, out-of-order and late data, the future
tolerance, units, unknown assets, tokens and scopes; listeners after commit."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from closeloop.telemetry import services
from closeloop.telemetry.models import AlarmEvent, Meter, Reading
from conftest import ApiClient

URL = "/api/v1/telemetry/batches"
T0 = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)


def iso(t):
    return t if isinstance(t, str) else t.isoformat().replace("+00:00", "Z")


@pytest.fixture
def setup(world):
    services.do_add_meters(actor=None, assets=[world.asset_a, world.asset_b], kind="temperature", unit="°C")
    services.do_add_meters(actor=None, assets=[world.asset_a], kind="running_hours", unit="h", mode="cumulative")
    g, token = services.do_create_gateway(actor=world.admin, name="网关 1")
    return g, ApiClient(token)


def reading(serial="SN-A-1", kind="temperature", at=T0, value=20.5, **kw):
    return {"type": "reading", "asset": serial, "kind": kind, "at": iso(at), "value": value, **kw}


def alarm(serial="SN-A-1", kind="door_delay", at=T0, **kw):
    return {"type": "alarm", "asset": serial, "kind": kind, "at": iso(at), **kw}


@time_machine.travel(T0 + timedelta(minutes=1), tick=False)
def test_good_items_are_kept_and_each_bad_one_is_named(world, setup):
    _g, api = setup
    items = [
        reading(value=21.0),                                              # 0 ok
        reading(at=T0 + timedelta(hours=2)),                              # 1 future beyond tolerance
        reading(serial="NOPE"),                                           # 2 unknown asset
        reading(unit="°F"),                                               # 3 unit mismatch
        reading(value="21"),                                              # 4 text, not a number
        reading(kind="humidity"),                                         # 5 no meter of that kind
        alarm(severity="critical", payload={"floor": 3}),                 # 6 ok
        {"type": "reading", "asset_id": world.asset_b.pk, "kind": "temperature", "at": iso(T0), "value": 7},  # 7 ok
        reading(at=T0 + timedelta(minutes=3), unit="°C", value=22),       # 8 within tolerance: ok
        {"type": "bogus"},                                                # 9
        reading(value=float("nan")),                                       # 10 (Python's json writes NaN)
        reading(at="2026-12-07T04:00:00"),                                # 11 no time zone
        {**reading(at=T0 - timedelta(seconds=1)), "extra": 1},            # 12 unknown field
    ]
    r = api.post(URL, {"items": items})
    assert r.status_code == 200, r.content
    body = r.json()
    status = [i["status"] for i in body["items"]]
    assert status == ["accepted", "rejected", "rejected", "rejected", "rejected", "rejected", "accepted",
                      "accepted", "accepted", "rejected", "rejected", "rejected", "rejected"]
    fields = {i["index"]: [(e["field"], e["code"]) for e in i.get("errors", [])] for i in body["items"]}
    assert fields[1] == [("items[1].at", "future")]
    assert fields[2] == [("items[2].asset", "unknown_asset")]
    assert fields[3] == [("items[3].unit", "unit_mismatch")]
    assert fields[4] == [("items[4].value", "invalid")]
    assert fields[5] == [("items[5].kind", "no_meter")]
    assert fields[9] == [("items[9].type", "invalid")]
    assert fields[10] == [("items[10].value", "invalid")]
    assert fields[11] == [("items[11].at", "no_time_zone")]
    assert fields[12] == [("items[12].extra", "unknown")]
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (4, 0, 9)
    assert Reading.objects.count() == 3 and AlarmEvent.objects.count() == 1
    a = AlarmEvent.objects.get()
    assert (a.severity, a.payload, a.at) == ("critical", {"floor": 3}, T0)


@time_machine.travel(T0 + timedelta(minutes=1), tick=False)
def test_replays_are_duplicates_and_out_of_order_data_is_stored(world, setup):
    _g, api = setup
    batch = [reading(at=T0 - timedelta(minutes=m), value=m) for m in (5, 1, 30, 2)] + [alarm(), alarm()]
    first = api.post(URL, {"items": batch}).json()
    assert [i["status"] for i in first["items"]] == ["accepted"] * 5 + ["duplicate"]
    again = api.post(URL, {"items": batch}).json()
    assert again["duplicate"] == 6 and again["accepted"] == 0
    late = api.post(URL, {"items": [reading(at=T0 - timedelta(days=40), value=1.5),
                                    reading(at=T0 - timedelta(minutes=5), value=99)]}).json()
    assert [i["status"] for i in late["items"]] == ["accepted", "duplicate"]
    assert Reading.objects.count() == 5 and AlarmEvent.objects.count() == 1
    assert Reading.objects.get(at=T0 - timedelta(minutes=5)).value == 5  # the replay changed nothing


@time_machine.travel(T0, tick=False)
def test_tokens_and_scopes(world, setup):
    g, api = setup
    ok = [reading()]
    assert ApiClient(None).post(URL, {"items": ok}).status_code == 401
    assert ApiClient("clg_wrong").post(URL, {"items": ok}).status_code == 401
    assert world.api(world.admin).post(URL, {"items": ok}).status_code == 401  # a user's token is not a gateway's
    # A gateway token opens nothing else.
    assert api.get("/api/v1/telemetry/gateways").status_code == 401
    assert api.get("/api/v1/me").status_code == 401
    # Scope: an alarms-only gateway cannot post readings.
    _g2, tok2 = services.do_create_gateway(actor=None, name="alarms only", scope="alarms")
    body = ApiClient(tok2).post(URL, {"items": [reading(), alarm()]}).json()
    assert [i["status"] for i in body["items"]] == ["rejected", "accepted"]
    assert body["items"][0]["errors"][0]["code"] == "insufficient_scope"
    # A customer's gateway knows only that customer's assets.
    _g3, tok3 = services.do_create_gateway(actor=None, name="org b", customer="org-b")
    body = ApiClient(tok3).post(URL, {"items": [reading(), reading(serial="SN-B-1")]}).json()
    assert [i["status"] for i in body["items"]] == ["rejected", "accepted"]
    # Revoked: refused.
    services.do_revoke_gateway(actor=world.admin, gateway=g)
    assert api.post(URL, {"items": ok}).status_code == 401


@time_machine.travel(T0, tick=False)
def test_batch_shape_errors_are_422(world, setup):
    _g, api = setup
    r = api.post(URL, {"items": [reading()] * 501})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "items"
    assert api.post(URL, {"things": []}).status_code == 422
    assert Reading.objects.count() == 0


@time_machine.travel(T0, tick=False)
def test_listeners_hear_after_commit_only_of_new_data(world, setup, django_capture_on_commit_callbacks):
    _g, api = setup
    heard = []
    services.register_ingest_listener(lambda ids, kinds: heard.append((ids, kinds)))
    try:
        with django_capture_on_commit_callbacks(execute=True):
            api.post(URL, {"items": [reading(), alarm(), reading(serial="NOPE")]})
        assert heard == [({world.asset_a.pk}, {"temperature", "door_delay"})]
        with django_capture_on_commit_callbacks(execute=True):
            api.post(URL, {"items": [reading(), alarm()]})  # a replay: nothing new
        assert len(heard) == 1
    finally:
        services._listeners.clear()


@time_machine.travel(T0, tick=False)
def test_a_full_batch_costs_a_fixed_number_of_queries(world, setup, django_assert_max_num_queries):
    from closeloop.customers.models import Asset

    assets = [Asset.objects.create(customer=world.org_a, name=f"梯{i}", serial_number=f"EL-{i}") for i in range(50)]
    services.do_add_meters(actor=None, assets=assets, kind="cycles", unit="次", mode="cumulative")
    g = Meter.objects.filter(kind="cycles").count()
    assert g == 50
    gw, _tok = services.do_create_gateway(actor=None, name="bulk")
    items = [reading(serial=f"EL-{i % 50}", kind="cycles", at=T0 - timedelta(minutes=i), value=i) for i in range(400)]
    items += [alarm(serial=f"EL-{i % 50}", at=T0 - timedelta(minutes=i)) for i in range(100)]
    with django_assert_max_num_queries(6):
        out = services.ingest(gateway=gw, items=items)
    assert out["accepted"] == 500


@time_machine.travel(T0 + timedelta(minutes=1), tick=False)
def test_accepted_whatever_the_process_time_zone(world, setup, settings):
    settings.TIME_ZONE = "Asia/Shanghai"  # the process's local zone follows (SQLite gives naive UTC back)
    _g, api = setup
    body = api.post(URL, {"items": [reading(at="2026-12-07T11:30:00+08:00"), alarm()]}).json()
    assert [i["status"] for i in body["items"]] == ["accepted", "accepted"]
    assert Reading.objects.get().at == datetime(2026, 12, 7, 3, 30, tzinfo=UTC)
