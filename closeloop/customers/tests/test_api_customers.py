"""Customers, sites, contacts, assets and contracts over the API: the happy paths,
bad input (names the field, writes nothing), unknown fields, safe deletes."""

import pytest

from closeloop.customers.models import Asset, Contact, Customer, ServiceContract, Site
from closeloop.workorders.tests.factories import make_wo

V1 = "/api/v1"


def errors(r) -> dict:
    assert r["Content-Type"] == "application/problem+json", r.content
    return {e["field"]: e for e in r.json().get("errors", [])}


# ---- happy paths -------------------------------------------------------------------------

def test_customer_crud(world):
    api = world.api(world.dispatcher)
    r = api.post(f"{V1}/customers", {"code": "ruijin", "name": "瑞金医院", "tier": "platinum", "phone": "021-6437 0045"})
    assert r.status_code == 201, r.content
    assert r["Location"] == f"{V1}/customers/ruijin"
    assert r.json()["tier"] == "platinum"
    assert api.get(r["Location"]).json()["name"] == "瑞金医院"

    r = api.patch(f"{V1}/customers/ruijin", {"name": "  瑞金医院总院 ", "notes": "两个院区\n北院区周末不开放"})
    assert r.status_code == 200, r.content
    assert r.json()["name"] == "瑞金医院总院"
    assert Customer.objects.get(code="ruijin").tier == "platinum"  # partial: untouched fields stay

    r = api.delete(f"{V1}/customers/ruijin")
    assert r.status_code == 204
    assert not Customer.objects.filter(code="ruijin").exists()
    assert api.get(f"{V1}/customers/ruijin").status_code == 404


def test_site_crud_and_filters(world):
    api = world.api(world.manager)
    r = api.post(f"{V1}/sites", {"customer": "org-a", "code": "site-a2", "name": "甲医院东院", "city": "上海",
                                 "latitude": 31.123456789, "longitude": 121.5})
    assert r.status_code == 201, r.content
    assert r["Location"] == f"{V1}/sites/site-a2"
    body = r.json()
    assert body["customer"]["code"] == "org-a" and body["latitude"] == 31.123457  # 6 places, like the column
    assert [s["code"] for s in api.get(f"{V1}/sites", {"customer": "org-a"}).json()["items"]] == ["site-a", "site-a2"]
    assert [s["code"] for s in api.get(f"{V1}/sites", {"q": "东院"}).json()["items"]] == ["site-a2"]

    r = api.patch(f"{V1}/sites/site-a2", {"grade": "三级甲等", "latitude": None})
    assert r.status_code == 200, r.content
    assert r.json()["grade"] == "三级甲等" and r.json()["latitude"] is None
    assert api.delete(f"{V1}/sites/site-a2").status_code == 204


def test_contact_crud(world):
    api = world.api(world.dispatcher)
    r = api.post(f"{V1}/contacts", {"site": "site-a", "name": "张工", "email": "zhang@example.cn", "phone": "+86 138"})
    assert r.status_code == 201, r.content
    cid = r.json()["id"]
    assert r["Location"] == f"{V1}/contacts/{cid}"
    assert r.json()["customer"]["code"] == "org-a"  # taken from the site
    r = api.patch(f"{V1}/contacts/{cid}", {"title": "设备科主任", "site": None})
    assert r.status_code == 200, r.content
    assert r.json()["site"] is None and r.json()["title"] == "设备科主任"
    assert [c["name"] for c in api.get(f"{V1}/contacts", {"customer": "org-a", "q": "张"}).json()["items"]] == ["张工"]
    assert api.delete(f"{V1}/contacts/{cid}").status_code == 204


def test_asset_crud_with_slash_in_serial(world):
    api = world.api(world.dispatcher)
    r = api.post(f"{V1}/assets", {"site": "site-a", "serial_number": "MR/2024/007", "name": "核磁共振",
                                  "manufacturer": "联影", "nameplate": {"功率": "30kW", "电压": 380},
                                  "install_date": "2024-05-01"})
    assert r.status_code == 201, r.content
    assert r["Location"] == f"{V1}/assets/MR/2024/007"
    got = api.get(r["Location"]).json()
    assert got["customer"]["code"] == "org-a" and got["nameplate"] == {"功率": "30kW", "电压": 380}
    r = api.patch(f"{V1}/assets/MR/2024/007", {"model": "uMR 780"})
    assert r.status_code == 200 and r.json()["model"] == "uMR 780"
    items = api.get(f"{V1}/assets", {"customer": "org-a", "site": "site-a", "q": "780"}).json()["items"]
    assert [a["serial_number"] for a in items] == ["MR/2024/007"]
    assert api.delete(f"{V1}/assets/MR/2024/007").status_code == 204
    assert not Asset.objects.filter(serial_number="MR/2024/007").exists()


def test_contracts(world):
    api = world.api(world.manager)
    r = api.post(f"{V1}/customers/org-a/contracts", {"number": "SC-2026-1", "starts_on": "2026-01-01",
                                                     "ends_on": "2026-12-31"})
    assert r.status_code == 201, r.content
    assert r.json()["tier"] == "gold"  # the customer's tier by default
    items = api.get(f"{V1}/customers/org-a/contracts").json()["items"]
    assert [k["number"] for k in items] == ["SC-2026-1"]
    assert api.get(f"{V1}/customers/org-b/contracts").json()["items"] == []


def test_cursor_pagination(world):
    for i in range(5):
        Customer.objects.create(code=f"c{i}", name=f"客户{i}")
    api = world.api(world.finance)
    seen, cursor = [], None
    while True:
        page = api.get(f"{V1}/customers", {"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        seen += [c["code"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ["org-a", "org-b", "c0", "c1", "c2", "c3", "c4"]
    assert api.get(f"{V1}/customers", {"limit": 101}).status_code == 422
    assert "cursor" in errors(api.get(f"{V1}/customers", {"cursor": "garbage!"}))


# ---- bad input: names the field, writes nothing ---------------------------------------------------

CREATE_BAD = [
    # (path, body, field at fault)
    ("/customers", {"code": "bad code", "name": "x"}, "code"),
    ("/customers", {"code": "org-a", "name": "x"}, "code"),  # taken
    ("/customers", {"code": "new", "name": "  "}, "name"),
    ("/customers", {"code": "new", "name": "x" * 201}, "name"),
    ("/customers", {"code": "new", "name": "x", "tier": "diamond"}, "tier"),
    ("/customers", {"code": "new", "name": "x", "phone": "call me"}, "phone"),
    ("/customers", {"name": "x"}, "code"),
    ("/sites", {"customer": "nope", "code": "s9", "name": "x"}, "customer"),
    ("/sites", {"customer": "org-a", "code": "s9", "name": "x", "latitude": 91}, "latitude"),
    ("/sites", {"customer": "org-a", "code": "s9", "name": "x", "longitude": -180.5}, "longitude"),
    ("/sites", {"customer": "org-a", "code": "site-b", "name": "x"}, "code"),
    ("/sites", {"customer": "org-a", "code": "s9", "name": "x\ny"}, "name"),
    ("/contacts", {"customer": "org-a", "site": "site-b", "name": "x"}, "site"),  # another customer's site
    ("/contacts", {"customer": "org-a", "name": "x", "email": "not-an-email"}, "email"),
    ("/contacts", {"name": "x"}, "customer"),
    ("/contacts", {"customer": "org-a", "site": "nope", "name": "x"}, "site"),
    ("/assets", {"site": "site-a", "serial_number": "SN-B-1", "name": "x"}, "serial_number"),  # not unique
    ("/assets", {"customer": "org-b", "site": "site-a", "serial_number": "N1", "name": "x"}, "site"),
    ("/assets", {"site": "site-a", "serial_number": " ", "name": "x"}, "serial_number"),
    ("/assets", {"site": "site-a", "serial_number": "N1", "name": "x", "install_date": "2024-13-01"}, "install_date"),
    ("/assets", {"site": "site-a", "serial_number": "N1", "name": "x", "nameplate": {"k": [1, 2]}}, "nameplate.k"),
    ("/customers/org-a/contracts", {"number": "K1", "starts_on": "2026-02-01", "ends_on": "2026-01-01"}, "ends_on"),
    ("/customers/org-a/contracts", {"number": "", "starts_on": "2026-01-01", "ends_on": "2026-02-01"}, "number"),
    ("/customers/org-a/contracts", {"number": "K1", "starts_on": "2026-01-01"}, "ends_on"),
]

MODELS = (Customer, Site, Contact, Asset, ServiceContract)


def _counts():
    return [m.objects.count() for m in MODELS]


@pytest.mark.parametrize("path,body,field", CREATE_BAD, ids=[f"{p}:{f}" for p, _b, f in CREATE_BAD])
def test_bad_create_names_the_field_and_writes_nothing(world, path, body, field):
    api = world.api(world.admin)
    before = _counts()
    r = api.post(V1 + path, body)
    assert r.status_code == 422, r.content
    assert field in errors(r), r.json()
    assert _counts() == before


PATCH_BAD = [
    ("/customers/org-a", {"code": "org-b"}, "code"),
    ("/customers/org-a", {"name": None}, "name"),
    ("/sites/site-a", {"latitude": "north"}, "latitude"),
    ("/sites/site-a", {"customer": None}, "customer"),
    ("/assets/SN-A-1", {"customer": "org-b"}, "site"),  # its site stays with org A
    ("/assets/SN-A-1", {"serial_number": "SN-B-1"}, "serial_number"),
    ("/assets/SN-A-1", {"nameplate": {"x": "y" * 501}}, "nameplate.x"),
]


@pytest.mark.parametrize("path,body,field", PATCH_BAD, ids=[f"{p}:{f}" for p, _b, f in PATCH_BAD])
def test_bad_patch_names_the_field_and_changes_nothing(world, path, body, field):
    api = world.api(world.admin)
    before = api.get(V1 + path).json()
    r = api.patch(V1 + path, body)
    assert r.status_code == 422, r.content
    assert field in errors(r)
    assert api.get(V1 + path).json() == before


def test_bad_patch_of_contact(world):
    api = world.api(world.admin)
    path = f"{V1}/contacts/{world.contact_a.pk}"
    before = api.get(path).json()
    for body, field in (({"site": "site-b"}, "site"), ({"email": "x@"}, "email"), ({"name": ""}, "name")):
        r = api.patch(path, body)
        assert r.status_code == 422 and field in errors(r), r.content
    assert api.get(path).json() == before


def test_every_problem_reported_at_once(world):
    r = world.api(world.admin).post(f"{V1}/sites", {"customer": "nope", "code": "a b", "name": "", "latitude": 99})
    assert set(errors(r)) == {"customer", "code", "name", "latitude"}


UNKNOWN_FIELD = [
    ("post", "/customers", {"code": "n1", "name": "x", "owner": "me"}),
    ("patch", "/customers/org-a", {"owner": "me"}),
    ("post", "/sites", {"customer": "org-a", "code": "n1", "name": "x", "zip": "200000"}),
    ("patch", "/sites/site-a", {"zip": "200000"}),
    ("post", "/contacts", {"customer": "org-a", "name": "x", "wechat": "abc"}),
    ("post", "/assets", {"site": "site-a", "serial_number": "N1", "name": "x", "colour": "red"}),
    ("patch", "/assets/SN-A-1", {"colour": "red"}),
    ("post", "/customers/org-a/contracts", {"number": "K", "starts_on": "2026-01-01", "ends_on": "2026-02-01",
                                            "price": 1}),
]


@pytest.mark.parametrize("method,path,body", UNKNOWN_FIELD, ids=[f"{m} {p}" for m, p, _b in UNKNOWN_FIELD])
def test_unknown_fields_are_rejected(world, method, path, body):
    api = world.api(world.admin)
    before = _counts()
    r = getattr(api, method)(V1 + path, body)
    assert r.status_code == 422
    (bad,) = [k for k in body if k not in ("code", "name", "customer", "site", "serial_number", "number",
                                            "starts_on", "ends_on")]
    assert errors(r)[bad]["code"] == "extra_forbidden"
    assert _counts() == before


def test_unknown_contact_field_on_patch(world):
    r = world.api(world.admin).patch(f"{V1}/contacts/{world.contact_a.pk}", {"wechat": "abc"})
    assert r.status_code == 422 and "wechat" in errors(r)


# ---- deletes refuse while anything refers to the row ----------------------------------------------

def test_delete_refuses_while_referenced_and_never_cascades(world):
    wo = make_wo(world, asset=world.asset_a, contact=world.contact_a)
    api = world.api(world.admin)
    for path in ("/customers/org-a", "/sites/site-a", "/assets/SN-A-1", f"/contacts/{world.contact_a.pk}"):
        r = api.delete(V1 + path)
        assert r.status_code == 409, (path, r.content)
        assert r.json()["references"]["work orders"] == 1
        assert r.json()["type"].endswith("/still_referenced")
    assert Customer.objects.filter(pk=world.org_a.pk).exists() and Site.objects.filter(pk=world.site_a.pk).exists()
    assert Asset.objects.filter(pk=world.asset_a.pk).exists() and Contact.objects.filter(pk=world.contact_a.pk).exists()
    wo.refresh_from_db()
    assert wo.asset_id == world.asset_a.pk


def test_customer_with_sites_is_not_deleted(world):
    r = world.api(world.admin).delete(f"{V1}/customers/org-b")
    assert r.status_code == 409
    assert r.json()["references"] == {"sites": 1, "assets": 1, "users": 1}


def test_deleting_a_site_keeps_its_contacts(world):
    site = Site.objects.create(customer=world.org_a, code="site-tmp", name="临时")
    contact = Contact.objects.create(customer=world.org_a, site=site, name="赵")
    assert world.api(world.admin).delete(f"{V1}/sites/site-tmp").status_code == 204
    contact.refresh_from_db()
    assert contact.site_id is None and contact.customer_id == world.org_a.pk


def test_object_with_history_cannot_move_to_another_customer(world):
    make_wo(world, asset=world.asset_a)
    api = world.api(world.admin)
    r = api.patch(f"{V1}/assets/SN-A-1", {"customer": "org-b", "site": "site-b"})
    assert r.status_code == 422 and errors(r)["customer"]["code"] == "referenced"
    r = api.patch(f"{V1}/sites/site-a", {"customer": "org-b"})
    assert r.status_code == 422 and "customer" in errors(r)
    # Without history an asset may move (sold equipment), site included.
    r = api.patch(f"{V1}/assets/SN-B-1", {"customer": "org-a", "site": "site-a"})
    assert r.status_code == 200 and r.json()["customer"]["code"] == "org-a"


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
@pytest.mark.parametrize("url", ["/customers/nope", "/sites/nope", "/contacts/999999", "/assets/NOPE-1",
                                 "/customers/nope/contracts"])
def test_unknown_keys_are_404(world, method, url):
    body = {}
    if url.endswith("/contracts") and method != "get":
        method, body = "post", {"number": "K", "starts_on": "2026-01-01", "ends_on": "2026-02-01"}
    r = getattr(world.api(world.admin), method)(V1 + url, *([body] if method in ("patch", "post") else []))
    assert r.status_code == 404 and r["Content-Type"] == "application/problem+json"


def test_contact_id_must_be_a_number(world):
    r = world.api(world.admin).get(f"{V1}/contacts/abc")
    assert r.status_code == 422 and "contact_id" in errors(r)


def test_openapi_lists_these_endpoints(client, db):
    paths = client.get(f"{V1}/openapi.json").json()["paths"]
    for p in ("/customers", "/customers/{code}", "/customers/{code}/contracts", "/sites/{code}", "/contacts/{contact_id}",
              "/assets/{serial_number}", "/users/{username}", "/teams/{code}", "/skill-tags/{ref}", "/tokens/{token_id}",
              "/work-order-types/{key}/fields/{field_key}"):
        assert V1 + p in paths
