"""Work order tags and watchers: services, the API (ETag, If-Match, problem+json), the
permission matrix, the ?tag= filter and the work order page panel."""

import pytest

from closeloop.workorders import services as wo_services
from closeloop.workorders.lifecycle import S
from closeloop.workorders.models import TimelineEvent, WorkOrderWatcher
from closeloop.workorders.tests.factories import make_wo

V1 = "/api/v1/work-orders"


@pytest.fixture
def wos(world):
    """Org A / team X work assigned to eng_x, and org B / team Y work."""
    return {"a": make_wo(world, status=S.ASSIGNED, org="a"), "b": make_wo(world, status=S.ASSIGNED, org="b")}


def test_set_tags_normalizes_versions_and_records(world, wos):
    wo = wos["a"]
    api = world.api(world.dispatcher)
    r = api.put(f"{V1}/{wo.code}/tags", {"tags": [" VIP ", "ｃｏｌｄ  chain", "vip", "冷链"]},
                headers={"If-Match": wo.etag})
    assert r.status_code == 200, r.content
    assert r.json()["tags"] == ["vip", "cold-chain", "冷链"] and r["ETag"] == f'"v{wo.version + 1}"'
    ev = TimelineEvent.objects.filter(work_order=wo, kind="updated").last()
    assert ev.data["tags"] == {"added": ["vip", "cold-chain", "冷链"], "removed": []} and not ev.public
    assert api.put(f"{V1}/{wo.code}/tags", {"tags": []}, headers={"If-Match": wo.etag}).status_code == 412
    r = api.put(f"{V1}/{wo.code}/tags", {"tags": ["ok", "x" * 41, "<b>"]})
    assert r.status_code == 422 and r["Content-Type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == ["tags[1]", "tags[2]"]
    assert api.put(f"{V1}/{wo.code}/tags", {"tags": [str(i) for i in range(21)]}).status_code == 422
    assert api.put(f"{V1}/{wo.code}/tags", {"tags": [1]}).status_code == 422
    wo.refresh_from_db()
    assert wo.tags == ["vip", "cold-chain", "冷链"]  # nothing half-written
    n = TimelineEvent.objects.filter(work_order=wo).count()
    assert api.put(f"{V1}/{wo.code}/tags", {"tags": ["VIP", "cold-chain", "冷链"]}).status_code == 200
    assert TimelineEvent.objects.filter(work_order=wo).count() == n  # no change, no event


def test_tag_filter(world, wos):
    wo_services.do_set_tags(actor=world.dispatcher, wo=wos["a"], tags=["vip", "冷链"])
    wo_services.do_set_tags(actor=world.dispatcher, wo=wos["b"], tags=["vip"])
    api = world.api(world.dispatcher)

    def codes(**params):
        r = api.get(V1, params)
        assert r.status_code == 200, r.content
        return sorted(w["code"] for w in r.json()["items"])

    assert codes(tag="VIP") == sorted([wos["a"].code, wos["b"].code])
    assert codes(tag=["vip", "冷链"]) == [wos["a"].code]
    assert codes(tag="nothing") == []
    assert codes(tag="vip", team="team-y") == [wos["b"].code]
    assert api.get(V1, {"tag": "a,b"}).status_code == 422
    # engineers see only their work, tags or not
    assert [w["code"] for w in world.api(world.eng_y).get(V1, {"tag": "vip"}).json()["items"]] == [wos["b"].code]
    assert world.api(world.cust_a).get(V1, {"tag": "vip"}).status_code == 403
    items = world.api(world.cust_a).get(V1).json()["items"]
    assert [w["tags"] for w in items] == [[]]  # tags are internal


def test_watchers_api_and_output(world, wos):
    wo = wos["a"]
    api = world.api(world.dispatcher)
    r = api.post(f"{V1}/{wo.code}/watchers", {"username": "eng_x2"})
    assert r.status_code == 201 and r.json() == {"watchers": ["eng_x2"]}
    assert api.post(f"{V1}/{wo.code}/watchers", {"username": "eng_x2"}).status_code == 201  # twice: one row
    assert WorkOrderWatcher.objects.filter(work_order=wo).count() == 1
    w = WorkOrderWatcher.objects.get(work_order=wo)
    assert w.added_by == world.dispatcher and w.added_at is not None
    assert api.get(f"{V1}/{wo.code}").json()["watchers"] == ["eng_x2"]
    assert world.api(world.cust_a).get(f"{V1}/{wo.code}").json()["watchers"] == []
    for name, field in (("eng_y", "username"), ("cust_a", "username"), ("ghost", "username")):
        r = api.post(f"{V1}/{wo.code}/watchers", {"username": name})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, name
    assert api.delete(f"{V1}/{wo.code}/watchers/eng_x2").status_code == 204
    assert api.delete(f"{V1}/{wo.code}/watchers/eng_x2").status_code == 404
    kinds = [e.data.get("watchers") for e in TimelineEvent.objects.filter(work_order=wo, kind="updated")]
    assert kinds == [{"added": ["eng_x2"]}, {"removed": ["eng_x2"]}]


# role × endpoint × work order: "a" = org A / team X, assigned to eng_x; "b" = org B / team Y, assigned to
# eng_y. Editors (admin, manager, dispatcher, the assignee) change anything; other staff who see it
# only watch or unwatch themselves; customers get 403 on their own organisation's work, 404 elsewhere.
TAGS = {  # PUT …/tags
    "admin": (200, 200), "manager": (200, 200), "dispatcher": (200, 200), "finance": (403, 403),
    "eng_x": (200, 404), "eng_x2": (403, 404), "eng_y": (404, 200), "cust_a": (403, 404), "cust_b": (404, 403),
}
WATCH_SELF = {  # POST …/watchers {own username}
    "admin": (201, 201), "manager": (201, 201), "dispatcher": (201, 201), "finance": (201, 201),
    "eng_x": (201, 404), "eng_x2": (201, 404), "eng_y": (404, 201), "cust_a": (403, 404), "cust_b": (404, 403),
}
WATCH_OTHER = {  # POST …/watchers {"username": the dispatcher}
    "admin": (201, 201), "manager": (201, 201), "finance": (403, 403),
    "eng_x": (201, 404), "eng_x2": (403, 404), "eng_y": (404, 201), "cust_a": (403, 404), "cust_b": (404, 403),
}


@pytest.mark.parametrize("who", sorted(TAGS))
def test_tags_permissions(world, wos, who):
    api = world.api(getattr(world, who))
    got = tuple(api.put(f"{V1}/{wos[o].code}/tags", {"tags": ["x"]}).status_code for o in ("a", "b"))
    assert got == TAGS[who]


@pytest.mark.parametrize("who", sorted(WATCH_SELF))
def test_watch_yourself_permissions(world, wos, who):
    api = world.api(getattr(world, who))
    got = tuple(api.post(f"{V1}/{wos[o].code}/watchers", {"username": who}).status_code for o in ("a", "b"))
    assert got == WATCH_SELF[who]
    # and unwatch where it was allowed
    for o, status in zip(("a", "b"), got, strict=True):
        if status == 201:
            assert api.delete(f"{V1}/{wos[o].code}/watchers/{who}").status_code == 204


@pytest.mark.parametrize("who", sorted(WATCH_OTHER))
def test_watch_someone_else_permissions(world, wos, who):
    api = world.api(getattr(world, who))
    got = tuple(api.post(f"{V1}/{wos[o].code}/watchers", {"username": "dispatcher"}).status_code
                for o in ("a", "b"))
    assert got == WATCH_OTHER[who]


def test_removing_someone_else_needs_edit_rights(world, wos):
    wo = wos["a"]
    wo_services.do_add_watcher(actor=world.dispatcher, wo=wo, user=world.manager)
    assert world.api(world.eng_x2).delete(f"{V1}/{wo.code}/watchers/manager").status_code == 403
    assert world.api(world.cust_a).delete(f"{V1}/{wo.code}/watchers/manager").status_code == 403
    assert world.api(world.cust_b).delete(f"{V1}/{wo.code}/watchers/manager").status_code == 404
    assert world.api(world.eng_x).delete(f"{V1}/{wo.code}/watchers/manager").status_code == 204


def test_read_scope_cannot_write(world, wos):
    api = world.api(world.dispatcher, scopes=["read"])
    assert api.put(f"{V1}/{wos['a'].code}/tags", {"tags": ["x"]}).status_code == 403
    assert api.post(f"{V1}/{wos['a'].code}/watchers", {"username": "dispatcher"}).status_code == 403


def test_panel_on_the_work_order_page(world, wos):
    wo = wos["a"]
    wo_services.do_set_tags(actor=world.dispatcher, wo=wo, tags=["vip"])
    wo_services.do_add_watcher(actor=world.dispatcher, wo=wo, user=world.dispatcher)
    html = world.browser_client(world.dispatcher).get(f"/work-orders/{wo.code}/").content.decode()
    assert 'data-testid="wo-tags-panel"' in html and 'data-tag="vip"' in html and 'data-watcher="dispatcher"' in html
    assert 'data-testid="wo-watching"' in html
    html = world.browser_client(world.cust_a).get(f"/work-orders/{wo.code}/").content.decode()
    assert "wo-tags-panel" not in html
