"""The approvals API, and its permission matrix: role × endpoint × own/other."""

import pytest

from closeloop.workorders.lifecycle import S
from closeloop.workorders.tests.factories import make_wo

from .. import handoffs, services
from .conftest import purchase_tree

ROLES = ["admin", "manager", "dispatcher", "finance", "eng_x", "eng_y", "cust_a", "cust_b"]


def test_request_decide_over_api(world, org, purchase_flow):
    wo = make_wo(world, status=S.IN_PROGRESS)
    eng = world.api(world.eng_x)
    r = eng.post(f"/api/v1/work-orders/{wo.code}/approvals",
                 {"action": "purchase_part", "data": {"amount": 1200, "part": "compressor"}})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "pending" and body["version"] == 1
    assert [s["key"] for s in body["steps"]] == ["lead2#1"]
    rid = body["id"]
    # Unknown fields are refused; a reject needs a comment.
    mgr = world.api(world.manager)
    r = mgr.post(f"/api/v1/approvals/{rid}/decisions", {"decision": "approve", "extra": 1})
    assert r.status_code == 422
    r = mgr.post(f"/api/v1/approvals/{rid}/decisions", {"decision": "reject"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "comment"
    inbox = mgr.get("/api/v1/approvals/inbox").json()
    assert [t["request"] for t in inbox["tasks"]] == [rid]
    r = mgr.post(f"/api/v1/approvals/{rid}/decisions", {"decision": "approve", "comment": "ok"})
    assert r.status_code == 201 and r.json()["steps"][-1]["key"] == "fin"
    fin = world.api(world.finance)
    r = fin.post(f"/api/v1/approvals/{rid}/decisions", {"decision": "approve"})
    assert r.status_code == 201 and r.json()["status"] == "approved"
    r = fin.post(f"/api/v1/approvals/{rid}/decisions", {"decision": "approve"})
    assert r.status_code == 409
    assert eng.get(f"/api/v1/work-orders/{wo.code}/approvals").json()[0]["status"] == "approved"


def test_guarded_action_error_over_api(world, org):
    flow = services.do_create_flow(actor=world.admin, data={"name": "Close", "action": "close", "tree": {
        "nodes": [{"id": "m", "type": "approver", "approvers": {"kind": "role", "role": "manager"}}]}})
    services.do_publish(actor=world.admin, flow=flow)
    wo = make_wo(world, status=S.INVOICED, invoice_number="I-1")
    r = world.api(world.dispatcher).post(f"/api/v1/work-orders/{wo.code}/actions/close", {},
                                         headers={"Accept-Language": "en"})
    assert r.status_code == 409 and r.json()["type"].endswith("approval_required")
    assert "request approval" in r.json()["title"]


def test_designer_api(world, org):
    api = world.api(world.manager)
    r = api.post("/api/v1/approval-flows", {"name": "Purchase", "action": "purchase_part", "tree": purchase_tree()})
    assert r.status_code == 201
    fid = r.json()["id"]
    bad = purchase_tree()
    bad["nodes"][0]["branches"][0]["condition"] = "amount <"
    r = api.post(f"/api/v1/approval-flows/{fid}/validate", {"tree": bad})
    assert r.json()["ok"] is False and r.json()["problems"][0]["node"] == "tier"
    r = api.post(f"/api/v1/approval-flows/{fid}/publish", {"tree": bad})
    assert r.status_code == 422 and r.json()["problems"][0]["node"] == "tier"
    r = api.post("/api/v1/approval-flows/check-condition", {"condition": "amount < 500 &&"})
    assert r.json()["ok"] is False and r.json()["error"]["column"]
    assert api.post("/api/v1/approval-flows/check-condition", {"condition": "amount < 500"}).json()["ok"]
    r = api.post(f"/api/v1/approval-flows/{fid}/preview", {"data": {"amount": 8000}, "requester": "eng_x"})
    keys = [s.get("key") for s in r.json()["path"] if s["t"] == "step"]
    assert keys == ["chain#1", "chain#2", "chain#3", "fin-large", "cc-store"]
    assert r.json()["path"][1]["approvers"] == [{"username": "manager", "name": "manager"}]
    assert api.put(f"/api/v1/approval-flows/{fid}/draft", {"tree": purchase_tree()}).status_code == 200
    r = api.post(f"/api/v1/approval-flows/{fid}/publish", {"note": "first"})
    assert r.status_code == 201 and r.json()["version"] == 1
    assert api.get(f"/api/v1/approval-flows/{fid}/report").json()["versions"][0]["requests"] == 0


def test_bypass_and_justify_api(world, org, purchase_flow):
    wo = make_wo(world, status=S.IN_PROGRESS)
    req = services.do_start_request(actor=world.eng_x, wo=wo, action="purchase_part", data={"amount": 100})
    r = world.api(world.eng_x).post(f"/api/v1/approvals/{req.pk}/bypass", {"reason": "urgent"})
    assert r.status_code == 403
    r = world.api(world.admin).post(f"/api/v1/approvals/{req.pk}/bypass", {"reason": "ICU"})
    assert r.status_code == 201
    jid = r.json()["justification"]
    assert world.api(world.manager).post(f"/api/v1/approvals/justifications/{jid}", {"text": "x"}).status_code == 404
    r = world.api(world.admin).post(f"/api/v1/approvals/justifications/{jid}", {"text": "ICU ventilator"})
    assert r.status_code == 200 and r.json()["status"] == "filed"
    rep = world.api(world.manager).get("/api/v1/approval-reports/bypass").json()
    assert rep["users"] == [{"user": "admin", "team": "", "bypasses": 1, "decisions": 0, "overdue": 0, "rate": 1.0}]


@pytest.mark.parametrize("who", ROLES)
def test_permission_matrix(world, org, purchase_flow, who):
    """Own = a work order the person sees (team X, org A); other = team Y / org B."""
    own = make_wo(world, status=S.IN_PROGRESS)
    other = make_wo(world, status=S.IN_PROGRESS, org="b")
    r_own = services.do_start_request(actor=world.eng_x, wo=own, action="purchase_part", data={"amount": 100})
    r_other = services.do_start_request(actor=world.eng_y, wo=other, action="purchase_part", data={"amount": 100})
    user = getattr(world, who)
    api = world.api(user)
    sees_all = who in ("admin", "manager", "dispatcher", "finance")
    staff = not who.startswith("cust")
    expect_own = 200 if staff and (sees_all or who == "eng_x") else (403 if not staff else 404)
    expect_other = 200 if sees_all or who == "eng_y" else (403 if not staff else 404)
    assert api.get(f"/api/v1/approvals/{r_own.pk}").status_code == expect_own
    assert api.get(f"/api/v1/approvals/{r_other.pk}").status_code == expect_other
    # Start: staff who see the work order; customers never.
    s = api.post(f"/api/v1/work-orders/{own.code}/approvals", {"action": "purchase_part", "data": {"amount": 1}})
    assert s.status_code == (409 if staff and (sees_all or who == "eng_x") else 403 if not staff else 404)
    # Decide: only the approver the step waits for (the manager, team X's supervisor).
    d = api.post(f"/api/v1/approvals/{r_own.pk}/decisions", {"decision": "approve"})
    assert d.status_code == {"manager": 201, "cust_a": 403, "cust_b": 403, "eng_y": 404}.get(who, 403)
    # Flows, reports: managers and administrators only.
    f = api.get("/api/v1/approval-flows")
    assert f.status_code == (200 if who in ("admin", "manager") else 403)
    p = api.post(f"/api/v1/approval-flows/{purchase_flow.pk}/publish", {})
    assert p.status_code == (201 if who in ("admin", "manager") else 403)
    assert api.get("/api/v1/approval-reports/bypass").status_code == (200 if who in ("admin", "manager") else 403)
    # Bypass: the flow's bypass roles (admin, manager).
    b = api.post(f"/api/v1/approvals/{r_other.pk}/bypass", {"reason": "x"})
    assert b.status_code == (201 if who in ("admin", "manager") else 403 if who != "eng_x" and staff and
                             who != "eng_y" else 404 if who == "eng_x" else 403)
    # Read-only tokens cannot write.
    ro = world.api(user, scopes=["read"])
    assert ro.post(f"/api/v1/work-orders/{own.code}/approvals", {"action": "purchase_part"}).status_code == 403


def test_list_requests_paged_and_filtered(world, org, purchase_flow):
    for i in range(55):
        wo = make_wo(world, status=S.IN_PROGRESS, org="a" if i % 5 else "b")
        services.do_start_request(actor=world.eng_x if i % 5 else world.eng_y, wo=wo, action="purchase_part",
                                  data={"amount": 100})
    api = world.api(world.manager)
    page = api.get("/api/v1/approvals", {"status": "pending"}).json()
    assert len(page["items"]) == 50 and page["next_cursor"]
    rest = api.get("/api/v1/approvals", {"status": "pending", "cursor": page["next_cursor"]}).json()
    assert len(rest["items"]) == 5 and rest["next_cursor"] is None
    # An engineer sees their team's; a customer none.
    eng = world.api(world.eng_x).get("/api/v1/approvals").json()
    assert len(eng["items"]) == 44 and all(r["requester"] == "eng_x" for r in eng["items"])
    assert world.api(world.cust_a).get("/api/v1/approvals").status_code == 403
    assert api.get("/api/v1/approvals", {"cursor": "nope"}).status_code == 422


def test_switching_a_flow_off_stops_guarding(world, org):
    flow = services.do_create_flow(actor=world.admin, data={"name": "Close", "action": "close", "tree": {
        "nodes": [{"id": "m", "type": "approver", "approvers": {"kind": "role", "role": "manager"}}]}})
    services.do_publish(actor=world.admin, flow=flow)
    wo = make_wo(world, status=S.INVOICED, invoice_number="I-1")
    api = world.api(world.manager)
    r = api.patch(f"/api/v1/approval-flows/{flow.pk}", {"active": False, "name": "Close (paused)"})
    assert r.status_code == 200 and r.json()["active"] is False
    assert world.api(world.dispatcher).post(f"/api/v1/work-orders/{wo.code}/actions/close", {}).status_code == 200
    assert api.patch(f"/api/v1/approval-flows/{flow.pk}", {"active": "maybe"}).status_code == 422
    assert world.api(world.dispatcher).patch(f"/api/v1/approval-flows/{flow.pk}", {"active": True}).status_code == 403


@pytest.mark.parametrize("who", ROLES)
def test_handoff_permission_matrix(world, who):
    """Receiving department = team Y (eng_y); the handoff is on team X's work order (org A)."""
    from closeloop.workorders.services import do_transition

    handoffs.do_save_handoff_requirement(actor=world.admin, data={"action": "complete", "to_team": "team-y",
                                                                  "fields": ["customer"]})
    own = make_wo(world, status=S.IN_PROGRESS)
    do_transition(actor=world.eng_x, wo=own, action="complete", data={"resolution": "done"})
    h = own.handoffs.get()
    user = getattr(world, who)
    api = world.api(user)
    staff = not who.startswith("cust")
    sees = who in ("admin", "manager", "dispatcher", "finance", "eng_x")
    assert api.get(f"/api/v1/work-orders/{own.code}/handoffs").status_code == (
        200 if sees else 404 if staff else 403)
    assert api.get("/api/v1/handoffs/quality").status_code == (200 if staff else 403)
    r = api.post("/api/v1/handoff-requirements", {"action": "invoice", "fields": ["invoice_number"]})
    assert r.status_code == (201 if who in ("admin", "manager") else 403)
    # Rating: the receiving team (eng_y cannot see team X's work order: 404) or managers/admins.
    r = api.post(f"/api/v1/handoffs/{h.pk}/rating", {"score": 4, "reasons": ["complete"]})
    expected = {"admin": 201, "manager": 201, "dispatcher": 403, "finance": 403, "eng_x": 403, "eng_y": 404,
                "cust_a": 403, "cust_b": 403}[who]
    assert r.status_code == expected, r.content
