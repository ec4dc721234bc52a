"""The mailbox API and pages: validation names each field, the password never leaves, admins only."""

import pytest

from closeloop.audit.models import AuditRecord
from closeloop.mailin.models import Mailbox

pytestmark = pytest.mark.django_db

GOOD = {"name": "报修", "kind": "imap", "address": "desk@example.com", "type": "repair", "host": "imap.example.com",
        "security": "ssl", "username": "desk", "password": "s3cret-pw"}


def test_bad_mailbox_config_is_a_422_naming_each_field(world):
    api = world.api(world.admin)
    r = api.post("/api/v1/mailboxes", {"name": "", "kind": "imap", "address": "not-an-address", "type": "nope",
                                       "team": "nope", "port": 70000, "security": "tls1", "poll_seconds": 1})
    assert r.status_code == 422
    fields = sorted(e["field"] for e in r.json()["errors"])
    assert fields == ["address", "host", "name", "password", "poll_seconds", "port", "security", "team", "type",
                      "username"]
    assert Mailbox.objects.count() == 0
    r = api.post("/api/v1/mailboxes", {**GOOD, "port": "993"})  # no coercion
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "port"
    r = api.post("/api/v1/mailboxes", {**GOOD, "colour": "red"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "colour"


def test_password_is_stored_encrypted_and_never_returned(world):
    api = world.api(world.admin)
    r = api.post("/api/v1/mailboxes", GOOD)
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["password_set"] is True and "password" not in body and body["port"] == 993
    mb = Mailbox.objects.get()
    assert "s3cret-pw" not in mb.password_encrypted
    assert "s3cret-pw" not in str(AuditRecord.objects.filter(kind="mailbox").values_list("after", flat=True)[0])
    r = api.patch(f"/api/v1/mailboxes/{mb.pk}", {"folder": "报修", "password": ""})
    assert r.status_code == 200 and r.json()["folder"] == "报修"
    mb.refresh_from_db()
    from closeloop.mailin import secrets
    assert secrets.decrypt(mb.password_encrypted) == "s3cret-pw"
    assert "s3cret-pw" not in api.get(f"/api/v1/mailboxes/{mb.pk}").content.decode()
    assert api.delete(f"/api/v1/mailboxes/{mb.pk}").status_code == 204
    assert Mailbox.objects.count() == 0


def test_smtp_mailbox_needs_no_imap_fields_and_addresses_are_unique(world):
    api = world.api(world.admin)
    data = {"name": "SMTP", "kind": "smtp", "address": "Service@Example.com", "type": "repair"}
    r = api.post("/api/v1/mailboxes", data)
    assert r.status_code == 201 and r.json()["address"] == "service@example.com"
    r = api.post("/api/v1/mailboxes", data)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "address"


def test_console_form_shows_field_errors(world):
    c = world.browser_client(world.admin)
    r = c.post("/settings/mailboxes/", {"name": "", "kind": "imap", "address": "x", "type": "", "port": "abc"})
    assert r.status_code == 422
    html = r.content.decode()
    for f in ("name", "address", "type", "port", "host", "username", "password"):
        assert f'data-testid="error-{f}"' in html
    r = c.post("/settings/mailboxes/", {"name": "S", "kind": "smtp", "address": "s@example.com", "type": "repair",
                                        "active": "on"})
    assert r.status_code == 302
    assert Mailbox.objects.get().active


def test_only_admins_see_mailboxes(world):
    for user in (world.manager, world.dispatcher, world.eng_x, world.cust_a):
        assert world.api(user).get("/api/v1/mailboxes").status_code == 403
    assert world.api(world.admin).get("/api/v1/mailboxes").status_code == 200
