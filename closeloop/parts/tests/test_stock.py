"""Movements, reservations, the never-negative rule (one thread here; test_concurrency.py runs
real threads), idempotent keys, warnings, the fleet view and the API's 422s."""

from datetime import date
from decimal import Decimal

import pytest

from closeloop.core.errors import DomainError, ValidationFailed
from closeloop.customers.models import Asset
from closeloop.parts import selectors, services
from closeloop.parts.models import Movement, Reservation
from closeloop.workorders.lifecycle import S
from closeloop.workorders.tests.factories import make_wo

from .helpers import level, stock_world

pytestmark = pytest.mark.django_db


def test_receipt_transfer_return_adjust_move_the_levels_and_write_the_ledger(world):
    s = stock_world(world, bottles=0)
    d = world.dispatcher
    services.do_receive(actor=d, data={"part": "R410A-10", "target": "central", "quantity": "10"})
    services.do_transfer(actor=d, data={"part": "R410A-10", "source": "central", "target": "van-x", "quantity": 3})
    wo = make_wo(world, status=S.IN_PROGRESS)
    services.do_return(actor=d, data={"part": "R410A-10", "target": "east", "quantity": 1, "work_order": wo.code})
    services.do_adjust(actor=d, data={"part": "R410A-10", "location": "central", "quantity": "-2", "note": "盘点"})
    assert level(s["r410"], s["central"]) == 5
    assert level(s["r410"], s["van_x"]) == 3
    assert level(s["r410"], s["east"]) == 1
    assert [m.kind for m in Movement.objects.order_by("id")] == ["receipt", "transfer", "return", "adjustment"]


def test_the_ledger_is_append_only(world):
    stock_world(world, bottles=0)
    m = services.do_receive(actor=world.dispatcher, data={"part": "R410A-10", "target": "central", "quantity": 1})
    with pytest.raises(TypeError):
        m.save()
    with pytest.raises(TypeError):
        m.delete()
    with pytest.raises(TypeError):
        Movement.objects.all().update(note="x")
    with pytest.raises(TypeError):
        Movement.objects.all().delete()


def test_taking_more_than_there_is_is_a_409_naming_part_and_location_and_changes_nothing(world):
    s = stock_world(world, bottles=2)
    wo = make_wo(world, status=S.IN_PROGRESS)
    with pytest.raises(DomainError) as e:
        services.issue_to_work_order(actor=world.eng_x, part=s["r410"], location=s["van_x"], qty=Decimal(3),
                                     work_order=wo)
    assert e.value.status == 409
    assert "R410A-10" in str(e.value) and "eng_x 的车" in str(e.value)
    assert e.value.extra == {"part": "R410A-10", "location": "van-x", "available": "2", "wanted": "3"}
    assert level(s["r410"], s["van_x"]) == 2
    assert not Movement.objects.exists()
    with pytest.raises(DomainError):
        services.do_adjust(actor=world.dispatcher, data={"part": "R410A-10", "location": "van-x", "quantity": -5,
                                                         "note": "丢失"})
    assert level(s["r410"], s["van_x"]) == 2


def test_an_issue_with_a_key_draws_down_once(world):
    s = stock_world(world, bottles=2)
    wo = make_wo(world, status=S.IN_PROGRESS)
    first = services.issue_to_work_order(actor=world.eng_x, part=s["r410"], location=s["van_x"], qty=Decimal(1),
                                         work_order=wo, key="op-1")
    again = services.issue_to_work_order(actor=world.eng_x, part=s["r410"], location=s["van_x"], qty=Decimal(1),
                                         work_order=wo, key="op-1")
    assert first.pk == again.pk
    assert level(s["r410"], s["van_x"]) == 1


def test_reservations_set_use_and_release(world):
    s = stock_world(world)
    wo = make_wo(world, status=S.ASSIGNED)
    rs = services.do_reserve_parts(actor=world.dispatcher, work_order=wo,
                                   items=[{"part_id": s["r410"].pk, "quantity": 2}, {"part": "SEN-02", "quantity": 1}])
    assert len(rs) == 2
    services.do_reserve_parts(actor=None, work_order=wo, items=[{"part_id": s["r410"].pk, "quantity": 1}])
    assert Reservation.objects.get(work_order=wo, part=s["r410"]).quantity == 1  # set again, not added
    services.issue_to_work_order(actor=world.eng_x, part=s["r410"], location=s["van_x"], qty=Decimal(1), work_order=wo)
    assert Reservation.objects.get(work_order=wo, part=s["r410"]).status == "used"
    services.release_with_work_order(type("Ctx", (), {"wo": wo}))
    assert Reservation.objects.get(work_order=wo, part=s["sensor"]).status == "released"


def test_reserve_bad_input_names_each_item(world):
    s = stock_world(world)
    wo = make_wo(world, status=S.ASSIGNED)
    with pytest.raises(ValidationFailed) as e:
        services.do_reserve_parts(actor=world.dispatcher, work_order=wo, items=[
            {"part_id": s["r410"].pk, "quantity": 0}, {"part_id": 999999, "quantity": 1}, {"part_id": "x", "quantity": 1}])
    assert {p.field for p in e.value.problems} == {"items[0].quantity", "items[1].part_id", "items[2].part_id"}
    assert not Reservation.objects.exists()
    with pytest.raises(DomainError) as e:
        services.do_reserve_parts(actor=world.eng_x, work_order=wo, items=[{"part_id": s["r410"].pk, "quantity": 1}])
    assert e.value.status == 403


def test_missing_part_warning_van_nearby_missing(world):
    s = stock_world(world, bottles=1)
    wo = make_wo(world, status=S.ASSIGNED)
    services.do_reserve_parts(actor=world.dispatcher, work_order=wo, items=[{"part_id": s["r410"].pk, "quantity": 2}])
    check = selectors.parts_check(wo, [world.eng_x.pk, world.eng_x2.pk, world.eng_y.pk])
    assert [r["status"] for r in check[world.eng_x.pk]] == ["missing"]
    assert [r["status"] for r in check[world.eng_y.pk]] == ["no_van"]
    services.do_receive(actor=world.dispatcher, data={"part": "R410A-10", "target": "east", "quantity": 5})
    check = selectors.parts_check(wo, [world.eng_x.pk])
    assert [r["status"] for r in check[world.eng_x.pk]] == ["nearby"]
    services.do_transfer(actor=world.dispatcher, data={"part": "R410A-10", "source": "east", "target": "van-x",
                                                       "quantity": 1})
    assert selectors.parts_check(wo, [world.eng_x.pk])[world.eng_x.pk] == []
    # the card on the work order page says it
    c = world.browser_client(world.dispatcher)
    wo.assignee = world.eng_x2
    wo.save()
    body = c.get(f"/work-orders/{wo.code}/").content.decode()
    assert 'data-testid="parts-warning"' in body and "R410A-10" in body


def test_reorder_warnings_and_fleet(world):
    s = stock_world(world, bottles=1)
    services.do_set_reorder_point(actor=world.manager, data={"part": "R410A-10", "location": "van-x", "minimum": 2,
                                                             "target": 4})
    w = selectors.reorder_warnings(world.manager)
    assert [(x["part"].number, x["to_order"]) for x in w] == [("R410A-10", Decimal(3))]
    for i in range(3):
        Asset.objects.create(customer=world.org_a, name=f"编码器{i}", model="ENC-5", batch="B-2019",
                             serial_number=f"ENC-{i}", install_date=date(2019, 1, 1 + i))
    make_wo(world, status=S.IN_PROGRESS, asset=Asset.objects.get(serial_number="ENC-0"))
    groups = {g["key"]: g for g in selectors.fleet(world.manager)}
    assert groups["B-2019"]["count"] == 3 and groups["B-2019"]["failures"] == 1
    assert s  # the world


def test_api_parts_locations_movements_and_422s(world):
    stock_world(world, bottles=2)
    api = world.api(world.manager)
    r = api.post("/api/v1/parts", {"number": "ENC-1", "name": "编码器", "price": "1200", "asset_models": ["GEN2"]})
    assert r.status_code == 201, r.content
    r = api.post("/api/v1/parts", {"number": "ENC-1", "name": ""})
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"number", "name"}
    r = api.post("/api/v1/stock-movements", {"kind": "receipt", "part": "ENC-1", "target": "central", "quantity": 12})
    assert r.status_code == 201, r.content
    r = api.post("/api/v1/stock-movements", {"kind": "transfer", "part": "NOPE", "source": "central", "target": "x",
                                             "quantity": -1})
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"part", "target", "quantity"}
    r = api.post("/api/v1/stock-movements", {"kind": "transfer", "part": "R410A-10", "source": "van-x",
                                             "target": "central", "quantity": 5})
    assert r.status_code == 409 and r.json()["part"] == "R410A-10" and r.json()["location"] == "van-x"
    assert api.get("/api/v1/parts/ENC-1").json()["stock"] == [{"location": "central", "quantity": "12"}]
    assert world.api(world.cust_a).get("/api/v1/parts").status_code == 403
    assert world.api(world.manager, scopes=["read"]).post("/api/v1/parts", {"number": "X", "name": "X"}
                                                          ).status_code == 403
