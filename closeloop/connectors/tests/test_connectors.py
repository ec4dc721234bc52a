"""Connected systems: configuration (422 naming fields, encrypted secrets), the parallel fetch with
time limits, the cache, and the context on the work order page and the lookup."""

import pytest
from django.core.cache import cache

from closeloop.audit.models import AuditRecord
from closeloop.connectors import context, crypto
from closeloop.connectors.models import Connector
from closeloop.fieldwork.models import CheckIn
from closeloop.workorders import services as wo_services

from .conftest import make_connector

CRM_FIELDS = [{"path": "stage", "label": "Stage"}, {"path": "last_message.text", "label": "Last message"},
              {"path": "conversation.-1.by", "label": "By"}]
ERP_FIELDS = [{"path": "delivery.promised", "label": "Promised"}, {"path": "lines[0].sku", "label": "Part"}]


@pytest.fixture
def wo(world):
    w = wo_services.do_create_work_order(actor=world.dispatcher, data={
        "type": "repair", "title": "服务器电源报警", "site": "site-a", "assignee": "eng_x",
        "external_refs": [{"system": "crm", "id": "CRM-60012345"}, {"system": "erp", "id": "PO-45000001"}]})
    return w


def _errors(r) -> set:
    return {p["field"] for p in r.json().get("errors", [])}


# ---- configuration ---------------------------------------------------------------------------------

def test_bad_config_is_422_naming_each_field_and_writes_nothing(world, fake):
    api = world.api(world.admin)
    r = api.post("/api/v1/connectors", {
        "key": "Bad Key", "name": "CRM", "url_template": "ftp://x/{id}", "link_template": "https://x/{nope}",
        "auth_secret": "s3cret", "fields": [{"path": "a..b", "label": ""}], "timeout_ms": 60000})
    assert r.status_code == 422, r.content
    assert {"key", "url_template", "link_template", "auth_header", "fields[0].path", "fields[0].label",
            "timeout_ms"} <= _errors(r)
    r = api.post("/api/v1/connectors", {"key": "crm", "name": "CRM", "url_template": f"{fake.base}/crm/{{external_id}}",
                                        "fields": []})
    assert r.status_code == 422 and {"ref_system", "fields"} <= _errors(r)
    assert not Connector.objects.exists() and not AuditRecord.objects.filter(kind="connector").exists()


def test_private_addresses_are_refused_unless_allowed(world, settings):
    settings.CLOSELOOP_NOTIFY_PRIVATE_ALLOWLIST = []
    r = world.api(world.admin).post("/api/v1/connectors", {
        "key": "crm", "name": "CRM", "url_template": "http://127.0.0.1:9/crm/{code}", "fields": [{"path": "a", "label": "A"}]})
    assert r.status_code == 422 and _errors(r) == {"url_template"}


def test_the_secret_is_stored_encrypted_and_never_shown(world, fake):
    api = world.api(world.admin)
    r = api.post("/api/v1/connectors", {
        "key": "crm", "name": "CRM", "ref_system": "crm", "url_template": f"{fake.base}/crm/opportunities/{{external_id}}",
        "auth_header": "Authorization", "auth_secret": "Bearer demo-crm-token", "fields": CRM_FIELDS})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["auth_secret_set"] is True and "demo-crm-token" not in r.content.decode()
    c = Connector.objects.get()
    assert "demo-crm-token" not in c.auth_secret and crypto.decrypt(c.auth_secret) == "Bearer demo-crm-token"
    assert "demo-crm-token" not in str(list(AuditRecord.objects.filter(kind="connector").values()))
    assert "demo-crm-token" not in api.get(f"/api/v1/connectors/{c.pk}").content.decode()
    # a patch without the secret keeps it; clear_secret removes it
    r = api.patch(f"/api/v1/connectors/{c.pk}", {"name": "CRM 2"})
    assert r.status_code == 200 and r.json()["auth_secret_set"] is True
    r = api.patch(f"/api/v1/connectors/{c.pk}", {"clear_secret": True, "auth_header": ""})
    assert r.status_code == 200 and r.json()["auth_secret_set"] is False
    # the console form never puts it back into the page
    c2 = make_connector(world, fake, "erp", "/erp/purchases/{external_id}", ref_system="erp", secret="tok-123")
    page = world.browser_client(world.admin).get(f"/settings/connectors/{c2.pk}/")
    assert page.status_code == 200 and "tok-123" not in page.content.decode() and c2.auth_secret not in page.content.decode()


def test_only_admins_configure(world, fake):
    r = world.api(world.manager).post("/api/v1/connectors", {"key": "x", "name": "x", "url_template": f"{fake.base}/x/{{code}}",
                                                            "fields": [{"path": "a", "label": "A"}]})
    assert r.status_code == 403 and not Connector.objects.exists()


def test_console_form_names_the_field_and_saves(world, fake):
    c = world.browser_client(world.admin)
    r = c.post("/settings/connectors/new", {"key": "erp", "name": "ERP", "url_template": f"{fake.base}/erp/{{external_id}}",
                                           "timeout_ms": "1500", "order": "50", "enabled": "1",
                                           "field_label": ["Promised"], "field_path": ["delivery.promised"]})
    assert r.status_code == 422 and 'id="f-ref"' in r.content.decode() and "is-invalid" in r.content.decode()
    assert not Connector.objects.exists()
    r = c.post("/settings/connectors/new", {"key": "erp", "name": "ERP", "ref_system": "erp",
                                           "url_template": f"{fake.base}/erp/purchases/{{external_id}}",
                                           "timeout_ms": "1500", "order": "50", "enabled": "1",
                                           "field_label": ["Promised", ""], "field_path": ["delivery.promised", ""]})
    assert r.status_code == 302
    assert Connector.objects.get().fields == [{"path": "delivery.promised", "label": "Promised"}]


# ---- fetching ------------------------------------------------------------------------------------

def test_systems_side_by_side_one_slow_one_failing(world, fake, wo):
    make_connector(world, fake, "crm", "/crm/opportunities/{external_id}", ref_system="crm", fields=CRM_FIELDS,
                   secret="Bearer demo-crm-token", order=1)
    make_connector(world, fake, "erp", "/erp/purchases/{external_id}", ref_system="erp", fields=ERP_FIELDS, order=2)
    make_connector(world, fake, "slow", "/slow/{code}", timeout_ms=300, order=3)
    make_connector(world, fake, "broken", "/fail/{code}", order=4)
    make_connector(world, fake, "wms", "/erp/purchases/{external_id}", ref_system="wms", order=5)
    CheckIn.objects.create(work_order=wo, actor=world.eng_x, at=wo.created_at, latitude=31.2, longitude=121.4,
                           distance_m=35)
    out = {o.key: o for o in context.gather(wo)}
    assert list(out) == ["checkin", "crm", "erp", "slow", "broken", "wms"]
    assert out["checkin"].status == "ok" and any("31.20000" in v for _l, v in out["checkin"].fields)
    crm = dict(out["crm"].fields)
    assert out["crm"].status == "ok" and crm["Stage"] and crm["Last message"] and crm["By"]
    assert out["erp"].status == "ok" and dict(out["erp"].fields)["Part"] in {"PSU-650W", "FAN-120", "SNS-O2", "BAT-UPS"}
    assert out["slow"].status == "timeout" and out["slow"].retry
    assert out["broken"].status == "failed" and "500" in out["broken"].message and out["broken"].retry
    assert out["wms"].status == "not_linked" and not out["wms"].retry
    # the CRM got the decrypted secret; ids are the work order's refs and code
    assert ("/crm/opportunities/CRM-60012345", "Bearer demo-crm-token") in fake.hits
    assert f"/slow/{wo.code}" in fake.paths()


def test_wrong_secret_and_missing_record(world, fake, wo):
    make_connector(world, fake, "crm", "/crm/opportunities/{external_id}", ref_system="crm", secret="Bearer wrong")
    make_connector(world, fake, "erp", "/erp/purchases/MISSING-{external_id}", ref_system="erp")
    out = {o.key: o for o in context.gather(wo)}
    assert out["crm"].status == "failed" and "401" in out["crm"].message
    assert out["erp"].status == "no_record"


def test_a_secret_that_cannot_be_read_fails_that_system_only(world, fake, wo, settings):
    make_connector(world, fake, "crm", "/crm/opportunities/{external_id}", ref_system="crm", secret="Bearer demo-crm-token")
    make_connector(world, fake, "erp", "/erp/purchases/{external_id}", ref_system="erp")
    settings.SECRET_KEY = "another-key-" + "x" * 40
    settings.SECRET_KEY_FALLBACKS = []
    out = {o.key: o for o in context.gather(wo)}
    assert out["crm"].status == "failed" and "SECRET_KEY" in out["crm"].message
    assert out["erp"].status == "ok"


def test_answers_are_cached_and_retry_asks_again(world, fake, wo):
    c = make_connector(world, fake, "erp", "/erp/purchases/{external_id}", ref_system="erp", fields=ERP_FIELDS)
    make_connector(world, fake, "broken", "/fail/{code}")
    first = {o.key: o for o in context.gather(wo)}
    second = {o.key: o for o in context.gather(wo)}
    assert fake.paths().count("/erp/purchases/PO-45000001") == 1
    assert not first["erp"].cached and second["erp"].cached and second["erp"].fields == first["erp"].fields
    assert fake.paths().count(f"/fail/{wo.code}") == 2  # failures are not cached
    fresh = context.gather(wo, only="erp", fresh=True)
    assert [o.key for o in fresh] == ["erp"] and not fresh[0].cached
    assert fake.paths().count("/erp/purchases/PO-45000001") == 2
    # a changed configuration is a new cache entry
    from closeloop.connectors import services

    services.do_update_connector(actor=world.admin, connector=c, data={"fields": [{"path": "status", "label": "S"}]})
    assert [label for label, _v in context.gather(wo, only="erp")[0].fields] == ["S"]
    cache.clear()


def test_the_page_answers_when_a_system_does_not(world, fake, wo):
    """The acceptance test of the time limit: a system that sleeps far longer than its limit,
    the page still answers, with the others' records and "did not answer in time" for it."""
    make_connector(world, fake, "crm", "/crm/opportunities/{external_id}", ref_system="crm", fields=CRM_FIELDS,
                   secret="Bearer demo-crm-token", order=1)
    make_connector(world, fake, "slow", "/slow/{code}", timeout_ms=200, order=2)
    make_connector(world, fake, "broken", "/fail/{code}", order=3)
    client = world.browser_client(world.dispatcher)
    r = client.get(f"/connectors/context/{wo.code}/?wide=1")
    assert r.status_code == 200
    html = r.content.decode()
    assert 'data-system="crm" data-status="ok"' in html and "Stage" in html
    assert 'data-system="slow" data-status="timeout"' in html and 'data-testid="context-timeout"' in html
    assert 'data-system="broken" data-status="failed"' in html
    assert f"/connectors/context/{wo.code}/?system=slow&amp;fresh=1" in html
    assert fake.release.is_set() is False  # the slow system was still sleeping when the page answered
    one = client.get(f"/connectors/context/{wo.code}/?system=broken&fresh=1")
    assert one.status_code == 200 and one.content.decode().count('data-testid="context-system"') == 1
    api = world.api(world.dispatcher).get(f"/api/v1/work-orders/{wo.code}/context")
    assert api.status_code == 200
    assert {s["system"]: s["status"] for s in api.json()} == {"checkin": "no_record", "crm": "ok", "slow": "timeout",
                                                               "broken": "failed"}


def test_the_work_order_page_and_the_lookup_load_the_context_after_the_page(world, fake, wo):
    make_connector(world, fake, "erp", "/erp/purchases/{external_id}", ref_system="erp", fields=ERP_FIELDS)
    client = world.browser_client(world.dispatcher)
    for url in (f"/work-orders/{wo.code}/", f"/lookup/?q={wo.code}", "/lookup/?q=PO-45000001"):
        r = client.get(url)
        assert r.status_code == 200, url
        assert f'hx-get="/connectors/context/{wo.code}/' in r.content.decode(), url
    assert fake.hits == []  # neither page asked any system itself
    assert 'data-testid="context-panel"' not in client.get("/lookup/?q=nothing-like-it").content.decode()


def test_only_staff_who_see_the_work_order_see_its_context(world, fake, wo):
    make_connector(world, fake, "erp", "/erp/purchases/{external_id}", ref_system="erp")
    for user, status in ((world.eng_x, 200), (world.eng_y, 404), (world.cust_a, 404), (world.cust_b, 404),
                         (world.finance, 200)):
        assert world.browser_client(user).get(f"/connectors/context/{wo.code}/").status_code == status, user
        assert world.api(user).get(f"/api/v1/work-orders/{wo.code}/context").status_code == status, user
    page = world.browser_client(world.cust_a).get(f"/work-orders/{wo.code}/")
    assert 'data-testid="context-panel"' not in page.content.decode()
