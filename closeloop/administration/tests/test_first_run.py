"""The first run: an empty installation leads to the administrator's form, once."""

import threading

import pytest
from django.db import connection
from django.test import Client

from closeloop.accounts.models import Role, User
from closeloop.administration import middleware, selectors, services
from closeloop.administration.models import CompanySettings
from closeloop.audit.models import AuditRecord
from closeloop.core.errors import Conflict, ValidationFailed

GOOD = {"name": "华东医疗设备服务有限公司", "time_zone": "Asia/Shanghai", "language": "zh-hans",
        "site_url": "https://service.example.com/", "username": "boss", "display_name": "李经理",
        "password": "a-long-Password-2026", "password2": "a-long-Password-2026"}


@pytest.fixture
def redirect_on(settings):
    settings.CLOSELOOP_FIRST_RUN_REDIRECT = True
    middleware.reset()
    yield
    middleware.reset()


@pytest.mark.django_db
def test_it_sends_every_page_to_the_first_run_form_on_an_empty_database(redirect_on):
    c = Client()
    for path in ("/", "/login/", "/work-orders/", "/settings/customers/"):
        r = c.get(path)
        assert r.status_code == 302 and r["Location"] == "/setup/", path
    assert c.get("/healthz").status_code == 200
    assert c.get("/api/v1/work-orders").status_code == 401
    assert c.get("/setup/").status_code == 200


@pytest.mark.django_db
def test_it_creates_the_admin_and_the_company_then_the_page_is_gone(redirect_on):
    c = Client()
    r = c.post("/setup/", GOOD)
    assert r.status_code == 302 and r["Location"] == "/settings/setup/"
    user = User.objects.get()
    assert user.username == "boss" and user.role == Role.ADMIN and user.is_superuser
    assert user.check_password(GOOD["password"]) and user.time_zone == "Asia/Shanghai"
    company = CompanySettings.objects.get()
    assert company.name == GOOD["name"] and company.site_url == "https://service.example.com"
    assert AuditRecord.objects.filter(kind="company", action="created").count() == 1
    assert c.get("/settings/setup/").status_code == 200  # logged in as the new admin
    assert c.get("/setup/").status_code == 404
    assert Client().get("/setup/").status_code == 404
    assert Client().post("/setup/", GOOD | {"username": "intruder"}).status_code == 404
    assert User.objects.count() == 1
    assert Client().get("/").status_code == 302 and Client().get("/login/").status_code == 200


@pytest.mark.django_db
def test_it_shows_each_problem_beside_its_field_and_creates_nothing(redirect_on):
    r = Client().post("/setup/", {"name": "", "time_zone": "Mars/Base", "language": "xx", "site_url": "ftp:/x",
                                  "username": "bad name!", "password": "123", "password2": "456"})
    assert r.status_code == 200
    html = r.content.decode()
    for field in ("name", "time_zone", "site_url", "username", "password", "password2"):
        assert f'data-testid="error-{field}"' in html, field
    assert not User.objects.exists() and not CompanySettings.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_second_first_run():
    services.do_first_run(data=GOOD)
    with pytest.raises(Conflict):
        services.do_first_run(data=GOOD | {"username": "second"})
    assert User.objects.count() == 1


@pytest.mark.django_db
def test_it_validates_the_company_fields():
    with pytest.raises(ValidationFailed) as e:
        services.do_first_run(data=GOOD | {"time_zone": "Nowhere/Land", "site_url": "not a url"})
    assert {p.field for p in e.value.problems} == {"time_zone", "site_url"}


@pytest.mark.django_db(transaction=True)
def test_two_visitors_at_once_make_one_admin():
    if connection.vendor == "sqlite" and "memory" in (connection.settings_dict.get("NAME") or "memory"):
        pytest.skip("an in-memory SQLite database is not shared between threads")
    barrier = threading.Barrier(2)
    results = []

    def visit(name):
        from django.db import connections
        try:
            barrier.wait()
            services.do_first_run(data=GOOD | {"username": name})
            results.append("ok")
        except Conflict:
            results.append("conflict")
        except Exception as e:  # noqa: BLE001 (a lock timeout on SQLite counts as a refusal)
            results.append(type(e).__name__)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=visit, args=(n,)) for n in ("first", "second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 1
    assert User.objects.count() == 1 and CompanySettings.objects.count() == 1


@pytest.mark.django_db
def test_the_company_url_is_the_fallback_for_links(settings, monkeypatch):
    settings.SITE_URL = ""
    monkeypatch.delenv("CLOSELOOP_SITE_URL", raising=False)
    assert selectors.site_url() == ""
    services.do_first_run(data=GOOD)
    assert selectors.site_url() == "https://service.example.com"
    from closeloop.customers import stickers
    assert stickers.site_url() == "https://service.example.com"
    settings.SITE_URL = "https://other.example"
    assert selectors.site_url() == "https://other.example"


@pytest.mark.django_db
def test_the_demo_database_is_not_a_first_run(world, redirect_on):
    assert not selectors.needs_first_run()
    assert Client().get("/setup/").status_code == 404
    assert Client().get("/login/").status_code == 200


def test_the_checklist_ticks_itself(world):
    services_done = {s.key: s.done for s in selectors.checklist()}
    assert services_done["customers"] and services_done["people"] and services_done["template"]
    assert not services_done["channel"]
    from closeloop.customers.models import Asset
    Asset.objects.all().delete()
    assert not {s.key: s.done for s in selectors.checklist()}["customers"]
