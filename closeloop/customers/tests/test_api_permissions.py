"""The permission matrix for customers, sites, contacts, assets and contracts:
every endpoint x every role x own / other organisation.

Staff read everything (engineers no contracts); admin, manager and dispatcher
write; a customer contact sees only their organisation (org A for cust_a): another
organisation's object is a 404 and never appears in a list.
"""

import pytest

from closeloop.customers.models import Asset, Contact, Customer, ServiceContract, Site

V1 = "/api/v1"
PERSONAS = ["admin", "manager", "dispatcher", "finance", "eng_x", "cust_a"]
WRITERS = {"admin", "manager", "dispatcher"}
KINDS = ["customer", "site", "contact", "asset", "contracts"]


def path(w, kind: str, org: str) -> str:
    a = org == "a"
    return V1 + {
        "customer": f"/customers/org-{org}",
        "site": f"/sites/site-{org}",
        "contact": f"/contacts/{(w.contact_a if a else w.contact_b).pk}",
        "asset": f"/assets/SN-{org.upper()}-1",
        "contracts": f"/customers/org-{org}/contracts",
    }[kind]


def expected_read(persona: str, kind: str, org: str) -> int:
    if persona == "cust_a":
        return 200 if org == "a" else 404
    if persona == "eng_x" and kind == "contracts":
        return 403
    return 200


@pytest.mark.parametrize("org", ["a", "b"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("persona", PERSONAS)
def test_read(org_world, persona, kind, org):
    r = org_world.api(getattr(org_world, persona)).get(path(org_world, kind, org))
    assert r.status_code == expected_read(persona, kind, org), r.content


LISTS = {  # list path, key of an item, org A's keys, org B's keys
    "customer": ("/customers", "code", {"org-a"}, {"org-b"}),
    "site": ("/sites", "code", {"site-a"}, {"site-b"}),
    "contact": ("/contacts", "name", {"王护士"}, {"李医生"}),
    "asset": ("/assets", "serial_number", {"SN-A-1"}, {"SN-B-1"}),
}


@pytest.mark.parametrize("kind", list(LISTS))
@pytest.mark.parametrize("persona", PERSONAS)
def test_lists_show_exactly_what_one_may_see(org_world, persona, kind):
    url, key, own, other = LISTS[kind]
    api = org_world.api(getattr(org_world, persona))
    got = {item[key] for item in api.get(V1 + url, {"limit": 100}).json()["items"]}
    assert got == (own if persona == "cust_a" else own | other)
    # Filtering on the other organisation gives nothing rather than an error that confirms it.
    filtered = api.get(V1 + url, {"customer": "org-b"} if kind != "customer" else {"q": "org-b"})
    assert filtered.status_code == 200
    assert (filtered.json()["items"] == []) == (persona == "cust_a")


def test_contract_list_for_customer_contact(org_world):
    api = org_world.api(org_world.cust_a)
    assert [k["number"] for k in api.get(f"{V1}/customers/org-a/contracts").json()["items"]] == ["SC-A-1"]


PATCHES = {
    "customer": {"name": "改名"},
    "site": {"name": "改名"},
    "contact": {"title": "改名"},
    "asset": {"name": "改名"},
}


def expected_write(persona: str, org: str, ok: int) -> int:
    if persona in WRITERS:
        return ok
    if persona == "cust_a" and org == "b":
        return 404
    return 403


@pytest.mark.parametrize("org", ["a", "b"])
@pytest.mark.parametrize("kind", list(PATCHES))
@pytest.mark.parametrize("persona", PERSONAS)
def test_patch(org_world, persona, kind, org):
    admin = org_world.api(org_world.admin)
    url = path(org_world, kind, org)
    before = admin.get(url).json()
    r = org_world.api(getattr(org_world, persona)).patch(url, PATCHES[kind])
    want = expected_write(persona, org, 200)
    assert r.status_code == want, r.content
    if want != 200:
        assert admin.get(url).json() == before


def _deletable(w, kind: str, org: str):
    """A row of org A or B that nothing refers to, so only the permission decides; customers
    are the real org A / B, which their sites refer to (writers get 409, nothing is deleted)."""
    owner = w.org_a if org == "a" else w.org_b
    if kind == "contact":
        c = Contact.objects.create(customer=owner, name="临时")
        return c, f"/contacts/{c.pk}", 204
    if kind == "asset":
        return Asset.objects.create(customer=owner, name="临时", serial_number="TMP-1"), "/assets/TMP-1", 204
    if kind == "site":
        return Site.objects.create(customer=owner, code="tmp-site", name="临时"), "/sites/tmp-site", 204
    return owner, f"/customers/{owner.code}", 409


@pytest.mark.parametrize("org", ["a", "b"])
@pytest.mark.parametrize("kind", ["contact", "asset", "site", "customer"])
@pytest.mark.parametrize("persona", PERSONAS)
def test_delete(world, persona, kind, org):
    obj, url, ok = _deletable(world, kind, org)
    r = world.api(getattr(world, persona)).delete(V1 + url)
    want = expected_write(persona, org, ok)
    assert r.status_code == want, r.content
    assert type(obj).objects.filter(pk=obj.pk).exists() == (want != 204)


CREATES = {
    "customer": ("/customers", {"code": "new-c", "name": "新客户"}),
    "site": ("/sites", {"customer": "org-{org}", "code": "new-s", "name": "新院区"}),
    "contact": ("/contacts", {"customer": "org-{org}", "name": "新联系人"}),
    "asset": ("/assets", {"customer": "org-{org}", "serial_number": "NEW-1", "name": "新设备"}),
    "contracts": ("/customers/org-{org}/contracts", {"number": "NEW-K", "starts_on": "2026-01-01",
                                                      "ends_on": "2026-06-30"}),
}
MODEL = {"customer": Customer, "site": Site, "contact": Contact, "asset": Asset, "contracts": ServiceContract}


@pytest.mark.parametrize("org", ["a", "b"])
@pytest.mark.parametrize("kind", list(CREATES))
@pytest.mark.parametrize("persona", PERSONAS)
def test_create(world, persona, kind, org):
    url, body = CREATES[kind]
    url = url.format(org=org)
    body = {k: v.format(org=org) if isinstance(v, str) else v for k, v in body.items()}
    before = MODEL[kind].objects.count()
    r = world.api(getattr(world, persona)).post(V1 + url, body)
    want = 201 if persona in WRITERS else 403
    if persona == "cust_a" and kind == "contracts" and org == "b":
        want = 404  # the customer in the path is not theirs
    assert r.status_code == want, r.content
    assert MODEL[kind].objects.count() == before + (want == 201)


def test_scopes(world):
    read_only = world.api(world.admin, scopes=["read"])
    assert read_only.get(f"{V1}/customers").status_code == 200
    assert read_only.post(f"{V1}/customers", {"code": "n", "name": "n"}).status_code == 403
    assert read_only.patch(f"{V1}/customers/org-a", {"name": "n"}).status_code == 403
    assert read_only.delete(f"{V1}/sites/site-a").status_code == 403
    assert Customer.objects.get(code="org-a").name == "甲医院"


def test_anonymous_is_401(world):
    anon = world.api(None)
    for url in ("/customers", "/sites", "/contacts", "/assets", "/customers/org-a/contracts"):
        assert anon.get(V1 + url).status_code == 401


def test_customer_contact_cannot_point_at_another_org_in_filters_or_refs(world):
    """A dispatcher may reference anything; references resolve within what the actor may see."""
    api = world.api(world.cust_a)
    assert api.get(f"{V1}/assets", {"site": "site-b"}).json()["items"] == []
    assert api.get(f"{V1}/contacts", {"site": "site-b"}).json()["items"] == []
