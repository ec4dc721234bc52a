"""Who reads the audit log (admins only), its filters and paging, the console page."""

from datetime import timedelta

import pytest
import time_machine

from closeloop.accounts import services as accounts
from closeloop.audit.models import AuditRecord
from closeloop.core.clock import now
from closeloop.rules import services as rules

pytestmark = pytest.mark.django_db

ROLES = ["admin", "manager", "dispatcher", "finance", "eng_x", "cust_a", None]


@pytest.fixture
def changes(world):
    t0 = now()
    with time_machine.travel(t0 - timedelta(days=3), tick=False):
        accounts.do_add_team(actor=world.admin, data={"code": "north", "name": "North"})
    rules.do_save_keyword_library(actor=world.manager, name="urgent", data={"words": ["停机"]})
    accounts.do_edit_team(actor=world.admin, team=world.team_y, data={"region": "华南"})
    return world


@pytest.mark.parametrize("who", ROLES)
def test_only_administrators_read_the_log_from_the_api(changes, who):
    api = changes.api(getattr(changes, who) if who else None)
    r = api.get("/api/v1/audit")
    if who == "admin":
        assert r.status_code == 200
        assert len(r.json()["items"]) == AuditRecord.objects.count() > 0
    else:
        assert r.status_code == (401 if who is None else 403), r.content
        assert "items" not in r.json()


@pytest.mark.parametrize("who", ROLES)
def test_only_administrators_see_the_page(changes, who):
    from django.test import Client

    c = changes.browser_client(getattr(changes, who)) if who else Client()
    r = c.get("/settings/audit/")
    if who == "admin":
        assert r.status_code == 200
        assert "North" in r.content.decode()
    elif who is None:
        assert r.status_code == 302 and "/login" in r["Location"]
    else:
        assert r.status_code == 403  # the page says who may open it (templates/403.html)


def test_an_admin_token_of_a_demoted_admin_reads_nothing(changes):
    api = changes.api(changes.admin)
    changes.admin.role = "manager"
    changes.admin.save()
    assert api.get("/api/v1/audit").status_code == 403


def test_a_session_admin_reads_it_too(changes):
    c = changes.browser_client(changes.admin)
    assert c.get("/api/v1/audit").status_code == 200


def test_the_settings_menu_links_it_for_admins_only(changes):
    assert "/settings/audit/" in changes.browser_client(changes.admin).get("/settings/tokens/").content.decode()
    assert "/settings/audit/" not in changes.browser_client(changes.manager).get("/settings/tokens/").content.decode()


def test_filters_and_before_after(changes):
    api = changes.api(changes.admin)
    items = api.get("/api/v1/audit", {"kind": "team", "object": str(changes.team_y.pk)}).json()["items"]
    assert len(items) == 1
    it = items[0]
    assert (it["actor"]["username"], it["action"], it["label"]) == ("admin", "updated", changes.team_y.name)
    assert it["changes"] == [{"field": "region", "before": "", "after": "华南"}]
    assert it["before"]["region"] == "" and it["after"]["region"] == "华南"
    by_manager = api.get("/api/v1/audit", {"actor": "manager"}).json()["items"]
    assert [i["kind"] for i in by_manager] == ["keyword_library"]
    recent = api.get("/api/v1/audit", {"since": (now() - timedelta(days=1)).isoformat(), "kind": "team"}).json()
    assert [i["label"] for i in recent["items"]] == [changes.team_y.name]
    old = api.get("/api/v1/audit", {"until": (now() - timedelta(days=1)).isoformat()}).json()["items"]
    assert [i["label"] for i in old] == ["North"]
    assert api.get("/api/v1/audit", {"action": "created", "kind": "team"}).json()["items"][0]["label"] == "North"
    cli = api.get("/api/v1/audit", {"actor": "-", "kind": "api_token"}).json()["items"]
    assert cli and all(i["actor"] is None for i in cli)


def test_cursor_pages_newest_first(changes):
    api = changes.api(changes.admin)
    for i in range(5):
        accounts.do_create_skill_tag(actor=changes.admin, data={"name": f"tag{i}"})
    seen, cursor = [], None
    while True:
        body = api.get("/api/v1/audit", {"kind": "skill_tag", "limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [i["label"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == ["tag4", "tag3", "tag2", "tag1", "tag0"]
    bad = api.get("/api/v1/audit", {"cursor": "nonsense"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"


def test_an_api_write_records_its_request_id(world):
    api = world.api(world.admin)
    r = api.patch(f"/api/v1/teams/{world.team_x.code}", {"region": "东"}, headers={"X-Request-ID": "req-42.abc"})
    assert r.status_code == 200 and r["X-Request-ID"] == "req-42.abc"
    rec = AuditRecord.objects.get(kind="team")
    assert (rec.request_id, rec.actor, rec.after["region"]) == ("req-42.abc", world.admin, "东")
    r = api.patch(f"/api/v1/teams/{world.team_x.code}", {"region": "西"}, headers={"X-Request-ID": "bad id!"})
    assert r["X-Request-ID"] != "bad id!" and len(r["X-Request-ID"]) == 32
    assert AuditRecord.objects.filter(kind="team").order_by("-id")[0].request_id == r["X-Request-ID"]


def test_a_refused_api_write_leaves_no_record(world):
    api = world.api(world.admin)
    r = api.delete(f"/api/v1/teams/{world.team_x.code}")  # it has members
    assert r.status_code == 409
    assert not AuditRecord.objects.filter(kind="team").exists()


def test_the_page_shows_a_readable_diff_and_hides_secrets(changes):
    from closeloop.notify import services as notify

    ch = notify.do_create_channel(actor=changes.admin, data={
        "kind": "email", "name": "mail", "config": {"host": "smtp.example.com", "password": "hunter2",
                                                    "from_email": "wo@example.com"}})
    notify.do_update_channel(actor=changes.admin, channel=ch, data={"config": {**ch.config, "password": "x2"}})
    c = changes.browser_client(changes.admin)
    html = c.get("/settings/audit/", {"kind": "channel"}).content.decode()
    assert "hunter2" not in html and "x2</" not in html
    assert "config.password" in html
    html = c.get("/settings/audit/", {"kind": "team", "object": str(changes.team_y.pk)}).content.decode()
    assert "华南" in html and "region" in html and html.count('data-testid="audit-record"') == 1
    html = c.get("/settings/audit/", {"since": "2000-01-01", "until": "2000-01-02"}).content.decode()
    assert 'data-testid="audit-record"' not in html
