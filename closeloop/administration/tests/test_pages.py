"""Who may use the administration pages and pickers, and what they do."""

import pytest
from django.test import Client

from closeloop.customers.models import Customer

# Every page and endpoint of this app with the outcome per persona. Administration is for admins and
# managers; the set-up checklist and company settings for admins only; the customer picker for
# everyone who may create work orders for any customer (admin, manager, dispatcher).
PERSONAS = ("anonymous", "cust_a", "eng_x", "dispatcher", "finance", "manager", "admin")
MATRIX = {
    ("GET", "/settings/setup/"): ("login", 404, 404, 404, 404, 404, 200),
    ("POST", "/settings/setup/"): ("login", 404, 404, 404, 404, 404, 302),
    ("GET", "/pick/customers?q=甲医"): ("login", 404, 404, 200, 404, 200, 200),
    ("GET", "/pick/sites?q=甲医"): ("login", 404, 404, 200, 404, 200, 200),
    ("GET", "/pick/assets?q=SN"): ("login", 404, 404, 200, 404, 200, 200),
    ("GET", "/pick/contacts?q=王"): ("login", 404, 404, 200, 404, 200, 200),
    ("GET", "/pick/engineers?q=eng"): ("login", 404, 404, 200, 404, 200, 200),
    ("GET", "/pick/teams?q=team"): ("login", 404, 404, 200, 404, 200, 200),
    ("GET", "/pick/nothing?q=x"): ("login", 404, 404, 404, 404, 404, 404),
    ("GET", "/setup/"): (404, 404, 404, 404, 404, 404, 404),
    ("POST", "/setup/"): (404, 404, 404, 404, 404, 404, 404),
}
# Reference data: customers, sites, contacts and assets for admins and managers; users, teams and
# skill tags for admins only (as the API: accounts.services.require_admin).
DATA = {"customers": "org-a", "sites": "site-a", "contacts": None, "assets": None, "contracts": None}
PEOPLE = {"users": "eng_x", "teams": "team-x", "skills": None}
for _kind, _ref in {**DATA, **PEOPLE}.items():
    _who = ("login", 404, 404, 404, 404, 200, 200) if _kind in DATA else ("login", 404, 404, 404, 404, 404, 200)
    _post = tuple(302 if x == 200 else x for x in _who)
    MATRIX[("GET", f"/settings/{_kind}/")] = _who
    MATRIX[("GET", f"/settings/{_kind}/new")] = _who
    MATRIX[("POST", f"/settings/{_kind}/new")] = tuple(200 if x == 302 else x for x in _post)  # empty: errors
    MATRIX[("GET", f"/settings/{_kind}/{{{_kind}}}/")] = _who
    if _kind in DATA:
        MATRIX[("POST", f"/settings/{_kind}/{{{_kind}}}/active")] = _post
    elif _kind != "users":  # users are deactivated in their form (Active), never deleted here
        MATRIX[("POST", f"/settings/{_kind}/{{{_kind}}}/delete")] = _post
BODIES = {
    "/settings/setup/": {"name": "公司", "time_zone": "Asia/Shanghai", "language": "zh-hans", "site_url": ""},
}


def _refs(world) -> dict:
    from datetime import date

    from closeloop.accounts.models import SkillTag
    from closeloop.customers.models import ServiceContract

    tag = SkillTag.objects.create(name="未用技能")
    contract = ServiceContract.objects.create(customer=world.org_a, number="HT-A-1", tier="gold",
                                              starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31))
    return {"contracts": str(contract.pk), "customers": "org-a", "sites": "site-a", "contacts": str(world.contact_a.pk),
            "assets": str(world.asset_a.pk), "users": "eng_x", "teams": "team-x", "skills": str(tag.pk)}


@pytest.mark.parametrize(("method", "template"), list(MATRIX))
def test_each_persona_gets_the_listed_outcome(world, method, template):
    from closeloop.administration.models import CompanySettings
    from closeloop.core.clock import now

    CompanySettings.objects.create(name="公司", time_zone="Asia/Shanghai", language="zh-hans", created_at=now())
    refs = _refs(world)
    path = template.format(**refs)
    wrong = []
    for persona, expected in zip(PERSONAS, MATRIX[(method, template)], strict=True):
        c = Client()
        if persona != "anonymous":
            c.force_login(getattr(world, persona))
        r = c.get(path) if method == "GET" else c.post(path.split("?")[0], BODIES.get(path, {"active": "1"}))
        got = "login" if r.status_code == 302 and "/login/" in r["Location"] else r.status_code
        if got != expected:
            wrong.append((persona, expected, got))
    assert not wrong


def test_a_manager_adds_and_edits_a_customer(world):
    c = world.browser_client(world.manager)
    r = c.post("/settings/customers/new", {"code": "zs-hosp", "name": "中山医院", "tier": "silver", "phone": ""})
    assert r.status_code == 302
    assert Customer.objects.get(code="zs-hosp").name == "中山医院"
    r = c.post("/settings/customers/zs-hosp/", {"code": "zs-hosp", "name": "复旦大学附属中山医院", "tier": "gold"})
    assert r.status_code == 302
    assert Customer.objects.get(code="zs-hosp").tier == "gold"
    r = c.get("/settings/customers/?q=中山")
    assert "复旦大学附属中山医院" in r.content.decode() and "甲医院" not in r.content.decode()


def test_bad_input_is_shown_beside_the_field_never_a_500(world):
    c = world.browser_client(world.admin)
    r = c.post("/settings/customers/new", {"code": "org-a", "name": "", "tier": "diamond", "phone": "abc"})
    assert r.status_code == 200
    html = r.content.decode()
    for field in ("code", "name", "tier", "phone"):
        assert f'data-testid="error-{field}"' in html, field
    assert c.get("/settings/customers/?cursor=garbage").status_code == 200
    assert c.get("/settings/customers/nope/").status_code == 404


def test_the_picker_finds_a_customer_by_two_chinese_characters(world):
    c = world.browser_client(world.dispatcher)
    got = c.get("/pick/customers", {"q": "甲医"}).json()["results"]
    assert [r["value"] for r in got] == ["org-a"]
    assert c.get("/pick/customers", {"q": "医院"}).json()["results"].__len__() == 2
    assert c.get("/pick/customers", {"q": ""}).json()["results"] == []
    assert c.get("/pick/customers", {"q": "org-b"}).json()["results"][0]["label"] == "乙医院"


def test_the_checklist_page_lists_the_steps_and_saves_the_company(world):
    from closeloop.administration.models import CompanySettings
    from closeloop.core.clock import now

    CompanySettings.objects.create(name="公司", time_zone="Asia/Shanghai", language="zh-hans", created_at=now())
    c = world.browser_client(world.admin)
    html = c.get("/settings/setup/").content.decode()
    assert 'data-testid="step-customers" data-done="1"' in html
    assert 'data-testid="step-channel" data-done="0"' in html
    r = c.post("/settings/setup/", {"name": "", "time_zone": "Asia/Shanghai", "language": "en", "site_url": "x"})
    assert r.status_code == 200 and 'data-testid="error-name"' in r.content.decode()
    r = c.post("/settings/setup/", {"name": "新名", "time_zone": "Asia/Tokyo", "language": "en", "site_url": ""})
    assert r.status_code == 302 and CompanySettings.objects.get().name == "新名"


def test_a_manager_keeps_a_customers_service_contracts(world):
    """Add from the customer's page, edit, deactivate and reactivate; the API reads the same rows."""
    from closeloop.customers.models import ServiceContract

    c = world.browser_client(world.manager)
    page = c.get("/settings/customers/org-a/").content.decode()
    assert 'data-testid="contracts"' in page and "/settings/contracts/new?customer=org-a" in page
    assert 'value="org-a"' in c.get("/settings/contracts/new?customer=org-a").content.decode()
    r = c.post("/settings/contracts/new", {"customer": "org-a", "number": "HT-2027/01", "tier": "",
                                           "starts_on": "2027-01-01", "ends_on": "2027-12-31"})
    assert r.status_code == 302 and r["Location"] == "/settings/customers/org-a/"
    k = ServiceContract.objects.get(number="HT-2027/01")
    assert (k.customer, k.tier, k.is_active) == (world.org_a, world.org_a.tier, True)  # empty tier: the customer's
    assert "HT-2027/01" in c.get("/settings/customers/org-a/").content.decode()
    r = c.post(f"/settings/contracts/{k.pk}/", {"customer": "org-a", "number": "HT-2027/01", "tier": "platinum",
                                               "starts_on": "2027-01-01", "ends_on": "2028-06-30"})
    assert r.status_code == 302
    k.refresh_from_db()
    assert (k.tier, str(k.ends_on)) == ("platinum", "2028-06-30")
    listing = c.get("/settings/contracts/?q=甲医院").content.decode()
    assert "HT-2027/01" in listing
    assert c.post(f"/settings/contracts/{k.pk}/active", {"active": "0"}).status_code == 302
    k.refresh_from_db()
    assert not k.is_active
    assert 'data-testid="reactivate"' in c.get(f"/settings/contracts/{k.pk}/").content.decode()
    c.post(f"/settings/contracts/{k.pk}/active", {"active": "1"})
    k.refresh_from_db()
    assert k.is_active
    assert "HT-2027/01" in c.get("/api/v1/customers/org-a/contracts").content.decode()  # the API reads the same


def test_bad_contract_input_names_each_field_and_writes_nothing(world):
    from closeloop.customers.models import ServiceContract

    c = world.browser_client(world.admin)
    before = ServiceContract.objects.count()
    r = c.post("/settings/contracts/new", {"customer": "nobody", "number": "", "tier": "diamond",
                                           "starts_on": "2027-13-01", "ends_on": ""})
    html = r.content.decode()
    assert r.status_code == 200
    for field in ("customer", "number", "tier", "starts_on", "ends_on"):
        assert f'data-testid="error-{field}"' in html, field
    r = c.post("/settings/contracts/new", {"customer": "org-a", "number": "HT-X", "starts_on": "2027-06-01",
                                           "ends_on": "2027-01-01"})
    assert 'data-testid="error-ends_on"' in r.content.decode()
    assert ServiceContract.objects.count() == before
    assert c.get("/settings/contracts/999999/").status_code == 404
    assert c.get("/settings/contracts/abc/").status_code == 404


def test_deactivating_a_customer_deactivates_its_contracts(world):
    from datetime import date

    from closeloop.customers import services
    from closeloop.customers.models import ServiceContract

    k = services.do_create_contract(actor=world.admin, customer=world.org_a,
                                    data={"number": "HT-9", "starts_on": date(2027, 1, 1), "ends_on": date(2027, 2, 1)})
    services.do_set_active(actor=world.admin, obj=world.org_a, active=False)
    assert not ServiceContract.objects.get(pk=k.pk).is_active
