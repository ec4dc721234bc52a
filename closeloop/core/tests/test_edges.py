"""The edges of a request (core.edges, core.apikit): a hostile or malformed request gets a
problem+json answer naming the problem, never a 500, and nothing is written. Runs on SQLite
and on PostgreSQL (where a NUL in text used to be a 500)."""

import json

import pytest
from django.test import Client

from closeloop.workorders.models import Attachment, WorkOrder

pytestmark = pytest.mark.django_db

NEW = {"type": "repair", "title": "空调不制冷", "customer": "org-a"}


def _problem(r, status, code=None):
    assert r.status_code == status, (r.status_code, r.content[:500])
    assert r["Content-Type"] == "application/problem+json", r["Content-Type"]
    body = r.json()
    assert body["status"] == status and body["title"]
    if code:
        assert body["type"].endswith("/" + code), body
    return body


def _multipart(parts: list[tuple[str, str | None, bytes]], boundary=b"BB") -> bytes:
    out = b""
    for name, filename, content in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        out += b"--" + boundary + b"\r\nContent-Disposition: " + disp.encode() + b"\r\n"
        if filename is not None:
            out += b"Content-Type: text/plain\r\n"
        out += b"\r\n" + content + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


@pytest.fixture
def wo(world):
    r = world.api(world.dispatcher).post("/api/v1/work-orders", NEW)
    assert r.status_code == 201
    return WorkOrder.objects.get(code=r.json()["code"])


def _bearer(world, user):
    api = world.api(user)
    return Client(), {"Authorization": f"Bearer {api.token}"}


# --- bodies ------------------------------------------------------------------------------

def test_a_json_body_over_the_limit_is_413_and_nothing_is_created(world, settings):
    c, h = _bearer(world, world.dispatcher)
    big = json.dumps({**NEW, "description": "长" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 3 + 10)})
    body = _problem(c.post("/api/v1/work-orders", big, content_type="application/json", headers=h), 413,
                    "body_too_large")
    assert body["limit"] == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert not WorkOrder.objects.exists()


def test_the_json_limit_is_a_setting(world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    c, h = _bearer(world, world.dispatcher)
    r = c.post("/api/v1/work-orders", json.dumps({**NEW, "description": "x" * 200}), content_type="application/json",
               headers=h)
    _problem(r, 413, "body_too_large")


UPLOADS = {
    "api attachment": ("dispatcher", "/api/v1/work-orders/{code}/attachments"),
    "phone photo": ("eng_x", "/api/v1/work-orders/{code}/photos"),
    "console attachment": ("dispatcher", "/work-orders/{code}/attachments"),
}


def _upload_client(world, wo, where):
    who, path = UPLOADS[where]
    user = getattr(world, who)
    if where == "phone photo":
        from closeloop.workorders.services import do_transition

        do_transition(actor=world.dispatcher, wo=wo, action="assign", data={"assignee": user.username})
    if path.startswith("/api/"):
        c, h = _bearer(world, user)
    else:
        c, h = world.browser_client(user), {}
    return c, h, path.format(code=wo.code)


@pytest.mark.parametrize("where", UPLOADS)
def test_a_multipart_body_without_a_boundary_is_400(world, wo, where):
    c, h, path = _upload_client(world, wo, where)
    body = _problem(c.post(path, b"--x\r\n\r\nhello", content_type="multipart/form-data", headers=h), 400,
                    "multipart_boundary")
    assert "boundary" in body["detail"]


@pytest.mark.parametrize("where", UPLOADS)
def test_too_many_fields_or_files_is_413(world, wo, where, settings):
    c, h, path = _upload_client(world, wo, where)
    fields = _multipart([(f"f{i}", None, b"v") for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)])
    _problem(c.post(path, fields, content_type="multipart/form-data; boundary=BB", headers=h), 413, "too_many_fields")
    files = _multipart([("file", f"a{i}.txt", b"hello") for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1)])
    _problem(c.post(path, files, content_type="multipart/form-data; boundary=BB", headers=h), 413, "too_many_files")
    assert not Attachment.objects.exists() and not wo.photos.exists()


@pytest.mark.parametrize("where", UPLOADS)
def test_a_ten_thousand_character_file_name_is_refused(world, wo, where):
    c, h, path = _upload_client(world, wo, where)
    body = _multipart([("file", "a" * 10_000 + ".txt", b"hello")])
    r = c.post(path, body, content_type="multipart/form-data; boundary=BB", headers=h)
    problem = _problem(r, 400, "multipart_headers_too_long")
    assert "255" in problem["detail"]  # the file name limit, in the caller's language
    # Long, but within what the parser reads: 422 naming the field.
    body = _multipart([("file", "b" * 300 + ".txt", b"hello")])
    problem = _problem(c.post(path, body, content_type="multipart/form-data; boundary=BB", headers=h), 422)
    assert problem["errors"][0]["field"] == "file" and problem["errors"][0]["code"] == "too_long"
    assert not Attachment.objects.exists() and not wo.photos.exists()


def test_a_whole_upload_over_the_request_limit_is_413_before_it_is_read(world, wo, settings):
    settings.MAX_REQUEST_BYTES = 1000
    c, h, path = _upload_client(world, wo, "api attachment")
    body = _multipart([("file", "a.txt", b"x" * 2000)])
    _problem(c.post(path, body, content_type="multipart/form-data; boundary=BB", headers=h), 413, "body_too_large")


def test_an_upload_within_the_limits_still_works(world, wo):
    c, h, path = _upload_client(world, wo, "api attachment")
    body = _multipart([("file", "notes.txt", b"hello")])
    r = c.post(path, body, content_type="multipart/form-data; boundary=BB", headers=h)
    assert r.status_code == 201, r.content


# --- media types ---------------------------------------------------------------------------

@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", "application/xml", ""])
def test_the_api_takes_json_only_as_application_json(world, ctype):
    c, h = _bearer(world, world.dispatcher)
    r = c.post("/api/v1/work-orders", json.dumps(NEW), content_type=ctype, headers=h)
    body = _problem(r, 415, "unsupported_media_type")
    assert "application/json" in body["accepted"]
    assert not WorkOrder.objects.exists()


def test_multipart_to_an_operation_that_reads_json_is_415(world):
    c, h = _bearer(world, world.dispatcher)
    r = c.post("/api/v1/work-orders", NEW, headers=h)  # the test client's default: multipart
    _problem(r, 415, "unsupported_media_type")
    r = c.post("/api/v1/work-orders", NEW, headers={**h, "Idempotency-Key": "k-415"})
    _problem(r, 415, "unsupported_media_type")
    assert not WorkOrder.objects.exists()


def test_json_with_a_charset_is_json(world):
    c, h = _bearer(world, world.dispatcher)
    r = c.post("/api/v1/work-orders", json.dumps(NEW), content_type="application/json; charset=utf-8", headers=h)
    assert r.status_code == 201


# --- NUL characters ---------------------------------------------------------------------------

@pytest.mark.parametrize("body, field", [
    ({**NEW, "title": "空调\x00不制冷"}, "title"),
    ({**NEW, "description": "a\x00"}, "description"),
    ({**NEW, "custom_fields": {"x\x00": 1}}, "custom_fields.x\\u0000"),
])
def test_nul_in_json_text_is_422_naming_the_field(world, body, field):
    r = world.api(world.dispatcher).post("/api/v1/work-orders", body)
    problem = _problem(r, 422, "nul_character")
    assert problem["errors"][0]["field"].replace("\x00", "\\u0000") == field
    assert not WorkOrder.objects.exists()


def test_an_escaped_backslash_before_u0000_is_not_a_nul(world):
    r = world.api(world.dispatcher).post("/api/v1/work-orders", {**NEW, "description": "C:\\u0000 folder"})
    assert r.status_code == 201 and WorkOrder.objects.get().description == "C:\\u0000 folder"


@pytest.mark.parametrize("path, params", [
    ("/api/v1/work-orders", {"q": "a\x00b"}),
    ("/api/v1/customers", {"q": "\x00"}),
    ("/api/v1/work-orders", {"status\x00": "new"}),
])
def test_nul_in_an_api_filter_is_422(world, path, params):
    _problem(world.api(world.dispatcher).get(path, params), 422, "nul_character")


@pytest.mark.parametrize("path", ["/api/v1/work-orders/WD\x00X", "/work-orders/WD\x00X/", "/portal/t/a\x00b/"])
def test_nul_in_a_path_is_422(world, path):
    c = world.browser_client(world.dispatcher)
    _problem(c.get(path), 422, "nul_character")
    _problem(world.api(world.dispatcher).get(path), 422, "nul_character")


def test_nul_in_a_console_search_or_form_post_is_422(world, wo):
    c = world.browser_client(world.dispatcher)
    _problem(c.get("/work-orders/", {"q": "制冷\x00"}), 422, "nul_character")
    r = c.post(f"/work-orders/{wo.code}/comments", {"body": "hi\x00there"})
    problem = _problem(r, 422, "nul_character")
    assert problem["errors"][0]["field"] == "body"
    from closeloop.workorders.models import TimelineEvent

    assert not TimelineEvent.objects.filter(work_order=wo, kind="comment").exists()


def test_nul_in_an_uploaded_file_name_or_form_field_is_422(world, wo):
    c, h, path = _upload_client(world, wo, "api attachment")
    body = _multipart([("file", "a\x00.txt", b"hello")])
    r = c.post(path, body, content_type="multipart/form-data; boundary=BB", headers=h)
    # Django's parser drops the NUL from a file name before anyone sees it; the name is stored without.
    assert r.status_code == 201 and Attachment.objects.get().original_name == "a.txt"
    Attachment.objects.all().delete()
    body = _multipart([("file", "a.txt", b"hello"), ("public", None, b"tr\x00ue")])
    problem = _problem(c.post(path, body, content_type="multipart/form-data; boundary=BB", headers=h), 422)
    assert problem["errors"][0]["field"] == "public"
    assert not Attachment.objects.exists()


# --- no coercion -----------------------------------------------------------------------------

def test_the_api_does_not_coerce_a_string_to_a_boolean_or_a_number(world, wo):
    api = world.api(world.admin)
    r = api.post(f"/api/v1/work-orders/{wo.code}/comments", {"body": "hi", "public": "true"})
    problem = _problem(r, 422, "validation")
    assert problem["errors"][0]["field"] == "public"
    r = api.post(f"/api/v1/work-orders/{wo.code}/comments", {"body": "hi", "public": 1})
    assert _problem(r, 422)["errors"][0]["field"] == "public"
    r = api.post("/api/v1/sites", {"customer": "org-a", "code": "s-2", "name": "新院区", "latitude": "31.2"})
    assert _problem(r, 422)["errors"][0]["field"] == "latitude"
    r = api.post("/api/v1/sites", {"customer": "org-a", "code": "s-2", "name": "新院区", "latitude": True})
    assert _problem(r, 422)["errors"][0]["field"] == "latitude"
    # The real types still pass.
    assert api.post(f"/api/v1/work-orders/{wo.code}/comments", {"body": "hi", "public": True}).status_code == 201
    assert api.post("/api/v1/sites", {"customer": "org-a", "code": "s-2", "name": "新院区",
                                      "latitude": 31}).status_code == 201


def test_the_strict_schema_kit_refuses_coercion_for_every_number_and_boolean_shape():
    from ninja import Field  # noqa: F401
    from pydantic import ValidationError

    from closeloop.core.apikit import StrictSchema

    class Probe(StrictSchema):
        n: int = 0
        x: float | None = None
        b: bool = False
        ns: list[int] = []
        m: dict[str, float] = {}
        either: str | int | None = None

    assert Probe(n=1, x=2, b=True, ns=[1, 2], m={"a": 1.5}, either="x").n == 1
    assert Probe(either=3).either == 3
    for bad in ({"n": "1"}, {"n": 1.0}, {"n": True}, {"x": "2.5"}, {"x": False}, {"b": "true"}, {"b": 0},
                {"ns": [1, "2"]}, {"m": {"a": "1"}}):
        with pytest.raises(ValidationError):
            Probe(**bad)
