"""Permission matrix for the work order API: every endpoint × every persona × own /
other object. "own" is org A / team X (assigned to eng_x); "other" is org B / team Y.
A work order the caller may not see is a 404 on every path, never a 403.
"""

import io

import pytest

from closeloop.workorders.lifecycle import S

from .factories import make_wo

SEES = {  # persona -> which of the two work orders it can see
    "admin": {"own", "other"}, "manager": {"own", "other"}, "dispatcher": {"own", "other"},
    "finance": {"own", "other"}, "eng_x": {"own"}, "eng_x2": {"own"}, "eng_y": {"other"},
    "cust_a": {"own"}, "cust_b": {"other"},
}
EDITS = {"admin", "manager", "dispatcher"}  # may PATCH any visible work order (the assignee may too)
PERSONAS = list(SEES)


def _png():
    f = io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    f.name = "nameplate.png"
    return f


ENDPOINTS = {
    "get": lambda c, code: c.get(f"/api/v1/work-orders/{code}"),
    "timeline": lambda c, code: c.get(f"/api/v1/work-orders/{code}/timeline"),
    "attachments": lambda c, code: c.get(f"/api/v1/work-orders/{code}/attachments"),
    "patch": lambda c, code: c.patch(f"/api/v1/work-orders/{code}", {"description": "更新"}),
    "comment": lambda c, code: c.post(f"/api/v1/work-orders/{code}/comments", {"body": "进展如何?"}),
    "upload": lambda c, code: c.upload(f"/api/v1/work-orders/{code}/attachments", {"file": _png()}),
    "action_wait": lambda c, code: c.post(f"/api/v1/work-orders/{code}/actions/wait", {"reason": "parts"}),
    "external_ref": lambda c, code: c.post(f"/api/v1/work-orders/{code}/external-refs",
                                           {"system": "crm", "id": f"X-{code}"}),
}


def _expected(endpoint, persona, which):
    if which not in SEES[persona]:
        return 404
    if endpoint in ("get", "timeline", "attachments", "comment", "upload"):
        return 201 if endpoint in ("comment", "upload") else 200
    if endpoint in ("patch", "external_ref"):
        ok = persona in EDITS or (persona == "eng_x" and which == "own") or (persona == "eng_y" and which == "other")
        return (201 if endpoint == "external_ref" else 200) if ok else 403
    if endpoint == "action_wait":
        ok = persona in EDITS or (persona == "eng_x" and which == "own") or (persona == "eng_y" and which == "other")
        return 200 if ok else 403
    raise AssertionError(endpoint)


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_work_order_endpoint_matrix(world, endpoint):
    failures = []
    for persona in PERSONAS:
        client = world.api(getattr(world, persona))
        for which in ("own", "other"):
            wo = make_wo(world, status=S.IN_PROGRESS, org="a" if which == "own" else "b")
            r = ENDPOINTS[endpoint](client, wo.code)
            want = _expected(endpoint, persona, which)
            if r.status_code != want:
                failures.append((persona, which, want, r.status_code, r.content[:120]))
            if r.status_code >= 400:
                assert r["Content-Type"] == "application/problem+json"
    assert not failures, failures


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_anonymous_gets_401_everywhere(world, endpoint):
    wo = make_wo(world)
    r = ENDPOINTS[endpoint](world.api(None), wo.code)
    assert r.status_code == 401
    assert r["Content-Type"] == "application/problem+json"


def test_lists_and_search_show_only_visible_work_orders(world):
    own = make_wo(world, org="a", title="制冷机组报警")
    other = make_wo(world, org="b", title="制冷机组报警")
    for persona in PERSONAS:
        client = world.api(getattr(world, persona))
        for params in ({}, {"q": "制冷"}, {"status": "new"}, {"customer": "org-b"}, {"customer": "org-a"}):
            codes = {w["code"] for w in client.get("/api/v1/work-orders", params).json()["items"]}
            allowed = {own.code if "own" in SEES[persona] else None, other.code if "other" in SEES[persona] else None}
            assert codes <= allowed - {None}, (persona, params, codes)
        everything = {w["code"] for w in client.get("/api/v1/work-orders").json()["items"]}
        assert everything == {own.code if "own" in SEES[persona] else None,
                              other.code if "other" in SEES[persona] else None} - {None}, persona


def test_attachment_download_follows_visibility_and_public_flag(world):
    wo = make_wo(world, org="a")
    staff = world.api(world.dispatcher)
    internal = staff.upload(f"/api/v1/work-orders/{wo.code}/attachments", {"file": _png()}).json()
    public = staff.upload(f"/api/v1/work-orders/{wo.code}/attachments", {"file": _png()},
                          data={"public": "true"}).json()
    assert internal["public"] is False and public["public"] is True
    cust_a, cust_b = world.api(world.cust_a), world.api(world.cust_b)
    assert cust_a.get(internal["url"]).status_code == 404
    r = cust_a.get(public["url"])
    assert r.status_code == 200
    assert r["Content-Disposition"].startswith("attachment")
    assert r["X-Content-Type-Options"] == "nosniff"
    assert b"".join(r.streaming_content).startswith(b"\x89PNG")
    assert cust_b.get(public["url"]).status_code == 404
    assert [a["id"] for a in cust_a.get(f"/api/v1/work-orders/{wo.code}/attachments").json()] == [public["id"]]


def test_customers_see_only_the_public_timeline(world):
    wo = make_wo(world, org="a")
    staff = world.api(world.dispatcher)
    staff.post(f"/api/v1/work-orders/{wo.code}/comments", {"body": "内部: 客户难缠", "public": False})
    staff.post(f"/api/v1/work-orders/{wo.code}/comments", {"body": "已安排工程师", "public": True})
    bodies = [e["data"].get("body") for e in world.api(world.cust_a).get(
        f"/api/v1/work-orders/{wo.code}/timeline").json()["items"]]
    assert "已安排工程师" in bodies and "内部: 客户难缠" not in bodies
    # and a customer's own comment is always public
    world.api(world.cust_a).post(f"/api/v1/work-orders/{wo.code}/comments", {"body": "请尽快", "public": False})
    last = world.api(world.cust_a).get(f"/api/v1/work-orders/{wo.code}/timeline").json()["items"][-1]
    assert last["data"]["body"] == "请尽快" and last["public"] is True


def test_customer_creates_only_for_their_own_organisation(world):
    c = world.api(world.cust_a)
    r = c.post("/api/v1/work-orders", {"type": "repair", "title": "监护仪黑屏", "site": "site-a"})
    assert r.status_code == 201 and r.json()["customer"]["code"] == "org-a"
    r = c.post("/api/v1/work-orders", {"type": "repair", "title": "监护仪黑屏", "site": "site-b"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "site"
    r = c.post("/api/v1/work-orders", {"type": "repair", "title": "x", "customer": "org-b"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "customer"
    r = c.post("/api/v1/work-orders", {"type": "repair", "title": "x", "assignee": "eng_x"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "assignee"


def test_token_scopes(world):
    wo = make_wo(world)
    reader = world.api(world.dispatcher, scopes=["read"])
    assert reader.get(f"/api/v1/work-orders/{wo.code}").status_code == 200
    r = reader.post(f"/api/v1/work-orders/{wo.code}/comments", {"body": "x"})
    assert r.status_code == 403 and r.json()["type"].endswith("insufficient_scope")


def test_tokens_in_the_query_string_are_refused(world):
    from closeloop.accounts.services import do_create_token

    _, clear = do_create_token(user=world.dispatcher)
    wo = make_wo(world)
    c = world.api(None)
    r = c.get(f"/api/v1/work-orders/{wo.code}", {"access_token": clear})
    assert r.status_code in (400, 401)
    r = c.get(f"/api/v1/work-orders/{wo.code}", {"access_token": clear}, headers={"Authorization": f"Bearer {clear}"})
    assert r.status_code == 400


def test_revoked_and_expired_tokens_are_refused(world):
    from datetime import timedelta

    from closeloop.accounts.services import do_create_token, do_revoke_token
    from closeloop.core.clock import now

    wo = make_wo(world)
    token, clear = do_create_token(user=world.dispatcher)
    c = world.api(None)
    c.token = clear
    assert c.get(f"/api/v1/work-orders/{wo.code}").status_code == 200
    do_revoke_token(user=world.dispatcher, token_id=token.pk)
    assert c.get(f"/api/v1/work-orders/{wo.code}").status_code == 401
    _, c.token = do_create_token(user=world.dispatcher, expires_at=now() - timedelta(seconds=1))
    assert c.get(f"/api/v1/work-orders/{wo.code}").status_code == 401
    c.token = "cl_not-a-real-token"
    assert c.get(f"/api/v1/work-orders/{wo.code}").status_code == 401
