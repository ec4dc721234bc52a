"""Parts wired into field work (the phone's parts used draw from the van exactly once) and
dispatch (suggestions say what each engineer's van lacks)."""

from decimal import Decimal

import pytest

from closeloop.dispatch.suggestions import suggest
from closeloop.fieldwork import services as fieldwork
from closeloop.fieldwork.models import PartUsed
from closeloop.parts import services
from closeloop.parts.models import Movement
from closeloop.workorders.lifecycle import S
from closeloop.workorders.tests.factories import make_wo

from .helpers import level, stock_world

pytestmark = pytest.mark.django_db


def test_phone_parts_draw_from_the_van_once_per_operation(world):
    s = stock_world(world, bottles=2)
    wo = make_wo(world, status=S.IN_PROGRESS)
    eng = world.api(world.eng_x)
    url = f"/api/v1/work-orders/{wo.code}/parts"
    body = {"part_number": "R410A-10", "quantity": 1, "operation_id": "op-a"}
    r = eng.post(url, body)
    assert r.status_code == 201, r.content
    assert r.json()["drawn_from"] == "van-x" and r.json()["name"] == "制冷剂 R410A 10kg"
    # the offline queue sends it again (a new request, the same operation id), and again with the header only
    assert eng.post(url, body).json()["id"] == r.json()["id"]
    assert level(s["r410"], s["van_x"]) == 1
    r2 = eng.post(url, {"part_number": "R410A-10", "quantity": 1}, headers={"Idempotency-Key": "op-b"})
    assert r2.status_code == 201
    assert level(s["r410"], s["van_x"]) == 0
    assert PartUsed.objects.filter(work_order=wo).count() == 2
    assert Movement.objects.filter(kind="issue", work_order=wo).count() == 2
    # the van is empty now: a clear 409 naming the part and the van, nothing recorded
    r3 = eng.post(url, {"part_number": "R410A-10", "quantity": 1, "operation_id": "op-c"})
    assert r3.status_code == 409
    assert r3.json()["part"] == "R410A-10" and r3.json()["location"] == "van-x"
    assert "R410A-10" in r3.json()["title"] and "eng_x 的车" in r3.json()["title"]
    assert PartUsed.objects.filter(work_order=wo).count() == 2
    # free-text parts (not in the catalogue) are recorded without stock, as before
    assert eng.post(url, {"name": "保险丝", "quantity": 2}).status_code == 201
    # the service report's content and the invoice lines still list them
    st = world.api(world.dispatcher).get(f"/api/v1/work-orders/{wo.code}/parts-status").json()
    assert [x["part"] for x in st["issued"]] == ["R410A-10", "R410A-10"]
    assert st["invoice_lines"][0] == {"part_number": "R410A-10", "name": "制冷剂 R410A 10kg", "quantity": "2",
                                      "unit": "瓶", "unit_price": "480.00", "amount": "960.00"}
    assert any(x["name"] == "保险丝" for x in st["invoice_lines"])


def test_bad_part_input_is_a_422_naming_the_fields(world):
    stock_world(world)
    wo = make_wo(world, status=S.IN_PROGRESS)
    r = world.api(world.eng_x).post(f"/api/v1/work-orders/{wo.code}/parts", {"name": "", "quantity": "-1"})
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"name", "quantity"}


def test_service_replays_with_the_same_key_draw_once(world):
    s = stock_world(world, bottles=2)
    wo = make_wo(world, status=S.IN_PROGRESS)
    a = fieldwork.do_add_part(actor=world.eng_x, wo=wo, name="", part_number="R410A-10", quantity=1, key="k1")
    b = fieldwork.do_add_part(actor=world.eng_x, wo=wo, name="", part_number="R410A-10", quantity=1, key="k1")
    assert a.pk == b.pk and level(s["r410"], s["van_x"]) == 1


def test_suggestions_say_what_the_van_lacks(world):
    s = stock_world(world, bottles=2)
    wo = make_wo(world, status=S.NEW)
    services.do_reserve_parts(actor=world.dispatcher, work_order=wo, items=[{"part_id": s["r410"].pk, "quantity": 2},
                                                                            {"part_id": s["sensor"].pk, "quantity": 1}])
    services.do_receive(actor=world.dispatcher, data={"part": "SEN-02", "target": "east", "quantity": 3})
    rows = {r["username"]: r for r in suggest(wo, parts=True).suggestions}
    assert rows, "somebody is suggested"
    if "eng_x" in rows:
        assert [(m["part"], m["status"]) for m in rows["eng_x"]["parts_missing"]] == [("SEN-02", "nearby")]
        assert "氧传感器" in rows["eng_x"]["parts_warning"] and "华东仓" in rows["eng_x"]["parts_warning"]
    if "eng_y" in rows:
        assert {m["status"] for m in rows["eng_y"]["parts_missing"]} == {"no_van"}
    api = world.api(world.dispatcher).get(f"/api/v1/work-orders/{wo.code}/suggestions").json()
    assert all("parts_missing" in x for x in api["suggestions"])
    assert "parts_missing" not in suggest(wo).suggestions[0]  # the services' own calls pay nothing extra
    assert Decimal(1)
