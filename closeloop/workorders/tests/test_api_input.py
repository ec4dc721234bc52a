"""Bad input on every work order endpoint: a clear problem naming the field, nothing written."""

import io

import pytest

from closeloop.workorders.lifecycle import S
from closeloop.workorders.models import Attachment, ExternalRef, TimelineEvent, WorkOrder

from .factories import make_wo

GOOD = {"type": "repair", "title": "呼吸机报警", "site": "site-a"}


def _fields(r):
    assert r["Content-Type"] == "application/problem+json", r.content
    body = r.json()
    assert body["status"] == r.status_code and body["title"]
    return {e["field"] for e in body.get("errors", [])}


@pytest.mark.parametrize("body,field", [
    ({"title": "x"}, "type"),
    ({"type": "repair"}, "title"),
    ({**GOOD, "title": ""}, "title"),
    ({**GOOD, "title": "长" * 201}, "title"),
    ({**GOOD, "description": "d" * 20001}, "description"),
    ({**GOOD, "priority": "asap"}, "priority"),
    ({**GOOD, "type": "nope"}, "type"),
    ({**GOOD, "site": "nope"}, "site"),
    ({**GOOD, "asset": "SN-B-1"}, "asset"),  # belongs to another customer than site-a
    ({**GOOD, "customer": "org-b"}, "site"),
    ({**GOOD, "assignee": "cust_a"}, "assignee"),
    ({**GOOD, "team": "nope"}, "team"),
    ({**GOOD, "colour": "red"}, "colour"),
    ({**GOOD, "custom": {"nope": 1}}, "custom.nope"),
    ({**GOOD, "custom": "x"}, "custom"),
    ({**GOOD, "external_refs": [{"system": "crm"}]}, "external_refs[0].id"),
    ({**GOOD, "external_refs": [{"system": "crm", "id": "1", "x": 1}]}, "external_refs[0].x"),
    ({**GOOD, "type": "production"}, "custom.temperature"),
    ({**GOOD, "type": "production", "custom": {"temperature": 999}}, "custom.temperature"),
    ({**GOOD, "type": "production", "custom": {"temperature": "hot"}}, "custom.temperature"),
    ({**GOOD, "type": "production", "custom": {"temperature": 200, "shift": "夜"}}, "custom.shift"),
])
def test_create_rejects_bad_input(world, body, field):
    before = WorkOrder.objects.count(), TimelineEvent.objects.count()
    r = world.api(world.dispatcher).post("/api/v1/work-orders", body)
    assert r.status_code == 422, r.content
    assert field in _fields(r), r.json()
    assert (WorkOrder.objects.count(), TimelineEvent.objects.count()) == before


def test_create_reports_every_problem_at_once(world):
    r = world.api(world.dispatcher).post("/api/v1/work-orders", {"type": "production", "title": "",
                                                                 "priority": "urgent", "site": "nope"})
    assert {"title", "site", "custom.temperature"} <= _fields(r)


def test_duplicate_external_ref_is_refused(world):
    c = world.api(world.dispatcher)
    assert c.post("/api/v1/work-orders", {**GOOD, "external_refs": [{"system": "crm", "id": "OPP-1"}]}
                  ).status_code == 201
    r = c.post("/api/v1/work-orders", {**GOOD, "external_refs": [{"system": "crm", "id": "OPP-1"}]})
    assert r.status_code == 422 and "external_refs[0]" in _fields(r)
    assert WorkOrder.objects.count() == 1
    # same id in another system is fine
    assert c.post("/api/v1/work-orders", {**GOOD, "external_refs": [{"system": "erp", "id": "OPP-1"}]}
                  ).status_code == 201


def test_find_by_external_reference(world):
    c = world.api(world.dispatcher)
    code = c.post("/api/v1/work-orders", {**GOOD, "external_refs": [{"system": "crm", "id": "OPP-7"}]}).json()["code"]
    r = c.get("/api/v1/work-orders", {"external_system": "crm", "external_id": "OPP-7"})
    assert [w["code"] for w in r.json()["items"]] == [code]
    assert world.api(world.cust_b).get("/api/v1/work-orders", {"external_system": "crm", "external_id": "OPP-7"}
                                       ).json()["items"] == []
    r = c.get("/api/v1/work-orders", {"external_system": "crm"})
    assert r.status_code == 422 and "external_system" in _fields(r)


@pytest.mark.parametrize("body,field", [
    ({"title": ""}, "title"),
    ({"priority": "asap"}, "priority"),
    ({"status": "closed"}, "status"),
    ({"assignee": "eng_x"}, "assignee"),
    ({"site": "site-b"}, "site"),
    ({"custom": {"nope": 1}}, "custom.nope"),
])
def test_patch_rejects_bad_input(world, body, field):
    wo = make_wo(world)
    r = world.api(world.dispatcher).patch(f"/api/v1/work-orders/{wo.code}", body)
    assert r.status_code == 422, r.content
    assert field in _fields(r)
    wo2 = WorkOrder.objects.get(pk=wo.pk)
    assert (wo2.version, wo2.title, wo2.status) == (wo.version, wo.title, wo.status)


def test_engineer_may_not_change_dispatch_fields(world):
    wo = make_wo(world, status=S.ACCEPTED)
    r = world.api(world.eng_x).patch(f"/api/v1/work-orders/{wo.code}", {"priority": "urgent"})
    assert r.status_code == 422 and "priority" in _fields(r)
    r = world.api(world.eng_x).patch(f"/api/v1/work-orders/{wo.code}", {"fault_code": "E-101"})
    assert r.status_code == 200 and r.json()["fault_code"] == "E-101"


@pytest.mark.parametrize("action,body,field,status", [
    ("assign", {}, "assignee", 422),
    ("assign", {"assignee": "eng_x", "colour": "red"}, "colour", 422),
    ("cancel", {}, "reason", 422),
    ("confirm", {"rating": 9}, "rating", 422),
    ("arrive", {"latitude": 91}, "latitude", 422),
])
def test_action_rejects_bad_input(world, action, body, field, status):
    wo = make_wo(world, status=S.NEW)
    r = world.api(world.admin).post(f"/api/v1/work-orders/{wo.code}/actions/{action}", body)
    assert r.status_code == status, r.content
    assert field in _fields(r)
    assert not TimelineEvent.objects.filter(work_order=wo).exists()


def test_unknown_action_is_404_and_wrong_state_is_409_with_current_state(world):
    wo = make_wo(world, status=S.NEW)
    c = world.api(world.admin)
    assert c.post(f"/api/v1/work-orders/{wo.code}/actions/teleport", {}).status_code == 404
    r = c.post(f"/api/v1/work-orders/{wo.code}/actions/close", {})
    assert r.status_code == 409
    assert r.json()["current_state"] == S.NEW and r.json()["version"] == 1


@pytest.mark.parametrize("body,field", [({"body": ""}, "body"), ({"body": "x" * 10001}, "body"),
                                        ({"body": "x", "public": "maybe"}, "public"), ({"text": "x"}, "text")])
def test_comment_rejects_bad_input(world, body, field):
    wo = make_wo(world)
    r = world.api(world.dispatcher).post(f"/api/v1/work-orders/{wo.code}/comments", body)
    assert r.status_code == 422 and field in _fields(r)
    assert not TimelineEvent.objects.filter(work_order=wo).exists()


@pytest.mark.parametrize("content,name", [
    (b"", "empty.png"),
    (b"<svg onload=alert(1)></svg>", "evil.svg"),
    (b"<html><script>alert(1)</script></html>", "page.html"),
    (b"MZ\x90\x00binary", "tool.exe"),
    (b"GIF89a....", "anim.gif"),
])
def test_upload_rejects_bad_files(world, content, name):
    wo = make_wo(world)
    f = io.BytesIO(content)
    f.name = name
    r = world.api(world.dispatcher).upload(f"/api/v1/work-orders/{wo.code}/attachments", {"file": f})
    assert r.status_code == 422 and "file" in _fields(r)
    assert not Attachment.objects.exists()


def test_upload_size_limit(world, settings):
    settings.MAX_UPLOAD_BYTES = 1024
    wo = make_wo(world)
    f = io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"\0" * 2000)
    f.name = "big.png"
    r = world.api(world.dispatcher).upload(f"/api/v1/work-orders/{wo.code}/attachments", {"file": f})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "too_large"


def test_upload_keeps_the_original_name_out_of_the_filesystem(world):
    wo = make_wo(world)
    f = io.BytesIO(b"%PDF-1.4 report")
    f.name = "../../etc/passwd.pdf"
    r = world.api(world.dispatcher).upload(f"/api/v1/work-orders/{wo.code}/attachments", {"file": f})
    assert r.status_code == 201
    att = Attachment.objects.get()
    assert att.original_name == "passwd.pdf"
    assert "passwd" not in att.file.name and ".." not in att.file.name and att.file.name.endswith(".pdf")


@pytest.mark.parametrize("params,field", [({"status": "done"}, "status"), ({"cursor": "garbage!"}, "cursor"),
                                          ({"limit": 1000}, "limit"), ({"created_after": "yesterday"},
                                                                       "created_after")])
def test_list_rejects_bad_parameters(world, params, field):
    r = world.api(world.dispatcher).get("/api/v1/work-orders", params)
    assert r.status_code == 422 and field in _fields(r)


def test_external_ref_and_link_input(world):
    a, b = make_wo(world), make_wo(world)
    c = world.api(world.dispatcher)
    assert c.post(f"/api/v1/work-orders/{a.code}/external-refs", {"system": "erp", "id": "PO-1"}).status_code == 201
    r = c.post(f"/api/v1/work-orders/{b.code}/external-refs", {"system": "erp", "id": "PO-1"})
    assert r.status_code == 422
    assert ExternalRef.objects.count() == 1
    assert c.post(f"/api/v1/work-orders/{a.code}/links", {"target": b.code, "kind": "parent"}).status_code == 201
    r = c.post(f"/api/v1/work-orders/{b.code}/links", {"target": a.code, "kind": "parent"})
    assert r.status_code == 422 and "target" in _fields(r)  # cycle
    r = c.post(f"/api/v1/work-orders/{a.code}/links", {"target": a.code, "kind": "related"})
    assert r.status_code == 422
    r = c.post(f"/api/v1/work-orders/{a.code}/links", {"target": "WD000", "kind": "related"})
    assert r.status_code == 422 and "target" in _fields(r)
    r = c.post(f"/api/v1/work-orders/{a.code}/links", {"target": b.code, "kind": "sibling"})
    assert r.status_code == 422 and "kind" in _fields(r)
    detail = c.get(f"/api/v1/work-orders/{b.code}").json()
    assert detail["links"] == [{"kind": "parent", "direction": "in", "code": a.code, "title": a.title,
                                "status": a.status}]


def test_malformed_json_is_a_problem(world):
    c = world.api(world.dispatcher)
    r = c.client.post("/api/v1/work-orders", "{not json", content_type="application/json",
                      headers=c._headers(None))
    assert r.status_code in (400, 422)
    assert r["Content-Type"] == "application/problem+json"
    assert not WorkOrder.objects.exists()


def test_deactivated_references_are_refused_for_new_work_orders_but_stay_on_old_ones(world):
    """Issue 14: a deactivated customer, site, asset or contact is a 422 naming the field on a new work
    order (or a change), while the work orders that already name them keep them, and edits of their
    other fields still go through."""
    from closeloop.customers import services as customer_services
    from closeloop.workorders import services

    old = services.do_create_work_order(actor=world.dispatcher, data={
        "type": "repair", "title": "旧工单", "site": "site-a", "asset": "SN-A-1", "contact": world.contact_a.pk})
    for obj in (world.asset_a, world.contact_a):
        customer_services.do_set_active(actor=world.admin, obj=obj, active=False)
    api = world.api(world.dispatcher)
    r = api.post("/api/v1/work-orders", {"type": "repair", "title": "新", "site": "site-a", "asset": "SN-A-1",
                                         "contact": world.contact_a.pk})
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"asset", "contact"}, r.json()
    customer_services.do_set_active(actor=world.admin, obj=world.org_a, active=False)  # sites go too
    r = api.post("/api/v1/work-orders", {"type": "repair", "title": "新", "customer": "org-a"})
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["customer"]
    r = api.post("/api/v1/work-orders", {"type": "repair", "title": "新", "site": "site-a"})
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"site"}
    r = api.post("/api/v1/work-orders", {"type": "repair", "title": "新", "contact": "张三"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "contact"  # a name, not an id: no 500

    # The old work order keeps them, shows them, and takes edits (the same references echoed back too).
    r = api.patch(f"/api/v1/work-orders/{old.code}", {"title": "旧工单 改", "customer": "org-a", "site": "site-a"})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["title"] == "旧工单 改" and body["customer"]["code"] == "org-a"
    page = world.browser_client(world.dispatcher).get(f"/work-orders/{old.code}/").content.decode()
    assert "SN-A-1" in page and world.contact_a.name in page
    r = api.patch(f"/api/v1/work-orders/{old.code}", {"asset": "SN-A-1", "contact": world.contact_a.pk})
    assert r.status_code == 200  # unchanged references are kept
