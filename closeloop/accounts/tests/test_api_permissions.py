"""The permission matrix for users, teams and skill tags: every endpoint x every role.

Staff read all; a customer contact reads only their organisation's users (others are
404) and no teams or skill tags (403). Only an administrator, with a token carrying
the `admin` scope, writes.
"""

import pytest

from closeloop.accounts.models import SkillTag, Team, User

V1 = "/api/v1"
PERSONAS = ["admin", "manager", "dispatcher", "finance", "eng_x", "cust_a"]

READS = {
    # path: expected status for cust_a (staff always 200)
    "/users": 200,
    "/users/eng_x": 404,
    "/users/cust_a": 200,
    "/users/cust_b": 404,
    "/teams": 403,
    "/teams/team-x": 403,
    "/skill-tags": 403,
    "/skill-tags/CT": 403,
    "/tokens": 200,
    "/me": 200,
}


@pytest.fixture
def people(world):
    SkillTag.objects.create(name="CT")
    return world


@pytest.mark.parametrize("url", list(READS))
@pytest.mark.parametrize("persona", PERSONAS)
def test_read(people, persona, url):
    r = people.api(getattr(people, persona)).get(V1 + url)
    assert r.status_code == (READS[url] if persona == "cust_a" else 200), r.content


@pytest.mark.parametrize("persona", PERSONAS)
def test_user_list_is_scoped(people, persona):
    got = {u["username"] for u in people.api(getattr(people, persona)).get(f"{V1}/users", {"limit": 100})
           .json()["items"]}
    if persona == "cust_a":
        assert got == {"cust_a"}
    else:
        assert got == set(User.objects.values_list("username", flat=True))


WRITES = [
    ("post", "/users", {"username": "newbie"}, 201),
    ("patch", "/users/eng_x", {"phone": "110"}, 200),
    ("patch", "/users/cust_b", {"phone": "110"}, 200),
    ("delete", "/users/eng_x2", None, 204),
    ("post", "/teams", {"code": "new", "name": "新"}, 201),
    ("patch", "/teams/team-y", {"region": "华南"}, 200),
    ("post", "/skill-tags", {"name": "新技能"}, 201),
    ("patch", "/skill-tags/CT", {"category": "影像"}, 200),
    ("delete", "/skill-tags/CT", None, 204),
]


def _state():
    return (sorted(User.objects.values_list("username", "phone")), sorted(Team.objects.values_list("code", "region")),
            sorted(SkillTag.objects.values_list("name", "category")))


@pytest.mark.parametrize("method,url,body,ok", WRITES, ids=[f"{m} {u}" for m, u, _b, _o in WRITES])
@pytest.mark.parametrize("persona", PERSONAS + ["admin_without_admin_scope"])
def test_write(people, persona, method, url, body, ok):
    if persona == "admin_without_admin_scope":
        api = people.api(people.admin, scopes=["read", "write"])
    else:
        api = people.api(getattr(people, persona))
    before = _state()
    r = getattr(api, method)(V1 + url, *([body] if body is not None else []))
    want = ok if persona == "admin" else 403
    assert r.status_code == want, r.content
    if want == 403:
        assert _state() == before
    else:
        assert _state() != before


def test_delete_team(people):
    Team.objects.create(code="empty", name="空")
    for persona in PERSONAS[1:]:
        assert people.api(getattr(people, persona)).delete(f"{V1}/teams/empty").status_code == 403
    assert people.api(people.admin).delete(f"{V1}/teams/empty").status_code == 204


def test_deactivated_user_token_stops_working(people):
    api = people.api(people.eng_x)
    assert api.get(f"{V1}/me").status_code == 200
    assert people.api(people.admin).patch(f"{V1}/users/eng_x", {"is_active": False}).status_code == 200
    assert api.get(f"{V1}/me").status_code == 401
