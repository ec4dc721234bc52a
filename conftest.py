"""Test personas and helpers shared by every app's tests.

Personas (STYLE.md): a customer of org A and of org B, an engineer of team X and of
team Y, a dispatcher, a manager, finance, an admin, and anonymous.
"""

import json
import os
import shutil

import pytest
from django.test import Client

from closeloop.accounts.models import Role, Team, User
from closeloop.accounts.services import do_create_token
from closeloop.customers.models import Asset, Contact, Customer, Site
from closeloop.workorders.models import CustomField, WorkOrderType

if os.environ.get("DATABASE_URL", "").startswith("postgres"):
    # Fail, don't skip, when PostgreSQL was asked for and is not there.
    import psycopg

    try:
        from urllib.parse import urlsplit

        parts = urlsplit(os.environ["DATABASE_URL"])
        psycopg.connect(host=parts.hostname, port=parts.port or 5432, user=parts.username or "postgres",
                        dbname="postgres", connect_timeout=5).close()
    except Exception as exc:  # pragma: no cover
        raise pytest.UsageError(f"PostgreSQL requested by DATABASE_URL is not reachable: {exc}")


@pytest.fixture(scope="session", autouse=True)
def _collected_static(tmp_path_factory):
    """Every test runs with the static files collected, as production serves them.

    DEBUG is off in tests, so `{% static %}` reads the manifest that `collectstatic`
    writes: a page naming a file that is not built fails here, not in production.
    """
    from django.core.management import call_command
    from django.test.utils import override_settings

    root = tmp_path_factory.mktemp("static")
    with override_settings(STATIC_ROOT=root):
        call_command("collectstatic", interactive=False, verbosity=0)
        yield root


class _AppServesStatic:
    """The live server's static handler that hands everything to the app, so WhiteNoise
    serves the collected, hashed files exactly as in production."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        return self.application(environ, start_response)


@pytest.fixture(autouse=True)
def _no_first_run_redirect(settings):
    """Tests that call pages on an empty database do not want the first-run redirect
    (administration.middleware); the first-run tests turn it back on."""
    settings.CLOSELOOP_FIRST_RUN_REDIRECT = False


@pytest.fixture(scope="session")
def live_server(request, _collected_static):
    from django.test.testcases import LiveServerThread
    from pytest_django.live_server_helper import LiveServer

    server = LiveServer("localhost", start=False)
    server.thread = LiveServerThread("localhost", static_handler=_AppServesStatic,
                                     connections_override=server.thread.connections_override)
    server.thread.daemon = True
    server.start()
    request.addfinalizer(server.stop)
    return server


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counts (core.ratelimit) and other cached values start empty in every test."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    # Argon2 (production) costs ~50 ms a hash; tests that check hashing override this back.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The demo marker is cached per process; each test starts from its own database state.
    from closeloop.core.demo_database import forget_cached_marker

    forget_cached_marker()
    from closeloop.fieldwork.gates import forget_close_steps  # per-process, like the marker

    forget_close_steps()
    from closeloop.core.refcache import forget_all  # per-process reference data (SLA policies, rules...)

    forget_all()
    yield
    shutil.rmtree(tmp_path / "media", ignore_errors=True)


class ApiClient:
    """A JSON client that sends a bearer token, like an integrator would."""

    def __init__(self, token: str | None):
        self.client = Client()
        self.token = token

    def _headers(self, headers):
        h = dict(headers or {})
        if self.token:
            h.setdefault("Authorization", f"Bearer {self.token}")
        return h

    def get(self, path, params=None, headers=None):
        return self.client.get(path, params or {}, headers=self._headers(headers))

    def post(self, path, body=None, headers=None):
        return self.client.post(path, json.dumps(body if body is not None else {}), content_type="application/json",
                                headers=self._headers(headers))

    def patch(self, path, body=None, headers=None):
        return self.client.patch(path, json.dumps(body or {}), content_type="application/json",
                                 headers=self._headers(headers))

    def put(self, path, body=None, headers=None):
        return self.client.put(path, json.dumps(body or {}), content_type="application/json",
                               headers=self._headers(headers))

    def delete(self, path, headers=None):
        return self.client.delete(path, headers=self._headers(headers))

    def upload(self, path, files: dict, data=None, headers=None):
        return self.client.post(path, {**(data or {}), **files}, headers=self._headers(headers))


class World:
    """Two customer organisations, two teams, one of each role."""

    def __init__(self):
        self.team_x = Team.objects.create(name="Team X 华东", code="team-x")
        self.team_y = Team.objects.create(name="Team Y 华南", code="team-y", backup_team=self.team_x)
        self.org_a = Customer.objects.create(code="org-a", name="甲医院", tier="gold")
        self.org_b = Customer.objects.create(code="org-b", name="乙医院")
        self.site_a = Site.objects.create(customer=self.org_a, code="site-a", name="甲医院本部", grade="三级甲等",
                                          latitude=31.2, longitude=121.4)
        self.site_b = Site.objects.create(customer=self.org_b, code="site-b", name="乙医院本部")
        self.asset_a = Asset.objects.create(customer=self.org_a, site=self.site_a, name="呼吸机", model="V60",
                                            serial_number="SN-A-1")
        self.asset_b = Asset.objects.create(customer=self.org_b, site=self.site_b, name="监护仪", model="M3",
                                            serial_number="SN-B-1")
        self.contact_a = Contact.objects.create(customer=self.org_a, site=self.site_a, name="王护士",
                                                phone="13800000001")
        self.repair = WorkOrderType.objects.create(key="repair", name="维修", prefix="WD", kind="repair")
        self.production = WorkOrderType.objects.create(key="production", name="生产", prefix="PR", kind="production",
                                                       process_steps=["开模", "注塑", "质检"])
        CustomField.objects.create(wo_type=self.production, key="temperature", label="模温", kind="number",
                                   required=True, min_value=0, max_value=400)
        CustomField.objects.create(wo_type=self.production, key="shift", label="班次", kind="choice",
                                   choices=["早", "中", "晚"])
        mk = self._user
        self.admin = mk("admin", Role.ADMIN)
        self.manager = mk("manager", Role.MANAGER)
        self.dispatcher = mk("dispatcher", Role.DISPATCHER)
        self.finance = mk("finance", Role.FINANCE)
        self.eng_x = mk("eng_x", Role.ENGINEER, team=self.team_x)
        self.eng_x2 = mk("eng_x2", Role.ENGINEER, team=self.team_x)
        self.eng_y = mk("eng_y", Role.ENGINEER, team=self.team_y)
        self.cust_a = mk("cust_a", Role.CUSTOMER, customer=self.org_a)
        self.cust_b = mk("cust_b", Role.CUSTOMER, customer=self.org_b)
        self.team_x.supervisor = self.manager
        self.team_x.save()

    def _user(self, username, role, **kw):
        u = User(username=username, role=role, display_name=username, **kw)
        u.set_password("pw-" + username + "-123")
        u.save()
        return u

    def api(self, user, scopes=None) -> ApiClient:
        if user is None:
            return ApiClient(None)
        if scopes is None:
            scopes = ["read", "write", "admin"] if user.role == Role.ADMIN else ["read", "write"]
        _, clear = do_create_token(user=user, scopes=scopes)
        return ApiClient(clear)

    def browser_client(self, user) -> Client:
        c = Client()
        c.force_login(user)
        return c


@pytest.fixture
def world(db) -> World:
    return World()
