"""API tokens over the API: list your own, create (clear token shown once), revoke."""

from datetime import timedelta

from closeloop.accounts.models import ApiToken
from closeloop.accounts.services import hash_token
from closeloop.core.clock import now
from closeloop.core.models import IdempotencyRecord
from conftest import ApiClient

V1 = "/api/v1"


def errors(r) -> dict:
    return {e["field"]: e for e in r.json().get("errors", [])}


def test_create_use_list_and_revoke(world):
    api = world.api(world.eng_x)
    r = api.post(f"{V1}/tokens", {"name": "手机", "scopes": ["read"]})
    assert r.status_code == 201, r.content
    body = r.json()
    clear = body["token"]
    assert clear.startswith("cl_") and body["scopes"] == ["read"] and body["user"] == "eng_x"
    assert r["Cache-Control"] == "no-store"
    row = ApiToken.objects.get(pk=body["id"])
    assert row.token_hash == hash_token(clear) and clear not in str(row.__dict__)

    new = ApiClient(clear)
    assert new.get(f"{V1}/me").json()["username"] == "eng_x"
    assert new.post(f"{V1}/tokens", {}).status_code == 403  # read-only token: no writes

    listed = api.get(f"{V1}/tokens").json()["items"]
    assert body["id"] in [t["id"] for t in listed]
    assert all("token" not in t and "token_hash" not in t for t in listed)

    assert api.delete(f"{V1}/tokens/{body['id']}").status_code == 204
    assert new.get(f"{V1}/me").status_code == 401
    assert body["id"] not in [t["id"] for t in api.get(f"{V1}/tokens").json()["items"]]
    revoked = api.get(f"{V1}/tokens", {"include_revoked": "true"}).json()["items"]
    assert [t["revoked_at"] is not None for t in revoked if t["id"] == body["id"]] == [True]


def test_a_token_cannot_mint_more_than_it_has(world):
    reader = world.api(world.admin, scopes=["read", "write"])
    before = ApiToken.objects.count()
    r = reader.post(f"{V1}/tokens", {"scopes": ["admin"]})
    assert r.status_code == 422 and "scopes" in errors(r)
    assert ApiToken.objects.count() == before


def test_only_admins_hold_admin_tokens(world):
    r = world.api(world.manager).post(f"{V1}/tokens", {"scopes": ["admin"]})
    assert r.status_code == 422 and "scopes" in errors(r)


def test_bad_token_input(world):
    api = world.api(world.eng_x)
    before = ApiToken.objects.count()
    for body, field in (({"scopes": ["root"]}, "scopes[0]"), ({"name": "x" * 101}, "name"),
                        ({"owner": "x"}, "owner"), ({"expires_at": (now() - timedelta(days=1)).isoformat()},
                                                    "expires_at")):
        r = api.post(f"{V1}/tokens", body)
        assert r.status_code == 422 and field in errors(r), (body, r.content)
    assert ApiToken.objects.count() == before


def test_idempotency_key_is_refused_so_the_secret_is_never_stored(world):
    r = world.api(world.eng_x).post(f"{V1}/tokens", {"name": "x"}, headers={"Idempotency-Key": "k1"})
    assert r.status_code == 422 and "Idempotency-Key" in errors(r)
    assert not any(b"cl_" in bytes(rec.response_body or b"") for rec in IdempotencyRecord.objects.all())


def test_admin_sees_and_revokes_anyones_tokens(world):
    world.api(world.eng_x)
    tok = ApiToken.objects.get(user=world.eng_x)
    admin = world.api(world.admin)
    listed = admin.get(f"{V1}/tokens", {"user": "eng_x"}).json()["items"]
    assert [t["id"] for t in listed] == [tok.pk]
    assert admin.delete(f"{V1}/tokens/{tok.pk}").status_code == 204
    tok.refresh_from_db()
    assert tok.revoked_at is not None


def test_others_tokens_are_not_yours(world):
    world.api(world.eng_y)  # gives eng_y a token
    tok = ApiToken.objects.get(user=world.eng_y)
    for persona in ("eng_x", "manager", "cust_a"):
        api = world.api(getattr(world, persona))
        assert api.get(f"{V1}/tokens", {"user": "eng_y"}).status_code == 403
        assert api.delete(f"{V1}/tokens/{tok.pk}").status_code == 404
    # An admin whose token lacks the admin scope cannot either.
    weak_admin = world.api(world.admin, scopes=["read", "write"])
    assert weak_admin.get(f"{V1}/tokens", {"user": "eng_y"}).status_code == 403
    assert weak_admin.delete(f"{V1}/tokens/{tok.pk}").status_code == 403
    tok.refresh_from_db()
    assert tok.revoked_at is None
