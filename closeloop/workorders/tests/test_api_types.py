"""Work order types and their custom fields over the API: happy paths, bad input
(names the field, writes nothing), unknown fields, safe deletes, the permission
matrix (everyone reads; customers only active types; only admins write)."""

import pytest

from closeloop.workorders.models import CustomField, WorkOrderType
from closeloop.workorders.tests.factories import make_wo

V1 = "/api/v1"
PERSONAS = ["admin", "manager", "dispatcher", "finance", "eng_x", "cust_a"]


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def errors(r) -> dict:
    assert r["Content-Type"] == "application/problem+json", r.content
    return {e["field"]: e for e in r.json().get("errors", [])}


def snapshot():
    return (sorted(WorkOrderType.objects.values_list("key", "name", "prefix", "active")),
            sorted(CustomField.objects.values_list("wo_type__key", "key", "label", "kind", "required", "pattern")))


# ---- happy paths -------------------------------------------------------------------------

def test_type_with_fields_crud(world):
    api = world.api(world.admin)
    r = api.post(f"{V1}/work-order-types", {
        "key": "install", "name": "安装", "kind": "service", "prefix": "AZ",
        "fields": [
            {"key": "floor", "label": "楼层", "kind": "number", "min_value": -5, "max_value": 120, "required": True},
            {"key": "power", "label": "电源", "kind": "choice", "choices": ["220V", "380V"]},
            {"key": "room", "label": "房间号", "kind": "text", "pattern": r"[A-Z]\d{3}", "max_length": 4},
        ]})
    assert r.status_code == 201, r.content
    assert r["Location"] == f"{V1}/work-order-types/install"
    body = r.json()
    assert body["prefix"] == "AZ" and [f["key"] for f in body["fields"]] == ["floor", "power", "room"]
    assert body["fields"][0]["min_value"] == -5 and body["fields"][0]["required"] is True

    # The new type works for work orders straight away, with its fields enforced.
    disp = world.api(world.dispatcher)
    r = disp.post(f"{V1}/work-orders", {"type": "install", "title": "安装", "custom": {"floor": 3, "room": "A101"}})
    assert r.status_code == 201, r.content
    assert r.json()["code"].startswith("AZ")

    r = api.patch(f"{V1}/work-order-types/install", {"name": "设备安装", "prefix": "AZX", "active": False})
    assert r.status_code == 200 and r.json()["prefix"] == "AZX" and r.json()["active"] is False
    assert api.get(f"{V1}/work-order-types", {"active": "false"}).json()["items"][0]["key"] == "install"
    r = api.delete(f"{V1}/work-order-types/install")
    assert r.status_code == 409 and r.json()["references"] == {"work orders": 1}


def test_field_crud(world):
    api = world.api(world.admin)
    base = f"{V1}/work-order-types/repair/fields"
    r = api.post(base, {"key": "fault_part", "label": "故障部件", "kind": "choice", "choices": ["电源", "主板"]})
    assert r.status_code == 201, r.content
    assert r["Location"] == f"{base}/fault_part"
    assert [f["key"] for f in api.get(base).json()] == ["fault_part"]
    r = api.patch(f"{base}/fault_part", {"choices": ["电源", "主板", "风扇"], "required": True})
    assert r.status_code == 200 and r.json()["choices"] == ["电源", "主板", "风扇"] and r.json()["required"]
    # Changing the kind drops what no longer applies.
    r = api.patch(f"{base}/fault_part", {"kind": "text", "max_length": 50})
    assert r.status_code == 200, r.content
    assert r.json()["choices"] == [] and r.json()["max_length"] == 50
    assert api.get(f"{base}/fault_part").json()["kind"] == "text"
    assert api.delete(f"{base}/fault_part").status_code == 204
    assert api.get(f"{base}/fault_part").status_code == 404


def test_new_fields_go_last_unless_ordered(world):
    api = world.api(world.admin)
    base = f"{V1}/work-order-types/production/fields"
    assert api.post(base, {"key": "mold", "label": "模具"}).json()["order"] == 1
    assert api.post(base, {"key": "first", "label": "首位", "order": 0}).status_code == 201
    assert [f["key"] for f in api.get(base).json()][-1] == "mold"


def test_deleting_a_field_keeps_values_on_work_orders(world):
    wo = make_wo(world, wo_type=world.production, custom={"temperature": 210, "shift": "早"})
    assert world.api(world.admin).delete(f"{V1}/work-order-types/production/fields/shift").status_code == 204
    wo.refresh_from_db()
    assert wo.custom == {"temperature": 210, "shift": "早"}


def test_unused_type_is_deleted_with_its_fields(world):
    api = world.api(world.admin)
    assert api.post(f"{V1}/work-order-types", {"key": "pm", "name": "保养", "prefix": "PM",
                                               "fields": [{"key": "cycle", "label": "周期"}]}).status_code == 201
    assert api.delete(f"{V1}/work-order-types/pm").status_code == 204
    assert not CustomField.objects.filter(key="cycle").exists()


# ---- bad input ----------------------------------------------------------------------------

TYPE_BAD = [
    ("post", "/work-order-types", {"key": "new", "name": "新", "prefix": "wd"}, "prefix"),
    ("post", "/work-order-types", {"key": "new", "name": "新", "prefix": "ABCDE"}, "prefix"),
    ("post", "/work-order-types", {"key": "new", "name": "新", "prefix": "W1"}, "prefix"),
    ("post", "/work-order-types", {"key": "new", "name": "新", "prefix": "WD"}, "prefix"),  # taken
    ("post", "/work-order-types", {"key": "repair", "name": "新", "prefix": "NW"}, "key"),
    ("post", "/work-order-types", {"key": "New Type", "name": "新", "prefix": "NW"}, "key"),
    ("post", "/work-order-types", {"key": "new", "name": "", "prefix": "NW"}, "name"),
    ("post", "/work-order-types", {"key": "new", "name": "新", "prefix": "NW", "kind": "magic"}, "kind"),
    ("post", "/work-order-types", {"key": "new", "name": "新", "prefix": "NW", "process_steps": ["a", "a"]},
     "process_steps[1]"),
    ("post", "/work-order-types", {"key": "new", "name": "新", "prefix": "NW",
                                   "fields": [{"key": "ok", "label": "好"}, {"key": "ok", "label": "重复"}]},
     "fields[1].key"),
    ("post", "/work-order-types", {"key": "new", "name": "新", "prefix": "NW",
                                   "fields": [{"key": "c", "label": "选", "kind": "choice"}]}, "fields[0].choices"),
    ("post", "/work-order-types", {"key": "new", "name": "新", "prefix": "NW", "sla": "4h"}, "sla"),
    ("patch", "/work-order-types/repair", {"prefix": "PR"}, "prefix"),
    ("patch", "/work-order-types/repair", {"key": "production"}, "key"),
    ("patch", "/work-order-types/repair", {"colour": "red"}, "colour"),
]


@pytest.mark.parametrize("method,path,body,field", TYPE_BAD, ids=[f"{m}:{f}" for m, _p, _b, f in TYPE_BAD])
def test_bad_type_input(world, method, path, body, field):
    before = snapshot()
    r = getattr(world.api(world.admin), method)(V1 + path, body)
    assert r.status_code == 422, r.content
    assert field in errors(r), r.json()
    assert snapshot() == before


FIELDS = "/work-order-types/production/fields"
FIELD_BAD = [
    ("post", FIELDS, {"key": "temperature", "label": "重复"}, "key"),  # unique per type
    ("post", FIELDS, {"key": "Bad-Key", "label": "x"}, "key"),
    ("post", FIELDS, {"key": "1st", "label": "x"}, "key"),
    ("post", FIELDS, {"key": "x", "label": ""}, "label"),
    ("post", FIELDS, {"key": "x", "label": "x", "kind": "colour"}, "kind"),
    ("post", FIELDS, {"key": "x", "label": "x", "kind": "choice"}, "choices"),
    ("post", FIELDS, {"key": "x", "label": "x", "kind": "choice", "choices": ["a", ""]}, "choices[1]"),
    ("post", FIELDS, {"key": "x", "label": "x", "kind": "choice", "choices": ["a", "a"]}, "choices[1]"),
    ("post", FIELDS, {"key": "x", "label": "x", "kind": "number", "min_value": 10, "max_value": 1}, "max_value"),
    ("post", FIELDS, {"key": "x", "label": "x", "kind": "text", "pattern": "([a-z"}, "pattern"),
    ("post", FIELDS, {"key": "x", "label": "x", "kind": "text", "max_length": 0}, "max_length"),
    ("post", FIELDS, {"key": "x", "label": "x", "kind": "text", "choices": ["a"]}, "choices"),
    ("post", FIELDS, {"key": "x", "label": "x", "kind": "date", "min_value": 1}, "min_value"),
    ("post", FIELDS, {"key": "x", "label": "x", "kind": "number", "max_value": 1e20}, "max_value"),
    ("post", FIELDS, {"key": "x", "label": "x", "default": 1}, "default"),
    ("patch", f"{FIELDS}/temperature", {"min_value": 500}, "max_value"),  # against the stored max of 400
    ("patch", f"{FIELDS}/temperature", {"key": "shift"}, "key"),
    ("patch", f"{FIELDS}/shift", {"choices": []}, "choices"),
    ("patch", f"{FIELDS}/shift", {"kind": "number", "choices": ["a"]}, "choices"),
    ("patch", f"{FIELDS}/shift", {"colour": "red"}, "colour"),
]


@pytest.mark.parametrize("method,path,body,field", FIELD_BAD, ids=[f"{m}:{f}" for m, _p, _b, f in FIELD_BAD])
def test_bad_field_input(world, method, path, body, field):
    before = snapshot()
    r = getattr(world.api(world.admin), method)(V1 + path, body)
    assert r.status_code == 422, r.content
    assert field in errors(r), r.json()
    assert snapshot() == before


# ---- permissions --------------------------------------------------------------------------

@pytest.fixture
def with_inactive(world):
    WorkOrderType.objects.create(key="old", name="旧", prefix="OLD", active=False)
    return world


READS = ["/work-order-types", "/work-order-types/repair", "/work-order-types/production/fields",
         "/work-order-types/production/fields/shift", "/work-order-types/old", "/work-order-types/old/fields"]


@pytest.mark.parametrize("url", READS)
@pytest.mark.parametrize("persona", PERSONAS)
def test_read(with_inactive, persona, url):
    r = with_inactive.api(getattr(with_inactive, persona)).get(V1 + url)
    want = 404 if persona == "cust_a" and "/old" in url else 200
    assert r.status_code == want, r.content


@pytest.mark.parametrize("persona", PERSONAS)
def test_list_hides_inactive_types_from_customers(with_inactive, persona):
    keys = {t["key"] for t in with_inactive.api(getattr(with_inactive, persona)).get(f"{V1}/work-order-types")
            .json()["items"]}
    assert keys == ({"repair", "production"} if persona == "cust_a" else {"repair", "production", "old"})


WRITES = [
    ("post", "/work-order-types", {"key": "new", "name": "新", "prefix": "NW"}, 201),
    ("patch", "/work-order-types/repair", {"name": "改"}, 200),
    ("delete", "/work-order-types/old", None, 204),
    ("post", FIELDS, {"key": "mold", "label": "模具"}, 201),
    ("patch", f"{FIELDS}/shift", {"label": "改"}, 200),
    ("delete", f"{FIELDS}/shift", None, 204),
]


@pytest.mark.parametrize("method,url,body,ok", WRITES, ids=[f"{m} {u}" for m, u, _b, _o in WRITES])
@pytest.mark.parametrize("persona", PERSONAS + ["admin_without_admin_scope"])
def test_write(with_inactive, persona, method, url, body, ok):
    w = with_inactive
    api = w.api(w.admin, scopes=["read", "write"]) if persona == "admin_without_admin_scope" \
        else w.api(getattr(w, persona))
    before = snapshot()
    r = getattr(api, method)(V1 + url, *([body] if body is not None else []))
    # Managers design types too (issue 14: the Settings pages and the API share one rule).
    want = ok if persona in ("admin", "manager") else 403
    assert r.status_code == want, r.content
    assert (snapshot() == before) == (want == 403)
