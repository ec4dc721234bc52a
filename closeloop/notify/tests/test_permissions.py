"""Permission matrix: every notifications endpoint × every role (× own/other where it applies)."""

from datetime import UTC, datetime

import pytest
from django.test import Client

from closeloop.notify.models import AckPolicy, Channel, Delivery, InboxItem

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
ROLES = ["admin", "manager", "dispatcher", "finance", "eng_x", "cust_a"]
ADMINS = {"admin", "manager"}


@pytest.fixture
def objs(world):
    ch = Channel.objects.create(kind="webhook", name="hook", config={"url": "https://example.com/h", "secret": "s"},
                                created_at=T0)
    d = Delivery.objects.create(key="k", event="x", medium="webhook", channel=ch, recipient="hook", created_at=T0,
                                scheduled_at=T0, updated_at=T0, status="failed")
    pol = AckPolicy.objects.create(name="p", priorities=["urgent"], steps=[{"after": 0, "do": "im"}])
    InboxItem.objects.create(user=world.eng_x, event="x", subject="for eng_x", created_at=T0)
    return {"ch": ch, "d": d, "pol": pol}


def _api_cases(o):
    c, d, p = o["ch"].pk, o["d"].pk, o["pol"].pk
    return [
        ("get", "/api/v1/notifications/channels", None, ADMINS),
        ("post", "/api/v1/notifications/channels", {"kind": "webhook", "name": "n2",
                                                     "config": {"url": "https://example.com/x"}}, ADMINS),
        ("get", f"/api/v1/notifications/channels/{c}", None, ADMINS),
        ("patch", f"/api/v1/notifications/channels/{c}", {"enabled": False}, ADMINS),
        ("post", f"/api/v1/notifications/channels/{c}/resume", {}, ADMINS),
        ("get", "/api/v1/notifications/deliveries", None, ADMINS),
        ("post", f"/api/v1/notifications/deliveries/{d}/redeliver", {}, ADMINS),
        ("get", "/api/v1/notifications/ack-policies", None, ADMINS | {"dispatcher"}),
        ("post", "/api/v1/notifications/ack-policies", {"name": "p2"}, ADMINS),
        ("patch", f"/api/v1/notifications/ack-policies/{p}", {"enabled": False}, ADMINS),
        ("get", "/api/v1/notifications/inbox", None, set(ROLES)),
        ("get", "/api/v1/notifications/preferences", None, set(ROLES)),
        ("put", "/api/v1/notifications/preferences", {"preferences": [{"medium": "email", "enabled": False}]},
         set(ROLES)),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_api_matrix(world, objs, role):
    client = world.api(getattr(world, role), ["read", "write"])
    for method, path, body, allowed in _api_cases(objs):
        r = getattr(client, method)(path, body) if body is not None else getattr(client, method)(path)
        ok = r.status_code in (200, 201)
        assert ok == (role in allowed), (role, method, path, r.status_code, r.content[:200])


def test_api_anonymous_and_secrets_masked(world, objs):
    anon = world.api(None, [])
    for method, path, body, _a in _api_cases(objs):
        r = getattr(anon, method)(path, body) if body is not None else getattr(anon, method)(path)
        assert r.status_code == 401, (method, path)
    r = world.api(world.admin, ["read"]).get(f"/api/v1/notifications/channels/{objs['ch'].pk}")
    assert r.json()["config"]["secret"] == "••••"


def test_inbox_is_own_only(world, objs):
    assert [i["subject"] for i in world.api(world.eng_x, ["read"]).get("/api/v1/notifications/inbox").json()[
        "items"]] == ["for eng_x"]
    assert world.api(world.eng_x2, ["read"]).get("/api/v1/notifications/inbox").json()["items"] == []
    # Marking someone else's message read does nothing.
    other = InboxItem.objects.get()
    r = world.api(world.eng_x2, ["read", "write"]).post("/api/v1/notifications/inbox/read", {"id": other.pk})
    assert r.json()["marked"] == 0


def test_read_scope_cannot_write(world, objs):
    r = world.api(world.admin, ["read"]).patch(f"/api/v1/notifications/channels/{objs['ch'].pk}", {"enabled": False})
    assert r.status_code == 403


def test_channel_validation_names_the_field(world):
    r = world.api(world.admin, ["read", "write"]).post("/api/v1/notifications/channels", {
        "kind": "sms_aliyun", "name": "a", "config": {"access_key_id": "x"}})
    assert r.status_code == 422
    fields = {p["field"] for p in r.json()["errors"]} if "errors" in r.json() else set(str(r.json()))
    assert "config.template_code" in str(fields)
    r = world.api(world.admin, ["read", "write"]).post("/api/v1/notifications/channels", {
        "kind": "fax", "name": "a", "config": {}})
    assert r.status_code == 422 and "kind" in r.content.decode()


@pytest.mark.parametrize("role", ROLES + [None])
def test_console_pages(world, objs, role):
    c = Client()
    if role:
        c.force_login(getattr(world, role))
    admin_pages = ["/notifications/channels/", f"/notifications/channels/{objs['ch'].pk}", "/notifications/deliveries/",
                   "/notifications/policies/"]
    for path in admin_pages:
        r = c.get(path)
        if role is None:
            assert r.status_code == 302, path
        else:
            assert r.status_code == (200 if role in ADMINS else 403), (role, path)
    for path in ("/notifications/", "/notifications/preferences", "/notifications/unread-badge"):
        assert c.get(path).status_code == (302 if role is None else 200), (role, path)
    r = c.post(f"/notifications/deliveries/{objs['d'].pk}/redeliver")
    assert r.status_code == (302 if role is None or role in ADMINS else 403)
