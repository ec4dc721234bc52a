"""Users, teams and skill tags over the API: happy paths, bad input (names the
field, writes nothing), unknown fields, safe deletes."""

import pytest

from closeloop.accounts.models import EngineerSkill, Role, SkillTag, Team, User
from closeloop.workorders.tests.factories import make_wo

V1 = "/api/v1"


def errors(r) -> dict:
    assert r["Content-Type"] == "application/problem+json", r.content
    return {e["field"]: e for e in r.json().get("errors", [])}


@pytest.fixture
def tags(db):
    return [SkillTag.objects.create(name=n, category="医疗设备") for n in ("呼吸机", "CT", "PLC/DCS")]


# ---- users ---------------------------------------------------------------------------

def test_user_crud(world, tags):
    api = world.api(world.admin)
    r = api.post(f"{V1}/users", {"username": "li.lei", "display_name": "李雷", "role": "engineer", "team": "team-x",
                                 "email": "li@example.cn", "password": "Fix-it-fast-2026", "time_zone": "Asia/Shanghai",
                                 "skills": [{"tag": "呼吸机", "level": 4}, {"tag": tags[1].pk}]})
    assert r.status_code == 201, r.content
    assert r["Location"] == f"{V1}/users/li.lei"
    body = r.json()
    assert body["team"]["code"] == "team-x" and body["role"] == "engineer"
    assert sorted((s["tag"], s["level"]) for s in body["skills"]) == [("CT", 1), ("呼吸机", 4)]
    user = User.objects.get(username="li.lei")
    assert user.check_password("Fix-it-fast-2026")

    r = api.patch(f"{V1}/users/li.lei", {"phone": "13800001111", "skills": [{"tag": "CT", "level": 5}],
                                         "password": "Another-long-pass-9"})
    assert r.status_code == 200, r.content
    assert r.json()["skills"] == [{"tag": "CT", "level": 5}]
    user.refresh_from_db()
    assert user.phone == "13800001111" and user.check_password("Another-long-pass-9")
    assert user.display_name == "李雷"  # partial

    r = api.patch(f"{V1}/users/li.lei", {"is_active": False})
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert [u["username"] for u in api.get(f"{V1}/users", {"active": "false"}).json()["items"]] == ["li.lei"]

    assert api.delete(f"{V1}/users/li.lei").status_code == 204  # no history: tokens and skills go with it
    assert not EngineerSkill.objects.filter(user__username="li.lei").exists()


def test_customer_contact_user(world):
    api = world.api(world.admin)
    r = api.post(f"{V1}/users", {"username": "cust_a2", "role": "customer", "customer": "org-a"})
    assert r.status_code == 201, r.content
    assert r.json()["customer"]["code"] == "org-a"
    assert not User.objects.get(username="cust_a2").has_usable_password()  # token-only until a password is set


def test_user_list_filters(world):
    api = world.api(world.dispatcher)
    names = lambda **p: [u["username"] for u in api.get(f"{V1}/users", p).json()["items"]]  # noqa: E731
    assert names(role="engineer") == ["eng_x", "eng_x2", "eng_y"]
    assert names(team="team-x") == ["eng_x", "eng_x2"]
    assert names(role="customer", customer="org-b") == ["cust_b"]
    assert names(q="eng_x2") == ["eng_x2"]
    assert api.get(f"{V1}/users", {"role": "pilot"}).status_code == 422


def test_home_location_is_for_dispatch_only(world):
    world.eng_x.home_latitude, world.eng_x.home_longitude = 31.2, 121.5
    world.eng_x.save()
    assert world.api(world.dispatcher).get(f"{V1}/users/eng_x").json()["home_latitude"] == 31.2
    assert world.api(world.eng_x).get(f"{V1}/users/eng_x").json()["home_latitude"] == 31.2
    assert world.api(world.eng_y).get(f"{V1}/users/eng_x").json()["home_latitude"] is None
    assert world.api(world.finance).get(f"{V1}/users/eng_x").json()["home_base"] is None


USER_CREATE_BAD = [
    ({"username": "eng_x"}, "username"),
    ({"username": "ENG_X"}, "username"),  # case-insensitively taken
    ({"username": "has space"}, "username"),
    ({"username": "ok", "role": "customer"}, "customer"),
    ({"username": "ok", "role": "engineer", "customer": "org-a"}, "customer"),
    ({"username": "ok", "customer": "nope", "role": "customer"}, "customer"),
    ({"username": "ok", "team": "nope"}, "team"),
    ({"username": "ok", "email": "nope"}, "email"),
    ({"username": "ok", "password": "123"}, "password"),
    ({"username": "ok", "password": "password"}, "password"),  # too common
    ({"username": "ok", "home_latitude": 120}, "home_latitude"),
    ({"username": "ok", "time_zone": "Mars/Olympus"}, "time_zone"),
    ({"username": "ok", "language": "tlh"}, "language"),
    ({"username": "ok", "skills": [{"tag": "无此技能"}]}, "skills[0].tag"),
    ({"username": "ok", "role": "pilot"}, "role"),
    ({"role": "engineer"}, "username"),
]


@pytest.mark.parametrize("body,field", USER_CREATE_BAD, ids=[f for _b, f in USER_CREATE_BAD])
def test_bad_user_create(world, body, field):
    before = User.objects.count()
    r = world.api(world.admin).post(f"{V1}/users", body)
    assert r.status_code == 422, r.content
    assert field in errors(r), r.json()
    assert User.objects.count() == before


def test_password_similar_to_username_is_refused(world):
    r = world.api(world.admin).post(f"{V1}/users", {"username": "wangfang2026", "password": "wangfang2026"})
    assert r.status_code == 422 and "password" in errors(r)


USER_PATCH_BAD = [
    ({"username": "renamed"}, "username"),
    ({"role": "customer"}, "customer"),
    ({"team": "nope"}, "team"),
    ({"password": ""}, "password"),
    ({"skills": [{"tag": "CT", "level": 1}, {"tag": "CT", "level": 2}]}, "skills[1].tag"),
    ({"home_longitude": 181}, "home_longitude"),
]


@pytest.mark.parametrize("body,field", USER_PATCH_BAD, ids=[f for _b, f in USER_PATCH_BAD])
def test_bad_user_patch(world, tags, body, field):
    api = world.api(world.admin)
    before = api.get(f"{V1}/users/eng_x").json()
    pw = User.objects.get(username="eng_x").password
    r = api.patch(f"{V1}/users/eng_x", body)
    assert r.status_code == 422, r.content
    assert field in errors(r)
    assert api.get(f"{V1}/users/eng_x").json() == before
    assert User.objects.get(username="eng_x").password == pw


def test_admin_cannot_lock_themselves_out(world):
    api = world.api(world.admin)
    assert "role" in errors(api.patch(f"{V1}/users/admin", {"role": "manager"}))
    assert "is_active" in errors(api.patch(f"{V1}/users/admin", {"is_active": False}))
    assert api.delete(f"{V1}/users/admin").status_code == 409
    world.admin.refresh_from_db()
    assert world.admin.role == Role.ADMIN and world.admin.is_active


def test_user_with_history_is_not_deleted(world):
    make_wo(world, status="assigned")  # assigned to eng_x, created by the dispatcher
    api = world.api(world.admin)
    r = api.delete(f"{V1}/users/eng_x")
    assert r.status_code == 409, r.content
    assert r.json()["references"] == {"work orders": 1}
    assert api.delete(f"{V1}/users/manager").status_code == 409  # supervises team X
    assert User.objects.filter(username__in=["eng_x", "manager"]).count() == 2


# ---- teams ---------------------------------------------------------------------------

def test_team_crud(world):
    api = world.api(world.admin)
    r = api.post(f"{V1}/teams", {"code": "team-z", "name": "Team Z 华北", "parent": "team-x", "supervisor": "manager",
                                 "backup_team": "team-y", "region": "华北"})
    assert r.status_code == 201, r.content
    assert r["Location"] == f"{V1}/teams/team-z"
    assert r.json()["supervisor"]["username"] == "manager" and r.json()["parent"]["code"] == "team-x"
    r = api.patch(f"{V1}/teams/team-z", {"backup_team": None, "region": "京津冀"})
    assert r.status_code == 200 and r.json()["backup_team"] is None and r.json()["region"] == "京津冀"
    assert [t["code"] for t in api.get(f"{V1}/teams", {"q": "华北"}).json()["items"]] == ["team-z"]
    assert api.delete(f"{V1}/teams/team-z").status_code == 204


TEAM_BAD = [
    ("post", "/teams", {"code": "team-x", "name": "新"}, "code"),
    ("post", "/teams", {"code": "new", "name": "Team X 华东"}, "name"),
    ("post", "/teams", {"code": "new team", "name": "新"}, "code"),
    ("post", "/teams", {"code": "new", "name": "新", "supervisor": "cust_a"}, "supervisor"),
    ("post", "/teams", {"code": "new", "name": "新", "supervisor": "nobody"}, "supervisor"),
    ("post", "/teams", {"code": "new", "name": "新", "parent": "nope"}, "parent"),
    ("post", "/teams", {"code": "new", "name": "新", "members": []}, "members"),
    ("patch", "/teams/team-x", {"backup_team": "team-x"}, "backup_team"),
    ("patch", "/teams/team-x", {"parent": "team-x"}, "parent"),
    ("patch", "/teams/team-x", {"name": ""}, "name"),
    ("patch", "/teams/team-x", {"budget": 1}, "budget"),
]


@pytest.mark.parametrize("method,path,body,field", TEAM_BAD, ids=[f"{m}:{f}" for m, _p, _b, f in TEAM_BAD])
def test_bad_team_input(world, method, path, body, field):
    api = world.api(world.admin)
    before = (Team.objects.count(), api.get(f"{V1}/teams/team-x").json())
    r = getattr(api, method)(V1 + path, body)
    assert r.status_code == 422, r.content
    assert field in errors(r)
    assert (Team.objects.count(), api.get(f"{V1}/teams/team-x").json()) == before


def test_team_parent_cycle(world):
    api = world.api(world.admin)
    assert api.patch(f"{V1}/teams/team-y", {"parent": "team-x"}).status_code == 200
    r = api.patch(f"{V1}/teams/team-x", {"parent": "team-y"})
    assert r.status_code == 422 and errors(r)["parent"]["code"] == "cycle"


def test_team_in_use_is_not_deleted(world):
    r = world.api(world.admin).delete(f"{V1}/teams/team-x")
    assert r.status_code == 409
    assert r.json()["references"] == {"users": 2, "teams": 1}  # its members, and team Y's backup
    assert Team.objects.filter(code="team-x").exists()


# ---- skill tags ------------------------------------------------------------------------

def test_skill_tag_crud_by_name_or_id(world):
    api = world.api(world.admin)
    r = api.post(f"{V1}/skill-tags", {"name": "PLC/DCS", "category": "自动化"})
    assert r.status_code == 201, r.content
    tag_id = r.json()["id"]
    assert r["Location"] == f"{V1}/skill-tags/{tag_id}"
    assert api.get(f"{V1}/skill-tags/PLC/DCS").json()["id"] == tag_id
    assert api.get(f"{V1}/skill-tags/{tag_id}").json()["name"] == "PLC/DCS"
    r = api.patch(f"{V1}/skill-tags/{tag_id}", {"category": "工控"})
    assert r.status_code == 200 and r.json()["category"] == "工控"
    assert [t["name"] for t in api.get(f"{V1}/skill-tags", {"category": "工控"}).json()["items"]] == ["PLC/DCS"]
    assert api.delete(f"{V1}/skill-tags/PLC/DCS").status_code == 204
    assert api.get(f"{V1}/skill-tags/{tag_id}").status_code == 404


def test_skill_tag_held_is_not_deleted(world, tags):
    EngineerSkill.objects.create(user=world.eng_x, tag=tags[0], level=3)
    r = world.api(world.admin).delete(f"{V1}/skill-tags/呼吸机")
    assert r.status_code == 409 and SkillTag.objects.filter(name="呼吸机").exists()


@pytest.mark.parametrize("method,path,body,field", [
    ("post", "/skill-tags", {"name": "CT"}, "name"),
    ("post", "/skill-tags", {"name": ""}, "name"),
    ("post", "/skill-tags", {"name": "123"}, "name"),
    ("post", "/skill-tags", {"name": "x" * 101}, "name"),
    ("post", "/skill-tags", {"name": "新", "level": 3}, "level"),
    ("patch", "/skill-tags/CT", {"name": "呼吸机"}, "name"),
    ("patch", "/skill-tags/CT", {"colour": "red"}, "colour"),
], ids=lambda v: v if isinstance(v, str) and len(v) < 12 else None)
def test_bad_skill_tag_input(world, tags, method, path, body, field):
    api = world.api(world.admin)
    before = sorted(SkillTag.objects.values_list("name", "category"))
    r = getattr(api, method)(V1 + path, body)
    assert r.status_code == 422, r.content
    assert field in errors(r)
    assert sorted(SkillTag.objects.values_list("name", "category")) == before


@pytest.mark.parametrize("path,body", [
    ("/users", {"username": "ok", "nickname": "x"}),
    ("/teams", {"code": "ok", "name": "ok", "budget": 1}),
])
def test_unknown_fields_on_create(world, path, body):
    r = world.api(world.admin).post(V1 + path, body)
    assert r.status_code == 422
    assert [e["code"] for e in r.json()["errors"]] == ["extra_forbidden"]


def test_unknown_field_on_user_patch(world):
    r = world.api(world.admin).patch(f"{V1}/users/eng_x", {"nickname": "x"})
    assert r.status_code == 422 and "nickname" in errors(r)
