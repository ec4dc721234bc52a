"""HTTP protocol promises: Idempotency-Key, ETag / If-Match, cursor pagination, search."""

import pytest

from closeloop.core.models import IdempotencyRecord
from closeloop.workorders.lifecycle import S
from closeloop.workorders.models import TimelineEvent, WorkOrder

from .factories import make_wo

GOOD = {"type": "repair", "title": "呼吸机报警", "site": "site-a"}


def test_same_idempotency_key_and_body_replays_the_first_response(world):
    c = world.api(world.dispatcher)
    first = c.post("/api/v1/work-orders", GOOD, headers={"Idempotency-Key": "k-1"})
    again = c.post("/api/v1/work-orders", GOOD, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true" and again["Location"] == first["Location"]
    assert WorkOrder.objects.count() == 1


def test_same_key_with_another_body_is_422(world):
    c = world.api(world.dispatcher)
    c.post("/api/v1/work-orders", GOOD, headers={"Idempotency-Key": "k-2"})
    r = c.post("/api/v1/work-orders", {**GOOD, "title": "别的"}, headers={"Idempotency-Key": "k-2"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "Idempotency-Key"
    assert WorkOrder.objects.count() == 1


def test_keys_are_per_caller(world):
    a, b = world.api(world.dispatcher), world.api(world.manager)
    a.post("/api/v1/work-orders", GOOD, headers={"Idempotency-Key": "shared"})
    r = b.post("/api/v1/work-orders", GOOD, headers={"Idempotency-Key": "shared"})
    assert r.status_code == 201 and "Idempotent-Replayed" not in r
    assert WorkOrder.objects.count() == 2


def test_an_action_retried_with_its_key_happens_once(world):
    wo = make_wo(world, status=S.ASSIGNED)
    c = world.api(world.eng_x)
    for _ in range(3):
        r = c.post(f"/api/v1/work-orders/{wo.code}/actions/accept", {}, headers={"Idempotency-Key": "acc-1"})
        assert r.status_code == 200
    assert TimelineEvent.objects.filter(work_order=wo, action="accept").count() == 1


def test_failed_requests_are_replayed_too_but_server_errors_are_not_stored(world):
    c = world.api(world.dispatcher)
    bad = c.post("/api/v1/work-orders", {"title": "x"}, headers={"Idempotency-Key": "k-bad"})
    assert bad.status_code == 422
    assert IdempotencyRecord.objects.filter(key="k-bad", completed=True).exists()


def test_overlong_key_is_refused(world):
    r = world.api(world.dispatcher).post("/api/v1/work-orders", GOOD, headers={"Idempotency-Key": "k" * 201})
    assert r.status_code == 422
    assert not WorkOrder.objects.exists()


def test_etag_and_if_match(world):
    wo = make_wo(world)
    c = world.api(world.dispatcher)
    r = c.get(f"/api/v1/work-orders/{wo.code}")
    etag = r["ETag"]
    assert etag == '"v1"'
    r = c.patch(f"/api/v1/work-orders/{wo.code}", {"title": "新标题"}, headers={"If-Match": etag})
    assert r.status_code == 200 and r["ETag"] == '"v2"' and r.json()["title"] == "新标题"
    r = c.patch(f"/api/v1/work-orders/{wo.code}", {"title": "过期的编辑"}, headers={"If-Match": etag})
    assert r.status_code == 412 and r.json()["version"] == 2
    assert WorkOrder.objects.get(pk=wo.pk).title == "新标题"
    r = c.patch(f"/api/v1/work-orders/{wo.code}", {"title": "x"}, headers={"If-Match": "garbage"})
    assert r.status_code == 412
    r = c.post(f"/api/v1/work-orders/{wo.code}/actions/assign", {"assignee": "eng_x"}, headers={"If-Match": etag})
    assert r.status_code == 412
    ev = TimelineEvent.objects.filter(work_order=wo, kind="updated").get()
    assert ev.data["changes"]["title"] == {"from": wo.title, "to": "新标题"}


def test_cursor_pagination_walks_everything_once(world):
    codes = {make_wo(world).code for _ in range(7)}
    c = world.api(world.dispatcher)
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = c.get("/api/v1/work-orders", params).json()
        seen += [w["code"] for w in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 7 and set(seen) == codes and seen == sorted(seen, reverse=True)


@pytest.mark.parametrize("query,hit", [
    ("制冷", True), ("电梯", True), ("冷机", True), ("制冷机组", True), ("梯门", True), ("冷", True),
    ("冷冻", False), ("电话", False), ("compressor", True), ("COMPRESS", True), ("pump", False),
    ("OPP-42", True), ("制冷 compressor", True), ("制冷 pump", False),
])
def test_keyword_search_finds_two_character_chinese_words(world, query, hit):
    c = world.api(world.dispatcher)
    target = c.post("/api/v1/work-orders", {**GOOD, "title": "制冷机组报警 compressor fault",
                                            "description": "三号楼电梯门不关",
                                            "external_refs": [{"system": "crm", "id": "OPP-42"}]}).json()["code"]
    c.post("/api/v1/work-orders", {**GOOD, "title": "监护仪黑屏"})
    found = [w["code"] for w in c.get("/api/v1/work-orders", {"q": query}).json()["items"]]
    assert (found == [target]) if hit else (found == [])


def test_search_finds_by_code_and_combines_with_filters(world):
    c = world.api(world.dispatcher)
    wo = c.post("/api/v1/work-orders", {**GOOD, "title": "制冷故障"}).json()
    assert [w["code"] for w in c.get("/api/v1/work-orders", {"q": wo["code"]}).json()["items"]] == [wo["code"]]
    assert c.get("/api/v1/work-orders", {"q": "制冷", "status": "closed"}).json()["items"] == []
    assert len(c.get("/api/v1/work-orders", {"q": "制冷", "status": ["new", "closed"]}).json()["items"]) == 1


def test_search_follows_edits(world):
    c = world.api(world.dispatcher)
    code = c.post("/api/v1/work-orders", {**GOOD, "title": "制冷故障"}).json()["code"]
    c.patch(f"/api/v1/work-orders/{code}", {"title": "电梯故障"})
    assert c.get("/api/v1/work-orders", {"q": "制冷"}).json()["items"] == []
    assert len(c.get("/api/v1/work-orders", {"q": "电梯"}).json()["items"]) == 1


def test_filters(world):
    a = make_wo(world, org="a", priority="urgent")
    b = make_wo(world, org="b", status=S.ASSIGNED)
    c = world.api(world.dispatcher)

    def codes(**p):
        return {w["code"] for w in c.get("/api/v1/work-orders", p).json()["items"]}

    assert codes(priority="urgent") == {a.code}
    assert codes(status="assigned") == {b.code}
    assert codes(team="team-y") == {b.code}
    assert codes(assignee="eng_y") == {b.code}
    assert codes(assignee="none") == {a.code}
    assert codes(customer="org-a") == {a.code}
    assert codes(site="site-b") == {b.code}
    assert codes(type="repair") == {a.code, b.code}
    assert codes(created_after="2000-01-01T00:00:00Z") == {a.code, b.code}
    assert codes(created_before="2000-01-01T00:00:00Z") == set()


def test_openapi_document_lists_the_contract(world):
    r = world.api(None).get("/api/v1/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for p in ("/api/v1/work-orders", "/api/v1/work-orders/{code}", "/api/v1/work-orders/{code}/actions/{action}",
              "/api/v1/work-orders/{code}/timeline"):
        assert p in paths


def test_filters_follow_custom_field_definitions(world):
    c = world.api(world.dispatcher)
    hot = c.post("/api/v1/work-orders", {**GOOD, "type": "production", "custom": {"temperature": 220,
                                                                                  "shift": "早"}}).json()["code"]
    c.post("/api/v1/work-orders", {**GOOD, "type": "production", "custom": {"temperature": 180, "shift": "晚"}})

    def codes(*items, **extra):
        r = c.get("/api/v1/work-orders", {"custom": list(items), **extra})
        return r.status_code, [w["code"] for w in r.json().get("items", [])]

    assert codes("shift:早") == (200, [hot])
    assert codes("temperature:220", type="production") == (200, [hot])
    assert codes("temperature:220", "shift:晚") == (200, [])
    assert codes("temperature:hot")[0] == 422
    assert codes("nosuch:1")[0] == 422
    assert codes("broken")[0] == 422


def test_search_finds_chinese_words_glued_to_digits_and_latin(world):
    c = world.api(world.dispatcher)
    code = c.post("/api/v1/work-orders", {**GOOD, "title": "12层中央空调制冷效果差", "description": "CT机房UPS跳闸"}
                  ).json()["code"]
    for q in ("制冷", "中央", "机房", "跳闸", "ups"):
        assert [w["code"] for w in c.get("/api/v1/work-orders", {"q": q}).json()["items"]] == [code], q


def _pdf(size: int, name: str = "manual.pdf"):
    import io

    f = io.BytesIO(b"%PDF-1.4 " + b"0" * size)
    f.name = name
    return f


def test_an_upload_above_the_memory_limit_with_a_key_is_stored_once(world):
    """3 MB is above DATA_UPLOAD_MAX_MEMORY_SIZE: the key is checked without reading the
    whole body into memory, and a retry replays the first answer."""
    from closeloop.workorders.models import Attachment

    wo = make_wo(world)
    c = world.api(world.dispatcher)
    url = f"/api/v1/work-orders/{wo.code}/attachments"
    first = c.upload(url, {"file": _pdf(3 * 2**20)}, headers={"Idempotency-Key": "up-1"})
    assert first.status_code == 201, first.content
    again = c.upload(url, {"file": _pdf(3 * 2**20)}, headers={"Idempotency-Key": "up-1"})
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    other = c.upload(url, {"file": _pdf(3 * 2**20 + 1)}, headers={"Idempotency-Key": "up-1"})
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert Attachment.objects.filter(work_order=wo).count() == 1
