"""Service contracts over the API: what the console's Settings → Service contracts does (list and
search, add, edit, deactivate, reactivate), through the same services, with the same rules.

The permission matrix: every role (and anonymous) x every contract endpoint x a contract of the
customer contact's own organisation (A) or of another (B). Staff but engineers read every
contract; admin, manager and dispatcher write (the console's pages are for admins and managers,
dispatchers keep the API, as for customers); a customer contact reads only their organisation's
and writes nothing; another organisation's contract is a 404 for them, never a 403.
"""

from datetime import date

import pytest
import time_machine

from closeloop.customers.models import ServiceContract

V1 = "/api/v1"
PERSONAS = ["admin", "manager", "dispatcher", "finance", "eng_x", "cust_a", "anonymous"]
WRITERS = {"admin", "manager", "dispatcher"}
READERS = WRITERS | {"finance"}


def errors(r) -> dict:
    assert r["Content-Type"] == "application/problem+json", r.content
    return {e["field"]: e for e in r.json().get("errors", [])}


def client(w, persona):
    return w.api(None if persona == "anonymous" else getattr(w, persona))


def number(org: str) -> str:
    return f"SC-{org.upper()}-1"


def expected_read(persona: str, org: str) -> int:
    if persona == "anonymous":
        return 401
    if persona == "cust_a":
        return 200 if org == "a" else 404
    return 200 if persona in READERS else 403


def expected_write(persona: str, org: str, ok: int) -> int:
    if persona == "anonymous":
        return 401
    if persona in WRITERS:
        return ok
    if persona == "cust_a" and org == "b":
        return 404  # not theirs: as if it did not exist
    return 403


def snapshot(number_: str) -> tuple:
    return tuple(ServiceContract.objects.filter(number=number_).values_list(
        "customer_id", "number", "tier", "starts_on", "ends_on", "is_active"))


# ---- the matrix ------------------------------------------------------------------------------

@pytest.mark.parametrize("org", ["a", "b"])
@pytest.mark.parametrize("persona", PERSONAS)
def test_get_one(org_world, persona, org):
    r = client(org_world, persona).get(f"{V1}/contracts/{number(org)}")
    assert r.status_code == expected_read(persona, org), r.content
    if r.status_code == 200:
        assert r.json()["number"] == number(org) and r.json()["customer"]["code"] == f"org-{org}"


@pytest.mark.parametrize("org", ["a", "b"])
@pytest.mark.parametrize("persona", PERSONAS)
def test_per_customer_list(org_world, persona, org):
    r = client(org_world, persona).get(f"{V1}/customers/org-{org}/contracts")
    want = expected_read(persona, org)
    assert r.status_code == want, r.content
    if want == 200:
        assert [k["number"] for k in r.json()["items"]] == [number(org)]


@pytest.mark.parametrize("persona", PERSONAS)
def test_list_shows_exactly_what_one_may_see(org_world, persona):
    api = client(org_world, persona)
    r = api.get(f"{V1}/contracts", {"limit": 100})
    want = expected_read(persona, "a")
    assert r.status_code == want, r.content
    if want != 200:
        return
    got = {k["number"] for k in r.json()["items"]}
    assert got == ({"SC-A-1"} if persona == "cust_a" else {"SC-A-1", "SC-B-1"})
    # Filtering on the other organisation (by code or by text) gives nothing rather than an error.
    for params in ({"customer": "org-b"}, {"q": "乙医院"}, {"q": "SC-B"}):
        items = api.get(f"{V1}/contracts", params).json()["items"]
        assert (items == []) == (persona == "cust_a"), params


PATCHES = {
    "edit": {"tier": "platinum", "ends_on": "2027-06-30"},
    "deactivate": {"active": False},
}


@pytest.mark.parametrize("org", ["a", "b"])
@pytest.mark.parametrize("change", list(PATCHES))
@pytest.mark.parametrize("persona", PERSONAS)
def test_patch(org_world, persona, change, org):
    before = snapshot(number(org))
    r = client(org_world, persona).patch(f"{V1}/contracts/{number(org)}", PATCHES[change])
    want = expected_write(persona, org, 200)
    assert r.status_code == want, r.content
    if want == 200:
        assert snapshot(number(org)) != before
    else:
        assert snapshot(number(org)) == before


@pytest.mark.parametrize("org", ["a", "b"])
@pytest.mark.parametrize("persona", PERSONAS)
def test_reactivate(org_world, persona, org):
    ServiceContract.objects.filter(number=number(org)).update(is_active=False)
    r = client(org_world, persona).patch(f"{V1}/contracts/{number(org)}", {"active": True})
    want = expected_write(persona, org, 200)
    assert r.status_code == want, r.content
    assert ServiceContract.objects.get(number=number(org)).is_active == (want == 200)


@pytest.mark.parametrize("org", ["a", "b"])
@pytest.mark.parametrize("persona", PERSONAS)
def test_delete(org_world, persona, org):
    r = client(org_world, persona).delete(f"{V1}/contracts/{number(org)}")
    want = expected_write(persona, org, 204)
    assert r.status_code == want, r.content
    assert ServiceContract.objects.filter(number=number(org)).exists() == (want != 204)


@pytest.mark.parametrize("org", ["a", "b"])
@pytest.mark.parametrize("persona", PERSONAS)
def test_create(org_world, persona, org):
    body = {"customer": f"org-{org}", "number": "NEW-K", "starts_on": "2026-01-01", "ends_on": "2026-06-30"}
    r = client(org_world, persona).post(f"{V1}/contracts", body)
    want = 401 if persona == "anonymous" else 201 if persona in WRITERS else 403
    assert r.status_code == want, r.content
    assert ServiceContract.objects.filter(number="NEW-K").exists() == (want == 201)


@pytest.mark.parametrize("org", ["a", "b"])
@pytest.mark.parametrize("persona", PERSONAS)
def test_create_under_a_customer(org_world, persona, org):
    body = {"number": "NEW-K", "starts_on": "2026-01-01", "ends_on": "2026-06-30"}
    r = client(org_world, persona).post(f"{V1}/customers/org-{org}/contracts", body)
    want = expected_write(persona, org, 201)
    assert r.status_code == want, r.content
    assert ServiceContract.objects.filter(number="NEW-K").exists() == (want == 201)


def test_scopes(org_world):
    read_only = org_world.api(org_world.admin, scopes=["read"])
    assert read_only.get(f"{V1}/contracts").status_code == 200
    assert read_only.get(f"{V1}/contracts/SC-A-1").status_code == 200
    assert read_only.post(f"{V1}/contracts", {"customer": "org-a", "number": "N", "starts_on": "2026-01-01",
                                              "ends_on": "2026-01-02"}).status_code == 403
    assert read_only.patch(f"{V1}/contracts/SC-A-1", {"active": False}).status_code == 403
    assert read_only.delete(f"{V1}/contracts/SC-A-1").status_code == 403
    assert snapshot("SC-A-1")[0][-1] is True


# ---- what the console does, over the API ------------------------------------------------------

def test_add_edit_deactivate_reactivate(world):
    api = world.api(world.manager)
    r = api.post(f"{V1}/contracts", {"customer": "org-a", "number": "HT-2027/01", "starts_on": "2027-01-01",
                                     "ends_on": "2027-12-31"})
    assert r.status_code == 201, r.content
    assert r["Location"] == f"{V1}/contracts/HT-2027/01"
    body = r.json()
    assert (body["tier"], body["active"], body["customer"]) == ("gold", True, {"code": "org-a", "name": "甲医院"})
    assert api.get(r["Location"]).json() == body

    r = api.patch(f"{V1}/contracts/HT-2027/01", {"number": "HT-2027/01-B", "tier": "platinum",
                                                 "ends_on": "2028-06-30", "customer": "org-b"})
    assert r.status_code == 200, r.content
    assert (r.json()["number"], r.json()["tier"], r.json()["ends_on"], r.json()["customer"]["code"]) == (
        "HT-2027/01-B", "platinum", "2028-06-30", "org-b")
    assert api.get(f"{V1}/contracts/HT-2027/01").status_code == 404

    r = api.patch(f"{V1}/contracts/HT-2027/01-B", {"active": False})
    assert r.status_code == 200 and r.json()["active"] is False
    # The console shows the same row deactivated, and offers to reactivate it.
    k = ServiceContract.objects.get(number="HT-2027/01-B")
    page = world.browser_client(world.manager).get(f"/settings/contracts/{k.pk}/").content.decode()
    assert 'data-testid="reactivate"' in page
    r = api.patch(f"{V1}/contracts/HT-2027/01-B", {"active": True})
    assert r.status_code == 200 and r.json()["active"] is True
    assert api.patch(f"{V1}/contracts/HT-2027/01-B", {}).json()["active"] is True  # an empty patch changes nothing


def test_filters_and_search(world):
    mk = ServiceContract.objects.create
    mk(customer=world.org_a, number="K-1", starts_on=date(2026, 1, 1), ends_on=date(2026, 3, 31))
    mk(customer=world.org_a, number="K-2", starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31), is_active=False)
    mk(customer=world.org_b, number="HT-9", starts_on=date(2026, 1, 1), ends_on=date(2026, 4, 1))
    api = world.api(world.dispatcher)

    def numbers(**params):
        r = api.get(f"{V1}/contracts", params)
        assert r.status_code == 200, r.content
        return [k["number"] for k in r.json()["items"]]

    assert numbers() == ["K-1", "K-2", "HT-9"]  # creation order, like every list
    assert numbers(customer="org-a") == ["K-1", "K-2"]
    assert numbers(active="true") == ["K-1", "HT-9"]
    assert numbers(active="false") == ["K-2"]
    assert numbers(expiring_before="2026-04-01") == ["K-1"]  # ends before that day
    assert numbers(expiring_before="2026-04-02") == ["K-1", "HT-9"]
    assert numbers(expiring_before="2026-04-02", active="true", customer="org-b") == ["HT-9"]
    assert numbers(q="乙医") == ["HT-9"]        # the customer's name
    assert numbers(q="org-a") == ["K-1", "K-2"]  # its code
    assert numbers(q="k-") == ["K-1", "K-2"]     # the number, any case
    assert numbers(customer="nobody") == []
    assert numbers(limit=1) == ["K-1"]
    r = api.get(f"{V1}/contracts", {"expiring_before": "next week"})
    assert r.status_code == 422 and "expiring_before" in errors(r)
    assert api.get(f"{V1}/contracts", {"active": "maybe"}).status_code == 422
    # The console's search finds the same rows.
    listing = world.browser_client(world.manager).get("/settings/contracts/?q=乙医").content.decode()
    assert "HT-9" in listing and "K-1" not in listing


def test_term_follows_the_date(org_world):
    api = org_world.api(org_world.finance)
    for day, term in (("2025-12-31", "not_started"), ("2026-06-01", "in_force"), ("2027-01-01", "ended")):
        with time_machine.travel(f"{day}T12:00:00+08:00", tick=False):
            assert api.get(f"{V1}/contracts/SC-A-1").json()["term"] == term, day


# ---- bad input: names the field, writes nothing ------------------------------------------------

@pytest.mark.parametrize("body,field", [
    ({"ends_on": "2025-01-01"}, "ends_on"),                          # before starts_on
    ({"starts_on": "2027-01-01"}, "ends_on"),                        # after the end
    ({"number": "SC-B-1"}, "number"),                                # taken
    ({"number": ""}, "number"),
    ({"number": None}, "number"),
    ({"number": "x" * 61}, "number"),
    ({"tier": "diamond"}, "tier"),
    ({"tier": None}, "tier"),
    ({"starts_on": None}, "starts_on"),
    ({"starts_on": "2026-02-30"}, "starts_on"),
    ({"customer": "nobody"}, "customer"),
    ({"customer": None}, "customer"),
    ({"active": "false"}, "active"),                                  # no coercion
    ({"colour": "red"}, "colour"),
    # one bad field spoils the whole patch: the good ones and the deactivation are not written
    ({"tier": "platinum", "active": False, "ends_on": "2020-01-01"}, "ends_on"),
    ({"number": "SC-A-2", "active": False, "customer": "nobody"}, "customer"),
])
def test_bad_patch_names_the_field_and_writes_nothing(org_world, body, field):
    before = snapshot("SC-A-1")
    r = org_world.api(org_world.admin).patch(f"{V1}/contracts/SC-A-1", body)
    assert r.status_code == 422, r.content
    assert field in errors(r), r.json()
    assert snapshot("SC-A-1") == before


def test_a_customer_contact_cannot_move_a_contract_even_into_their_org(org_world):
    r = org_world.api(org_world.cust_a).patch(f"{V1}/contracts/SC-A-1", {"customer": "org-a"})
    assert r.status_code == 403


def test_every_problem_of_a_new_contract_at_once(world):
    before = ServiceContract.objects.count()
    r = world.api(world.admin).post(f"{V1}/contracts", {"customer": "nobody", "number": "", "tier": "gold",
                                                        "starts_on": "2027-06-01", "ends_on": "2027-01-01"})
    assert r.status_code == 422
    assert {"customer", "number"} <= set(errors(r))
    r = world.api(world.admin).post(f"{V1}/contracts", {"customer": "org-a", "number": "N-1",
                                                        "starts_on": "2027-06-01", "ends_on": "2027-01-01"})
    assert r.status_code == 422 and "ends_on" in errors(r)
    r = world.api(world.admin).post(f"{V1}/contracts", {"number": "N-1", "starts_on": "2027-06-01",
                                                        "ends_on": "2027-07-01"})
    assert r.status_code == 422 and "customer" in errors(r)
    assert ServiceContract.objects.count() == before


def test_a_referenced_contract_is_not_deleted(org_world, monkeypatch):
    """Nothing refers to contracts yet; the delete goes through the same check as every other
    kind (core.validation.references, which follows any relation another app adds), so once
    something does, the contract is kept and the caller is told to deactivate it instead."""
    from closeloop.core import validation

    real = validation.references

    def referenced(obj, *, allow=frozenset()):
        if isinstance(obj, ServiceContract):
            return {"work orders": 2}
        return real(obj, allow=allow)

    monkeypatch.setattr(validation, "references", referenced)
    r = org_world.api(org_world.admin).delete(f"{V1}/contracts/SC-A-1")
    assert r.status_code == 409, r.content
    assert r.json()["references"] == {"work orders": 2}
    assert ServiceContract.objects.filter(number="SC-A-1").exists()


def test_unknown_contract_is_404(org_world):
    api = org_world.api(org_world.admin)
    assert api.get(f"{V1}/contracts/NOPE").status_code == 404
    assert api.patch(f"{V1}/contracts/NOPE", {"active": False}).status_code == 404
    assert api.delete(f"{V1}/contracts/NOPE").status_code == 404
