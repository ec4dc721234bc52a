"""SLA policies and business calendars in Settings (administrators, as the SLA API), the holiday editor
and its import, and the warnings about calendars without holiday data (pages and `closeloop check`)."""

from datetime import datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from closeloop.sla.checks import check_holiday_data
from closeloop.sla.models import BusinessCalendar, SLAPolicy

PERSONAS = ("anonymous", "cust_a", "eng_x", "dispatcher", "finance", "manager", "admin")
ADMINS = ("login", 404, 404, 404, 404, 404)
MATRIX = {
    ("GET", "/settings/sla-policies/"): ADMINS + (200,),
    ("GET", "/settings/sla-policies/new"): ADMINS + (200,),
    ("GET", "/settings/sla-policies/std/"): ADMINS + (200,),
    ("POST", "/settings/sla-policies/std/active"): ADMINS + (302,),
    ("GET", "/settings/calendars/"): ADMINS + (200,),
    ("GET", "/settings/calendars/cn/"): ADMINS + (200,),
    ("POST", "/settings/calendars/cn/holidays"): ADMINS + (302,),
    ("POST", "/settings/calendars/cn/holidays/import"): ADMINS + (302,),
}
IN_2026 = datetime(2026, 12, 7, 9, 0).astimezone()


@pytest.fixture
def sla(world):
    cn = BusinessCalendar.objects.create(key="cn", name="中国工作日", kind="china", tz="Asia/Shanghai",
                                         week={str(d): [["09:00", "18:00"]] for d in range(5)})
    SLAPolicy.objects.create(key="std", name="标准", order=100, calendar=cn, targets={"response": 7200},
                             updated_at=IN_2026)
    return cn


@pytest.mark.parametrize(("method", "path"), list(MATRIX))
def test_each_persona_gets_the_listed_outcome(world, sla, method, path):
    wrong = []
    for persona, expected in zip(PERSONAS, MATRIX[(method, path)], strict=True):
        c = Client()
        if persona != "anonymous":
            c.force_login(getattr(world, persona))
        r = c.get(path) if method == "GET" else c.post(path, {"active": "1", "year": "2027",
                                                              "holidays": "2027-01-01"})
        got = "login" if r.status_code == 302 and "/login/" in r["Location"] else r.status_code
        if got != expected:
            wrong.append((persona, expected, got))
    assert not wrong


def test_an_admin_creates_and_edits_a_policy_in_minutes(world, sla):
    c = world.browser_client(world.admin)
    r = c.post("/settings/sla-policies/new", {
        "name": "金牌客户", "key": "gold", "order": "10", "calendar": "cn",
        "condition": 'wo.priority == "urgent"', "target_response": "30", "target_resolution": "480",
        "response_actions": ["depart", "arrive"],
        "ladder": '[{"level": 1, "pct": 80, "actions": ["remind_assignee"]}]'})
    assert r.status_code == 302, r.content.decode()[:3000]
    p = SLAPolicy.objects.get(key="gold")
    assert (p.order, p.targets, p.response_actions) == (10, {"response": 1800, "resolution": 28800},
                                                         ["depart", "arrive"])
    assert p.ladder == [{"level": 1, "pct": 80, "actions": ["remind_assignee"]}]
    html = c.get("/settings/sla-policies/gold/").content.decode()
    assert 'value="30"' in html and 'data-testid="deactivate"' in html
    r = c.post("/settings/sla-policies/gold/", {"name": "金牌", "order": "10", "calendar": "cn",
                                                "target_response": "45"})
    assert r.status_code == 302
    p.refresh_from_db()
    assert p.name == "金牌" and p.targets == {"response": 2700} and p.version == 2


def test_bad_policy_input_is_named_beside_each_input_and_nothing_is_written(world, sla):
    c = world.browser_client(world.admin)
    r = c.post("/settings/sla-policies/new", {
        "name": "x", "key": "Bad Key", "order": "x", "calendar": "nope", "condition": "wo.priority ==",
        "target_response": "-5", "ladder": "[not json"})
    html = r.content.decode()
    assert r.status_code == 200
    for field in ("target_response", "ladder"):
        assert f'data-testid="error-{field}"' in html, field
    r = c.post("/settings/sla-policies/new", {
        "name": "x", "key": "Bad Key", "order": "x", "calendar": "nope", "condition": "wo.priority ==",
        "target_response": "5", "ladder": '[{"level": 1, "actions": ["fly"]}]'})
    html = r.content.decode()
    for field in ("key", "order", "calendar", "condition", "ladder"):
        assert f'data-testid="error-{field}"' in html, field
    assert not SLAPolicy.objects.filter(name="x").exists()


@time_machine.travel(IN_2026, tick=False)
def test_a_calendar_in_use_without_next_years_holidays_is_warned_about_until_filled_in(world, sla):
    """chinesecalendar covers 2026 but not 2027: the checklist, the SLA pages and `closeloop check` warn;
    typing in 2027's holidays ends the warning, and the dates count."""
    from closeloop.administration.models import CompanySettings
    from closeloop.core.clock import now

    CompanySettings.objects.create(name="公司", time_zone="Asia/Shanghai", language="zh-hans", created_at=now())
    c = world.browser_client(world.admin)
    for page in ("/settings/setup/", "/settings/calendars/", "/settings/sla-policies/"):
        assert 'data-testid="holiday-gaps"' in c.get(page).content.decode(), page
    warnings = check_holiday_data()
    assert [w.id for w in warnings] == ["sla.W001"] and "2027" in warnings[0].msg

    html = c.get("/settings/calendars/cn/?year=2027").content.decode()
    assert 'data-testid="not-bundled"' in html
    r = c.post("/settings/calendars/cn/holidays", {"year": "2027", "holidays": "2027-01-01\n2027-10-01..2027-10-07",
                                                   "workdays": "2027-10-09"})
    assert r.status_code == 302
    sla.refresh_from_db()
    assert "2027-10-04" in sla.holidays and sla.workdays == ["2027-10-09"]
    assert check_holiday_data() == []
    assert 'data-testid="holiday-gaps"' not in c.get("/settings/setup/").content.decode()
    from datetime import date

    spec = sla.spec()
    assert spec.hours_on(date(2027, 10, 4)) == () and spec.hours_on(date(2027, 10, 9)) == (("09:00", "18:00"),)

    r = c.post("/settings/calendars/cn/holidays", {"year": "2027", "holidays": "2028-01-01\n2027-02-30"})
    assert r.status_code == 422 and 'data-testid="error-holidays"' in r.content.decode()
    sla.refresh_from_db()
    assert "2027-10-04" in sla.holidays  # nothing half-written


def _xlsx(rows) -> bytes:
    import io

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_holidays_are_imported_from_a_messy_xlsx_or_csv(world, sla):
    from datetime import date

    c = world.browser_client(world.admin)
    data = _xlsx([["2028 年节假日安排"], ["日期", "类型", "说明"], [date(2028, 1, 1), "休", "元旦"],
                  [46753 + 365, "假", "serial"], ["２０２８/２/１０", "休", None], ["2028年2月6日", "班", "调休上班"],
                  [None, None, None]])
    r = c.post("/settings/calendars/cn/holidays/import",
               {"year": "2028", "file": SimpleUploadedFile("2028.xlsx", data)})
    assert r.status_code == 302
    sla.refresh_from_db()
    assert {"2028-01-01", "2028-02-10"} <= set(sla.holidays) and sla.workdays == ["2028-02-06"]

    csv = "日期,类型\n2029-01-01,休\n2029-02-30,休\n".encode("gb18030")
    r = c.post("/settings/calendars/cn/holidays/import", {"year": "2029", "file": SimpleUploadedFile("h.csv", csv)},
               follow=True)
    assert "2029-02-30" in r.content.decode() and not any(d.startswith("2029") for d in
                                                          BusinessCalendar.objects.get(key="cn").holidays)
    r = c.post("/settings/calendars/cn/holidays/import", {"year": "2029",
                                                          "file": SimpleUploadedFile("h.xlsx", b"PK not a zip")},
               follow=True)
    assert r.status_code == 200 and 'alert' in r.content.decode()
