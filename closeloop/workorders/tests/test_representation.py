"""The API's fast representation of work orders equals the one it replaced, byte for byte.

New: list items from narrow rows (selectors.page_work_order_rows + serializers.list_items),
the detail's external refs, links and watchers from one query (selectors.detail_rows), and
both rendered without a second validation (core.apikit.shaped/render). Old (kept here as the
reference): model instances, four ORM queries, ninja's validation through WorkOrderOut. Compared
after every step of every lifecycle path, for each persona that sees the work order."""

import json

from closeloop.core.apikit import RENDERER, shaped
from closeloop.core.clock import now
from closeloop.workorders import selectors, serializers
from closeloop.workorders.models import ExternalRef, WorkOrder, WorkOrderLink, WorkOrderWatcher
from closeloop.workorders.schemas import WorkOrderOut, WorkOrderPage
from closeloop.workorders.tests.factories import make_wo

V1 = "/api/v1/work-orders"
PATHS = {
    "full loop": [("disp", "assign", {"assignee": "eng_x"}), ("eng", "accept", {}), ("eng", "depart", {}),
                  ("eng", "arrive", {"latitude": 31.2, "longitude": 121.4}), ("eng", "start", {}),
                  ("eng", "wait", {"reason": "parts"}), ("eng", "resume", {}),
                  ("eng", "complete", {"resolution": "更换传感器"}), ("disp", "confirm", {"rating": 5}),
                  ("fin", "invoice", {"invoice_number": "INV-1"}), ("disp", "close", {}),
                  ("disp", "reopen", {"reason": "又坏了"})],
    "remote, reassigned": [("disp", "assign", {"assignee": "eng_x"}), ("disp", "assign", {"assignee": "eng_x2"}),
                           ("eng2", "accept", {}), ("eng2", "start", {}), ("eng2", "wait", {"reason": "customer"}),
                           ("disp", "resume", {}), ("eng2", "complete", {"resolution": "远程"}),
                           ("disp", "reopen", {"reason": "x"})],
    "cancelled": [("disp", "assign", {"assignee": "eng_x"}), ("disp", "cancel", {"reason": "重复"}),
                  ("disp", "reopen", {"reason": "不是重复"})],
}


def _old(wo, user, *, detail: bool = False) -> dict:
    """serializers.work_order with its datetimes as the model holds them, as the old representation
    passed them to the JSON encoder. (Its own output formats them already; validating that string
    again would read "12:00:00.000456" written as "12:00:00.000Z" back as 12:00:00 and write "12:00:00Z":
    a reference that differed from the API whenever a time had under a millisecond of microseconds.)"""
    out = serializers.work_order(wo, user, detail=detail)
    out["created_at"], out["updated_at"] = wo.created_at, wo.updated_at
    out["milestones"] = {m.removesuffix("_at"): getattr(wo, m) for m in serializers.MILESTONES}
    return out


def _old_detail(wo, user) -> dict:
    """serializers.work_order(detail=True) as it was: the four ORM queries."""
    out = _old(wo, user, detail=True)
    out["external_refs"] = [{"system": r.system, "id": r.external_id} for r in wo.external_refs.all()]
    links = [{"kind": ln.kind, "direction": "out", "code": ln.target.code, "title": ln.target.title,
              "status": ln.target.status} for ln in wo.links_out.select_related("target").order_by("id")]
    links += [{"kind": ln.kind, "direction": "in", "code": ln.source.code, "title": ln.source.title,
               "status": ln.source.status} for ln in wo.links_in.select_related("source").order_by("id")]
    out["links"] = links
    out["watchers"] = [] if user.role == "customer" else list(
        wo.watchers.order_by("id").values_list("user__username", flat=True))
    return out


def _validated(schema, data) -> bytes:
    return RENDERER.render(None, schema.model_validate(data).model_dump(), response_status=200).encode()


def _compare(world, code: str) -> None:
    for user in (world.dispatcher, world.eng_x, world.cust_a, world.finance):
        wo = selectors.visible_work_orders(user).filter(code=code).first()
        if wo is None:
            continue
        wo = selectors.access_work_order_by_code(user, code)
        # Detail, as the API answers it (a GET), against the old computation.
        r = world.api(user).get(f"{V1}/{code}")
        assert r.status_code == 200
        assert r.content == _validated(WorkOrderOut, _old_detail(wo, user)), (user.username, code)
        # A list page holding it, rows against models.
        f = selectors.WorkOrderFilter()
        old = selectors.page_work_orders(user, f, limit=100)
        new = selectors.page_work_order_rows(user, f, limit=100)
        assert [r[1] for r in new.items] == [w.code for w in old.items] and new.next_cursor == old.next_cursor
        for w, item in zip(old.items, serializers.list_items(new.items, user), strict=True):
            assert RENDERER.render(None, item, response_status=200).encode() == _validated(
                WorkOrderOut, _old(w, user))
        old_page = _validated(WorkOrderPage, {"items": [_old(w, user) for w in old.items],
                                              "next_cursor": old.next_cursor})
        r = world.api(user).get(V1, {"limit": 100})
        assert r.status_code == 200 and r.content == old_page, user.username
        assert json.loads(r.content)["items"] == [json.loads(_validated(WorkOrderOut, shaped(
            WorkOrderOut, _old(w, user)))) for w in old.items]


def test_every_lifecycle_path(world):
    apis = {"disp": world.api(world.dispatcher), "eng": world.api(world.eng_x), "eng2": world.api(world.eng_x2),
            "fin": world.api(world.finance)}
    other = make_wo(world, title="另一个")
    for name, steps in PATHS.items():
        r = apis["disp"].post(V1, {"type": "repair", "title": f"呼吸机报警 {name}", "customer": "org-a",
                                   "site": "site-a", "asset": "SN-A-1", "contact": world.contact_a.pk,
                                   "team": "team-x", "priority": "high", "fault_code": "E-1",
                                   "external_refs": [{"system": "crm", "id": f"OPP-{name}"}]})
        assert r.status_code == 201, r.content
        code = r.json()["code"]
        assert r.content == _validated(WorkOrderOut, _old_detail(
            selectors.access_work_order_by_code(world.dispatcher, code), world.dispatcher))
        _compare(world, code)
        for who, action, body in steps:
            r = apis[who].post(f"{V1}/{code}/actions/{action}", body)
            assert r.status_code == 200, (name, action, r.content)
            _compare(world, code)
        wo = WorkOrder.objects.get(code=code)
        # Links both ways, watchers, tags, a second external ref: the detail's other parts.
        t = now()
        WorkOrderLink.objects.create(source=wo, target=other, kind="related", created_at=t)
        WorkOrderLink.objects.create(source=other, target=wo, kind="duplicate", created_at=t)
        ExternalRef.objects.create(work_order=wo, system="erp", external_id=f"PO-{name}", created_at=t)
        WorkOrderWatcher.objects.create(work_order=wo, user=world.manager, added_at=t)
        WorkOrderWatcher.objects.create(work_order=wo, user=world.eng_y, added_at=t)
        assert apis["disp"].put(f"{V1}/{code}/tags", {"tags": ["vip", "夜班"]}).status_code == 200
        _compare(world, code)


def test_every_state_and_empty_relations(world):
    from closeloop.workorders.lifecycle import STATES

    world.eng_x.display_name = ""
    world.eng_x.first_name, world.eng_x.last_name = "小", "王"
    world.eng_x.save()
    for status in STATES:
        make_wo(world, status=status, custom={"shift": "早", "n": 1.5}, rating=4 if status == "closed" else None)
    bare = make_wo(world, title="无团队", team=None, site=None, customer=None)
    for wo in WorkOrder.objects.all():
        _compare(world, wo.code)
    assert bare.team_id is None


def test_a_time_under_a_millisecond_past_the_second(world):
    """12:00:00.000456 is written as the JSON encoder writes it ("12:00:00.000Z") by the API's
    detail and list alike, as the old representation did: the case that made the comparison above
    fail now and then (the reference read its own formatted string back)."""
    from datetime import UTC, datetime

    wo = make_wo(world)
    at = datetime(2026, 12, 8, 12, 0, 0, 456, tzinfo=UTC)
    WorkOrder.objects.filter(pk=wo.pk).update(updated_at=at, created_at=at.replace(microsecond=0))
    body = world.api(world.dispatcher).get(f"{V1}/{wo.code}").json()
    assert body["updated_at"] == "2026-12-08T12:00:00.000Z" and body["created_at"] == "2026-12-08T12:00:00Z"
    items = world.api(world.dispatcher).get(V1).json()["items"]
    assert [i["updated_at"] for i in items if i["code"] == wo.code] == ["2026-12-08T12:00:00.000Z"]
    _compare(world, wo.code)
