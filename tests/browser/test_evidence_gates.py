"""A type's required photo and signature fields on the work order page's closure gates card, and the
close refused naming them, in a real browser at 1440 px (English) and 390 px (zh-Hans)."""

import pytest
from playwright.sync_api import expect

from closeloop.workorders import types_services
from closeloop.workorders.lifecycle import S
from closeloop.workorders.tests.factories import make_wo

from .test_journey import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(("locale", "width", "tag"), [("en-US", 1440, "1440-en"), ("zh-CN", 390, "390-zh")])
def test_the_gates_card_names_the_required_evidence_fields(world, browse, screenshot_dir, locale, width, tag):
    for data in (
        {"key": "plate_photo", "label": "铭牌照片", "kind": "photo", "required": True},
        {"key": "acceptance", "label": "验收签字", "kind": "signature", "required": True},
    ):
        types_services.do_create_field(actor=world.admin, wo_type=world.repair, data=data)
    wo = make_wo(world, status=S.INVOICED, invoice_number="INV-1")
    page = browse(locale=locale, width=width, height=900)
    login(page, "dispatcher")
    page.goto(f"/work-orders/{wo.code}/")
    card = page.get_by_test_id("gates")
    expect(card).to_contain_text("铭牌照片")
    expect(card).to_contain_text("验收签字")
    card.scroll_into_view_if_needed()
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
    page.screenshot(path=str(screenshot_dir / f"evidence-gates-{tag}.png"), full_page=True)
