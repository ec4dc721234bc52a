"""The lookup of a work order shows its CRM and ERP records from the (fake) systems beside our own
check-in, loaded after the page; a slow system shows "did not answer in time" with a retry link."""

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .test_journey import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = {"zh-CN": {"timeout": "未及时响应", "title": "外部系统信息"},
        "en-US": {"timeout": "did not answer in time", "title": "Other systems"}}


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_the_lookup_shows_crm_erp_and_our_check_in_side_by_side(world, browse, settings, locale):
    from closeloop.connectors import services
    from closeloop.connectors.testing import connect, fake_systems
    from closeloop.core.clock import now
    from closeloop.fieldwork.models import CheckIn
    from closeloop.workorders.services import do_create_work_order

    release = __import__("threading").Event()
    server = fake_systems(settings, slow_seconds=30, release=release)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        wo = do_create_work_order(actor=world.dispatcher, data={
            "type": "repair", "title": "服务器电源报警", "site": "site-a", "assignee": "eng_x"})
        connect(world.admin, base, wo)
        services.do_create_connector(actor=world.admin, data={
            "key": "legacy", "name": "Legacy", "order": 30, "url_template": base + "/slow/{code}", "timeout_ms": 500,
            "fields": [{"path": "note", "label": "Note"}]})
        CheckIn.objects.create(work_order=wo, actor=world.eng_x, at=now(), latitude=31.23041, longitude=121.47370,
                               accuracy_m=12, distance_m=40, scanned="site:site-a")
        shots = os.environ.get("CLOSELOOP_SCREENSHOT_DIR")
        for width, height in ((1440, 900), (390, 844)):
            page = browse(locale=locale, width=width, height=height)
            login(page, "dispatcher")
            page.goto(f"/lookup/?q={wo.code}")
            panel = page.get_by_test_id("context-panel")
            expect(panel).to_contain_text(TEXT[locale]["title"])
            systems = panel.get_by_test_id("context-system")
            expect(systems).to_have_count(4)
            expect(panel.locator("[data-system=checkin][data-status=ok]")).to_contain_text("31.23041")
            expect(panel.locator("[data-system=crm][data-status=ok]")).to_contain_text("商机阶段")
            expect(panel.locator("[data-system=erp][data-status=ok]")).to_contain_text("承诺交期")
            slow = panel.locator("[data-system=legacy][data-status=timeout]")
            expect(slow).to_contain_text(TEXT[locale]["timeout"])
            assert page.evaluate("document.scrollingElement.scrollWidth - innerWidth") <= 0
            if shots:
                Path(shots).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=f"{shots}/connectors-lookup-{locale}-{width}.png", full_page=True)
            # retry asks that system again and replaces only its card
            slow.get_by_test_id("context-retry").click()
            expect(panel.locator("[data-system=legacy][data-status=timeout]")).to_have_count(1)
            expect(systems).to_have_count(4)
            # the work order page loads the same context in its side column
            page.goto(f"/work-orders/{wo.code}/")
            expect(page.locator("[data-testid=context-panel] [data-system=erp][data-status=ok]")).to_be_visible()
            if shots:
                page.screenshot(path=f"{shots}/connectors-wo-{locale}-{width}.png", full_page=True)
        assert browse.watch.console_errors == [] and browse.watch.csp_violations() == []
        assert browse.watch.bad_responses == []
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_the_settings_form_at_both_widths(world, browse, settings):
    from closeloop.connectors.testing import connect, fake_systems

    server = fake_systems(settings)
    try:
        crm = connect(world.admin, f"http://127.0.0.1:{server.server_address[1]}")
        shots = os.environ.get("CLOSELOOP_SCREENSHOT_DIR")
        for locale in ("zh-CN", "en-US"):
            for width, height in ((1440, 900), (390, 844)):
                page = browse(locale=locale, width=width, height=height)
                login(page, "admin")
                page.goto("/settings/connectors/")
                expect(page.get_by_test_id("connector")).to_have_count(2)
                page.goto(f"/settings/connectors/{crm.pk}/")
                expect(page.get_by_test_id("secret")).to_have_value("")
                assert page.evaluate("document.scrollingElement.scrollWidth - innerWidth") <= 0
                if shots:
                    page.screenshot(path=f"{shots}/connectors-edit-{locale}-{width}.png", full_page=True)
                page.locator("#f-timeout").fill("60000")
                page.get_by_test_id("connector-save").click()
                expect(page.get_by_test_id("form-errors")).to_be_visible()
                expect(page.locator("#f-timeout")).to_have_class(__import__("re").compile("is-invalid"))
    finally:
        server.shutdown()
        server.server_close()
