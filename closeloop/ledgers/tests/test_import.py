"""Ledger imports end to end through the services and the worker step: mapping guesses,
row problems, preview, commit, rollback."""

from datetime import date, datetime

import pytest

from closeloop.accounts.models import User
from closeloop.audit.models import AuditRecord
from closeloop.customers.models import Asset, Contact, Customer, Site
from closeloop.ledgers import reader, services
from closeloop.ledgers.models import Action, ImportBatch, MappingPreset, StagedRow, Status

from .helpers import csv_bytes, xlsx

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True, params=["calamine", "openpyxl"])
def sheet_reader(request, settings):
    """Every import test runs with both readers: python-calamine (sheets up to
    LEDGERS_FAST_READ_MAX_BYTES) and openpyxl streaming (larger sheets)."""
    if request.param == "openpyxl":
        settings.LEDGERS_FAST_READ_MAX_BYTES = 0
    return request.param


def run(batch):
    services.run_until_idle()
    batch.refresh_from_db()
    return batch


def errors_of(batch):
    return {r.row_number: r.errors for r in StagedRow.objects.filter(batch=batch, action=Action.ERROR)}


ASSET_HEADER = ["序列号", "设备名称", "型号", "批次", "安装日期", "客户编码", "站点"]


def test_it_imports_assets_with_chinese_headers_under_a_title_row(world):
    data = xlsx([ASSET_HEADER,
                 ["SN-100", "呼吸机", "V60", "B1", datetime(2023, 5, 1), "org-a", "site-a"],
                 ["SN-101 ", "监护仪", "ＭＸ５００", "B1", 45000, "org-a", "甲医院本部"],
                 [None] * 7,
                 ["SN-A-1", "呼吸机", "V60", "B9", "2024/03/15", "org-a", "site-a"]],
                title_rows=[["2024年 设备台账"], []], first_sheet="封面")
    b = services.do_upload(world.admin, kind="asset", filename="设备台账.xlsx", data=data)
    assert (b.sheet, b.header_row) == ("台账", 3)
    assert set(b.mapping) >= {"serial_number", "name", "model", "batch", "install_date", "customer", "site"}
    services.do_set_mapping(world.admin, b, b.mapping)
    b = run(b)
    assert b.status == Status.PREVIEW, b.error
    assert (b.counts["create"], b.counts["update"], b.counts["error"]) == (2, 1, 0)
    assert Asset.objects.count() == 2  # nothing written before confirming
    services.do_confirm(world.admin, b)
    b = run(b)
    assert b.status == Status.COMMITTED
    a = Asset.objects.get(serial_number="SN-101")
    assert (a.model, a.install_date, a.site_id) == ("MX500", date(2023, 3, 15), world.site_a.id)
    assert Asset.objects.get(serial_number="SN-100").install_date == date(2023, 5, 1)
    assert Asset.objects.get(serial_number="SN-A-1").batch == "B9"
    assert MappingPreset.objects.get(kind="asset").mapping["serial_number"] == "序列号"
    assert AuditRecord.objects.filter(kind="ledger_import").count() == 1

    services.do_rollback(world.admin, b)
    b = run(b)
    assert b.status == Status.ROLLED_BACK, b.error
    assert not Asset.objects.filter(serial_number__in=["SN-100", "SN-101"]).exists()
    assert Asset.objects.get(serial_number="SN-A-1").batch == ""


def test_every_problem_names_row_column_and_reason(world):
    data = xlsx([ASSET_HEADER,
                 ["SN-1", "x", "m", "", "2024-13-40", "org-a", ""],
                 ["SN-2", "x", "m", "", "", "no-such", ""],
                 ["SN-3", "x", "m", "", "", "org-a", "site-b"],
                 ["SN-3", "x", "m", "", "", "org-a", ""],
                 ["", "x", "m", "", "", "org-a", ""]])
    b = services.do_upload(world.manager, kind="asset", filename="a.xlsx", data=data)
    services.do_set_mapping(world.manager, b, b.mapping)
    b = run(b)
    errs = errors_of(b)
    assert errs[2][0]["column"] == "安装日期" and "2024-13-40" in errs[2][0]["message"]
    assert errs[3][0]["column"] == "客户编码" and "no-such" in errs[3][0]["message"]
    assert errs[4][0]["column"] == "站点" and "another customer" in errs[4][0]["message"]
    assert "twice" in errs[5][-1]["message"] and "row 4" in errs[5][-1]["message"]
    assert errs[6][0]["column"] == "序列号"
    assert (b.counts["create"], b.counts["error"]) == (0, 5)
    services.do_confirm(world.manager, b)
    run(b)
    assert not Asset.objects.filter(serial_number__in=["SN-1", "SN-2"]).exists()


def test_a_rollback_is_refused_when_a_created_row_is_used_since(world):
    data = xlsx([["客户编码", "客户名称", "电话"], ["c-1", "丙医院", "021-5555 6666"], ["c-2", "丁医院", ""]])
    b = services.do_upload(world.admin, kind="customer", filename="c.xlsx", data=data)
    services.do_set_mapping(world.admin, b, b.mapping)
    run(b)
    services.do_confirm(world.admin, b)
    b = run(b)
    assert Customer.objects.get(code="c-1").phone == "02155556666"
    Site.objects.create(customer=Customer.objects.get(code="c-1"), code="s-new", name="新院区")
    services.do_rollback(world.admin, b)
    b = run(b)
    assert b.status == Status.COMMITTED
    assert "Row 2" in b.error and "c-1" in b.error
    assert Customer.objects.filter(code__in=["c-1", "c-2"]).count() == 2


def test_a_rollback_is_refused_when_a_row_was_edited_since(world):
    data = csv_bytes([["客户编码", "客户名称"], ["org-a", "甲医院（新名）"]])
    b = services.do_upload(world.admin, kind="customer", filename="c.csv", data=data)
    services.do_set_mapping(world.admin, b, b.mapping)
    run(b)
    services.do_confirm(world.admin, b)
    run(b)
    world.org_a.refresh_from_db()
    assert world.org_a.name == "甲医院(新名)"
    world.org_a.name = "甲医院 edited"
    world.org_a.save()
    services.do_rollback(world.admin, b)
    b = run(b)
    assert b.status == Status.COMMITTED and "changed" in b.error


def test_people_sites_and_contacts(world):
    people = xlsx([["工号", "姓名", "班组", "电话", "角色"],
                   ["E001", "张三", "Team X 华东", "138 0000 0009", "工程师"],
                   ["E002", "李四", "team-y", "12345", "管理员"]])
    b = services.do_upload(world.manager, kind="person", filename="p.xlsx", data=people)
    services.do_set_mapping(world.manager, b, b.mapping)
    b = run(b)
    errs = errors_of(b)
    assert "12345" not in str(errs) or errs  # phone too short is an error
    assert any("administrator" in e["message"] for e in errs[3])  # a manager may not make admins
    services.do_confirm(world.manager, b)
    run(b)
    u = User.objects.get(username="E001")
    assert (u.display_name, u.team_id, u.phone, u.role, u.has_usable_password()) == (
        "张三", world.team_x.id, "13800000009", "engineer", False)

    sites = csv_bytes([["站点编码", "站点名称", "客户名称", "地址", "纬度", "经度"],
                       ["s-9", "甲医院分院", "甲医院", "上海市 徐汇区 ", "31.2", "121.45"]], encoding="gb18030")
    b = services.do_upload(world.admin, kind="site", filename="s.csv", data=sites)
    services.do_set_mapping(world.admin, b, b.mapping)
    run(b)
    services.do_confirm(world.admin, b)
    b = run(b)
    s = Site.objects.get(code="s-9")
    assert (s.customer_id, s.address) == (world.org_a.id, "上海市 徐汇区")

    contacts = xlsx([["联系人", "客户编码", "站点", "电话"], ["王护士", "org-a", "site-a", "13800000001"],
                     ["赵工", "org-a", "s-9", "13900000002"]])
    b = services.do_upload(world.admin, kind="contact", filename="k.xlsx", data=contacts)
    services.do_set_mapping(world.admin, b, b.mapping)
    b = run(b)
    assert (b.counts["unchanged"], b.counts["create"]) == (1, 1), errors_of(b)


def test_an_external_id_matches_when_the_code_changed(world):
    first = xlsx([["客户编码", "客户名称", "外部编号"], ["c-1", "丙医院", "ERP-7"]])
    b = services.do_upload(world.admin, kind="customer", filename="c.xlsx", data=first)
    services.do_set_mapping(world.admin, b, b.mapping)
    run(b)
    services.do_confirm(world.admin, b)
    run(b)
    again = xlsx([["客户编码", "客户名称", "外部编号"], ["c-1b", "丙医院", "ERP-7"]])
    b = services.do_upload(world.admin, kind="customer", filename="c.xlsx", data=again)
    services.do_set_mapping(world.admin, b, b.mapping)
    b = run(b)
    assert b.counts["update"] == 1
    services.do_confirm(world.admin, b)
    run(b)
    assert Customer.objects.filter(code="c-1b").exists() and not Customer.objects.filter(code="c-1").exists()


def test_a_merged_header_cell_is_named_and_noted(world):
    data = xlsx([["序列号", "客户", None, "型号"], ["SN-9", "org-a", "甲医院", "V1"]], merge="B1:C1")
    b = services.do_upload(world.admin, kind="asset", filename="m.xlsx", data=data)
    assert b.headers[2] == "客户 (C)" and b.notes


def test_mapping_problems_are_named(world):
    b = services.do_upload(world.admin, kind="asset", filename="m.xlsx", data=xlsx([["序列号", "备注"], ["x", "y"]]))
    with pytest.raises(Exception) as e:
        services.do_set_mapping(world.admin, b, {"serial_number": 0})
    assert {p.field for p in e.value.problems} == {"customer"}


@pytest.mark.parametrize("data,name,message", [
    (b"", "a.xlsx", "empty"),
    (b"not a zip at all", "a.xlsx", "not a valid"),
    (b"x", "a.xls", ".xlsx and .csv"),
    (b"\xff\xfe\x00garbage\x81\x82", "a.csv", "neither"),
])
def test_bad_files_are_refused_with_a_clear_message(world, data, name, message):
    with pytest.raises(reader.FileRefused) as e:
        services.do_upload(world.admin, kind="asset", filename=name, data=data)
    assert message in str(e.value)


def test_zip_bombs_and_oversized_files_are_refused(world, settings):
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", "0" * (50 * 1024 * 1024))
    with pytest.raises(reader.FileRefused, match="zip bomb"):
        services.do_upload(world.admin, kind="asset", filename="b.xlsx", data=buf.getvalue())
    settings.LEDGERS_MAX_UPLOAD_BYTES = 1000
    with pytest.raises(reader.FileRefused, match="too large"):
        services.do_upload(world.admin, kind="asset", filename="b.xlsx", data=b"x" * 2000)


def test_xml_entities_are_refused(world):
    import io
    import zipfile

    src = io.BytesIO(xlsx([["序列号"], ["x"]]))
    out = io.BytesIO()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for i in zin.infolist():
            body = zin.read(i)
            if i.filename == "xl/workbook.xml":
                dtd = b'<!DOCTYPE x [<!ENTITY a "aaaa">]>'
                body = body.replace(b"?>", b"?>" + dtd, 1) if body.startswith(b"<?xml") else dtd + body
            zout.writestr(i, body)
    with pytest.raises(reader.FileRefused, match="entities"):
        services.do_upload(world.admin, kind="asset", filename="e.xlsx", data=out.getvalue())


def test_formulas_are_not_evaluated(world):
    data = xlsx([["客户编码", "客户名称"], ["f-1", "=CONCAT(\"a\",\"b\")"]])
    b = services.do_upload(world.admin, kind="customer", filename="f.xlsx", data=data)
    services.do_set_mapping(world.admin, b, b.mapping)
    b = run(b)
    # No cached value (never opened in Excel): the cell reads as blank, a required name is missing.
    assert b.counts["error"] == 1


def test_engineers_and_customers_may_not_import(world):
    for who in (world.eng_x, world.cust_a, world.dispatcher, world.finance):
        with pytest.raises(Exception, match="administrators and managers"):
            services.do_upload(who, kind="asset", filename="a.xlsx", data=xlsx([["序列号"], ["x"]]))
    assert not ImportBatch.objects.exists()


def test_contacts_created_stay_with_the_contact(world):
    assert Contact.objects.count() == 1


def test_both_readers_give_the_same_cells_for_a_messy_sheet(settings):
    """Leading blank rows and columns, a merged title, dates as dates and as serial
    numbers, numbers stored as text, full-width characters, trailing spaces, empty
    trailing rows: row numbers and cells are the same whichever reader runs."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "台账"
    ws["C3"] = "2024年 设备台账"
    ws.merge_cells("C3:F3")
    ws.append([])
    ws["C5"], ws["D5"], ws["E5"], ws["F5"] = "序列号", "安装日期", "数量", "备注"
    ws["C6"], ws["D6"], ws["E6"], ws["F6"] = "ＳＮ－００１ ", date(2021, 3, 4), "12", "  迈瑞  "
    ws["C7"], ws["D7"], ws["E7"], ws["F7"] = "SN-002", 44197, 3.0, None
    ws["C8"], ws["D8"], ws["E8"] = "SN-003", datetime(2022, 1, 2, 8, 30), 2.5
    ws["C12"] = None  # empty trailing rows
    import io

    buf = io.BytesIO()
    wb.save(buf)
    data = buf.getvalue()
    fast = list(reader.rows(data, "xlsx", "台账", 1))
    fast_top = [(i.name, [r for r in i.top if any(r)]) for i in reader.sheets(data, "xlsx")]
    settings.LEDGERS_FAST_READ_MAX_BYTES = 0
    slow = list(reader.rows(data, "xlsx", "台账", 1))
    slow_top = [(i.name, [r for r in i.top if any(r)]) for i in reader.sheets(data, "xlsx")]
    assert fast == slow
    assert fast_top == slow_top == [("台账", [cells for _n, cells in fast])]
    assert [n for n, _cells in fast] == [3, 5, 6, 7, 8]
    assert fast[2][1][2:] == ["SN-001", "2021-03-04", "12", "迈瑞"]
    assert fast[3][1][2:5] == ["SN-002", "44197", "3"]


HISTORY_HEADER = ["原工单号", "工单类型", "标题", "客户", "序列号", "优先级", "状态", "报修时间", "完成时间", "工程师",
                  "处理结果", "满意度"]


def test_historical_work_orders_are_imported_closed_with_their_dates_and_rolled_back(world):
    from closeloop.workorders.models import ExternalRef as WorkOrderRef
    from closeloop.workorders.models import TimelineEvent, WorkOrder
    from closeloop.workorders.selectors import visible_work_orders

    serial = world.asset_a.serial_number
    data = xlsx([HISTORY_HEADER,
                 ["GD-2023-001", "维修", "呼吸机报警", "甲医院", serial, "紧急", "已完成", datetime(2023, 5, 1, 9, 30),
                  "2023-05-02 16:00", "eng_x", "更换传感器", 5],
                 ["GD-2023-002", "repair", "监护仪黑屏", "org-b", "", "", "作废", "2023/06/01", "", "", "", ""],
                 ["GD-2023-003", "维修", "处理中的单", "org-a", "", "", "处理中", "2023-07-01", "", "", "", ""],
                 ["GD-2023-004", "维修", "没有这个人", "org-a", "", "", "已关闭", "2023-07-02", "", "张三", "", ""],
                 ["GD-2023-005", "维修", "先关后报", "org-a", "", "", "已关闭", "2023-07-05", "2023-07-03", "", "", ""],
                 ["GD-2023-006", "维修", "设备不是这家的", "org-b", serial, "", "已关闭", "2023-07-05", "", "", "", ""]],
                title_rows=[["历史工单台账"]])
    b = services.do_upload(world.manager, kind="work_order", filename="历史工单.xlsx", data=data)
    assert {"old_number", "type", "title", "customer", "asset", "priority", "status", "reported_at", "closed_at",
            "engineer", "resolution", "rating"} <= set(b.mapping)
    services.do_set_mapping(world.manager, b, b.mapping)
    b = run(b)
    assert b.status == Status.PREVIEW, b.error
    assert (b.counts["create"], b.counts["error"]) == (2, 4)
    problems = {n: [e["column"] for e in errs] for n, errs in errors_of(b).items()}
    assert problems == {5: ["状态"], 6: ["工程师"], 7: ["完成时间"], 8: ["序列号"]}
    assert "neither closed nor cancelled" in errors_of(b)[5][0]["message"]
    assert WorkOrder.objects.count() == 0  # nothing before confirming

    services.do_confirm(world.manager, b)
    b = run(b)
    assert b.status == Status.COMMITTED, b.error
    closed = WorkOrder.objects.get(external_refs__external_id="GD-2023-001")
    assert closed.code.startswith("WD20230501")
    assert (closed.status, closed.priority, closed.rating, closed.resolution) == ("closed", "urgent", 5, "更换传感器")
    assert (closed.customer_id, closed.asset_id, closed.assignee_id, closed.team_id) == (
        world.org_a.id, world.asset_a.id, world.eng_x.id, world.team_x.id)
    from django.utils import timezone

    assert f"{timezone.localtime(closed.closed_at):%Y-%m-%d %H:%M}" == "2023-05-02 16:00"  # business time
    assert [(e.kind, e.to_state, e.data.get("imported")) for e in closed.events.order_by("at")] == [
        ("created", "new", True), ("transition", "closed", True)]
    cancelled = WorkOrder.objects.get(external_refs__external_id="GD-2023-002")
    assert (cancelled.status, cancelled.customer_id, cancelled.cancelled_at is not None) == (
        "cancelled", world.org_b.id, True)
    # Found by its old number, and seen by whom it concerns only.
    assert visible_work_orders(world.cust_a).filter(id=closed.id).exists()
    assert not visible_work_orders(world.cust_b).filter(id=closed.id).exists()
    from closeloop.workorders.selectors import apply_search, find_by_external_ref

    assert list(find_by_external_ref(world.dispatcher, "ledger", "GD-2023-001")) == [closed]
    assert list(apply_search(visible_work_orders(world.dispatcher), "GD-2023-001")) == [closed]

    # The same file again: already imported, nothing duplicated.
    again = services.do_upload(world.manager, kind="work_order", filename="历史工单.xlsx", data=data)
    services.do_set_mapping(world.manager, again, again.mapping)
    again = run(again)
    assert (again.counts["create"], again.counts["unchanged"]) == (0, 2)

    # Rolled back: gone with their events and old numbers.
    services.do_rollback(world.manager, b)
    b = run(b)
    assert b.status == Status.ROLLED_BACK, b.error
    assert not WorkOrder.objects.exists()
    assert not TimelineEvent.objects.exists() and not WorkOrderRef.objects.exists()


def test_a_history_rollback_is_refused_once_someone_worked_on_an_imported_order(world):
    from closeloop.workorders import timeline
    from closeloop.workorders.models import WorkOrder

    data = xlsx([HISTORY_HEADER, ["OLD-1", "维修", "旧单", "org-a", "", "", "", "2024-01-02", "", "", "", ""]])
    b = services.do_upload(world.admin, kind="work_order", filename="h.csv.xlsx", data=data)
    services.do_set_mapping(world.admin, b, b.mapping)
    b = run(b)
    services.do_confirm(world.admin, b)
    b = run(b)
    wo = WorkOrder.objects.get()
    assert wo.status == "closed"  # a blank status is closed
    timeline.append_event(wo, "comment", actor=world.dispatcher, data={"text": "客户又来电"})
    services.do_rollback(world.admin, b)
    b = run(b)
    assert b.status == Status.COMMITTED
    assert "OLD-1" in b.error and WorkOrder.objects.filter(id=wo.id).exists()
