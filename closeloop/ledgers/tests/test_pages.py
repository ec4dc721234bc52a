"""The console pages and the exports: who may use them (a matrix), and bad input never a 500."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from closeloop.customers.models import Asset
from closeloop.ledgers import services
from closeloop.ledgers.models import ImportBatch, Status
from closeloop.workorders import services as wo_services

from .helpers import xlsx

pytestmark = pytest.mark.django_db

ROLES = ["admin", "manager", "dispatcher", "finance", "eng_x", "cust_a", None]
IMPORTERS = {"admin", "manager"}


def client(world, who):
    from django.test import Client

    return world.browser_client(getattr(world, who)) if who else Client()


@pytest.fixture
def batch(world):
    data = xlsx([["序列号", "客户编码"], ["SN-9", "org-a"]])
    return services.do_upload(world.admin, kind="asset", filename="a.xlsx", data=data)


@pytest.mark.parametrize("who", ROLES)
def test_only_admins_and_managers_reach_the_import_pages(world, batch, who):
    c = client(world, who)
    urls = ["/settings/imports/", f"/settings/imports/{batch.id}/", f"/settings/imports/{batch.id}/rejected.csv"]
    for url in urls:
        r = c.get(url)
        if who is None:
            assert r.status_code == 302 and "/login" in r["Location"]
        elif who in IMPORTERS:
            assert r.status_code == 200, url
        else:
            assert r.status_code == 404, (url, who)
    for action in ("confirm", "rollback", "discard"):
        r = c.post(f"/settings/imports/{batch.id}/{action}")
        assert r.status_code in ((302,) if who in IMPORTERS or who is None else (404,))
    r = c.post("/settings/imports/", {"kind": "asset", "file": SimpleUploadedFile("x.xlsx", xlsx([["序列号"], ["y"]]))})
    assert r.status_code == (302 if who in IMPORTERS or who is None else 404)
    expected = 1 + (who in IMPORTERS)
    assert ImportBatch.objects.count() == expected


def test_the_page_flow_upload_map_preview_confirm_rollback(world):
    c = world.browser_client(world.manager)
    data = xlsx([["设备台账"], ["序列号", "客户名称", "安装日期"], ["SN-9", "甲医院", 45000], ["SN-8", "无此医院", ""]])
    r = c.post("/settings/imports/", {"kind": "asset", "file": SimpleUploadedFile("台账.xlsx", data)})
    b = ImportBatch.objects.get()
    assert r["Location"] == f"/settings/imports/{b.id}/"
    page = c.get(r["Location"]).content.decode()
    assert 'data-testid="ledger-mapping"' in page and "安装日期" in page
    r = c.post(r["Location"], {"map_serial_number": "0", "map_customer": "1", "map_install_date": ""})
    assert r.status_code == 302
    page = c.get(r["Location"]).content.decode()
    assert 'data-testid="ledger-progress"' in page
    services.run_until_idle()
    page = c.get(r["Location"]).content.decode()
    assert "无此医院" in page and 'data-testid="ledger-confirm"' in page
    rejected = c.get(f"/settings/imports/{b.id}/rejected.csv")
    assert "无此医院" in b"".join(rejected.streaming_content).decode("utf-8-sig")
    c.post(f"/settings/imports/{b.id}/confirm")
    services.run_until_idle()
    assert Asset.objects.filter(serial_number="SN-9", install_date=None).exists()
    c.post(f"/settings/imports/{b.id}/rollback")
    services.run_until_idle()
    b.refresh_from_db()
    assert b.status == Status.ROLLED_BACK and not Asset.objects.filter(serial_number="SN-9").exists()


def test_a_mapping_missing_a_required_column_is_shown_not_a_500(world, batch):
    c = world.browser_client(world.admin)
    r = c.post(f"/settings/imports/{batch.id}/", {"map_serial_number": "0", "map_customer": ""})
    assert r.status_code == 200 and b"is-invalid" in r.content
    r = c.post(f"/settings/imports/{batch.id}/", {"map_serial_number": "zz", "map_customer": "99"})
    assert r.status_code in (200, 302)


def test_bad_uploads_are_messages_not_500s(world):
    c = world.browser_client(world.admin)
    for name, data in (("a.xlsx", b"PK\x03\x04broken"), ("a.xls", b"x"), ("a.csv", b""), ("a.csv", b"\xff\xfe\x81")):
        r = c.post("/settings/imports/", {"kind": "asset", "file": SimpleUploadedFile(name, data)}, follow=True)
        assert r.status_code == 200 and b"alert" in r.content
    r = c.post("/settings/imports/", {"kind": "nonsense", "file": SimpleUploadedFile("a.csv", b"a,b\n1,2")},
               follow=True)
    assert r.status_code == 200
    assert c.get("/settings/imports/999999/").status_code == 404


def test_pages_speak_chinese(world, batch):
    c = world.browser_client(world.admin)
    page = c.get("/settings/imports/", headers={"Accept-Language": "zh-hans"}).content.decode()
    assert "导入台账" in page


def _sheet(resp):
    data = resp.getvalue() if hasattr(resp, "getvalue") else b"".join(resp.streaming_content)
    return [list(r) for r in load_workbook(io.BytesIO(data), read_only=True).active.iter_rows(values_only=True)]


def test_the_work_order_list_exports_xlsx_with_its_filters_and_visibility(world):
    a = wo_services.do_create_work_order(actor=world.dispatcher, data={
        "type": "repair", "title": "=呼吸机报警", "customer": "org-a", "priority": "high"})
    wo_services.do_create_work_order(actor=world.dispatcher, data={"type": "repair", "title": "监护仪黑屏",
                                                                   "customer": "org-b"})
    codes = {}
    for who in ("admin", "cust_a", "cust_b"):
        r = world.browser_client(getattr(world, who)).get("/work-orders/export.xlsx")
        assert r.status_code == 200 and r["Content-Type"].startswith("application/vnd.openxml")
        rows = _sheet(r)
        codes[who] = {row[0] for row in rows[1:]}
    assert len(codes["admin"]) == 2 and codes["cust_a"] == {a.code} and a.code not in codes["cust_b"]
    rows = _sheet(world.browser_client(world.admin).get("/work-orders/export.xlsx?priority=high"))
    assert [row[0] for row in rows[1:]] == [a.code]
    assert rows[1][1] == "'=呼吸机报警"
    # the CSV beside it has the same rows
    csv_text = b"".join(world.browser_client(world.admin).get("/work-orders/export.csv?priority=high")
                        .streaming_content).decode("utf-8-sig")
    assert a.code in csv_text and csv_text.count("\n") == 2


@pytest.mark.parametrize("who", ROLES)
def test_list_exports_follow_visibility(world, who):
    c = client(world, who)
    for kind in ("customers", "assets", "people"):
        for fmt in ("xlsx", "csv"):
            r = c.get(f"/exports/{kind}.{fmt}")
            if who is None:
                assert r.status_code == 302
                continue
            if kind == "people" and who not in IMPORTERS:
                assert r.status_code == 404
                continue
            assert r.status_code == 200
            if fmt == "xlsx" and kind == "assets":
                serials = {row[0] for row in _sheet(r)[1:]}
                assert serials == ({"SN-A-1"} if who == "cust_a" else {"SN-A-1", "SN-B-1"})
    assert c.get("/exports/nothing.xlsx").status_code in (302, 404)


@pytest.mark.parametrize("who", ROLES)
def test_api_exports_follow_visibility(world, who):
    api = world.api(getattr(world, who) if who else None)
    for name in ("customers.xlsx", "customers.csv", "assets.xlsx", "people.csv", "work-orders.xlsx",
                 "work-orders.csv"):
        r = api.get(f"/api/v1/exports/{name}")
        if who is None:
            assert r.status_code == 401
        elif name.startswith("people") and who not in IMPORTERS:
            assert r.status_code == 403
        else:
            assert r.status_code == 200, (name, r.content[:200])
    if who:
        r = api.get("/api/v1/exports/customers.pdf")
        assert r.status_code == 404
    if who == "cust_a":
        r = api.get("/api/v1/exports/customers.csv")
        text = b"".join(r.streaming_content).decode("utf-8-sig")
        assert "甲医院" in text and "乙医院" not in text


def test_an_exported_cell_that_looks_like_a_formula_is_quoted(world):
    world.org_a.name = "=HYPERLINK(\"x\")"
    world.org_a.save()
    r = world.browser_client(world.admin).get("/exports/customers.xlsx")
    names = [row[1] for row in _sheet(r)[1:]]
    assert "'=HYPERLINK(\"x\")" in names
