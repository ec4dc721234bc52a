"""SLA policies and business calendars in a real browser: the administrator sees the missing-holidays
warning, fills in next year's holidays in the calendar's holiday editor and the warning goes. The pages
are looked at at 1440 px (en) and 390 px (zh-Hans)."""

from datetime import datetime

import pytest
import time_machine
from playwright.sync_api import Page, expect

from closeloop.sla.models import BusinessCalendar, SLAPolicy

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page: Page, who: str) -> None:
    page.goto("/login/")
    page.locator("#id_username").fill(who)
    page.locator("#id_password").fill(f"pw-{who}-123")
    page.get_by_test_id("login-submit").click()
    page.wait_for_url(lambda url: "/login/" not in url)


def _fits(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the screen"


@time_machine.travel(datetime(2026, 12, 7, 9, 0).astimezone(), tick=True)
def test_the_admin_fills_in_next_years_holidays(world, browse, screenshot_dir):
    cn = BusinessCalendar.objects.create(key="cn", name="中国工作日", kind="china", tz="Asia/Shanghai",
                                         week={str(d): [["09:00", "18:00"]] for d in range(5)})
    SLAPolicy.objects.create(key="std", name="标准", order=100, calendar=cn, targets={"response": 7200},
                             updated_at=datetime(2026, 12, 7).astimezone())
    page = browse(locale="en-US", width=1440, height=900)
    _login(page, "admin")
    page.goto("/settings/sla-policies/")
    expect(page.get_by_test_id("holiday-gaps")).to_contain_text("2027")
    _fits(page)
    page.screenshot(path=str(screenshot_dir / "sla-policies-1440-en.png"), full_page=True)
    page.goto("/settings/sla-policies/std/")
    _fits(page)
    page.screenshot(path=str(screenshot_dir / "sla-policy-1440-en.png"), full_page=True)
    page.get_by_test_id("holiday-gaps").get_by_role("link").first.click()
    page.get_by_test_id("holiday-years").get_by_role("link", name="2027").click()
    expect(page.get_by_test_id("not-bundled")).to_be_visible()
    form = page.get_by_test_id("holiday-year-form")
    form.locator("[name=holidays]").fill("2027-01-01\n2027-10-01..2027-10-07")
    form.locator("[name=workdays]").fill("2027-10-09")
    form.get_by_test_id("holiday-save").click()
    expect(page.get_by_test_id("holiday-gaps")).to_have_count(0)
    _fits(page)
    page.screenshot(path=str(screenshot_dir / "calendar-1440-en.png"), full_page=True)
    cn.refresh_from_db()
    assert len([d for d in cn.holidays if d.startswith("2027")]) == 8

    phone = browse(locale="zh-CN", width=390, height=844)
    _login(phone, "admin")
    for name, url in (("calendar", "/settings/calendars/cn/?year=2027"), ("sla-policy", "/settings/sla-policies/std/"),
                      ("calendars", "/settings/calendars/")):
        phone.goto(url)
        _fits(phone)
        phone.screenshot(path=str(screenshot_dir / f"{name}-390-zh.png"), full_page=True)
    assert browse.watch.page_errors == []
