"""Service contracts in Settings, in a real browser: a manager adds one from the customer's page,
sees a bad date range refused beside the field, edits and deactivates it. Looked at at 1440 px and
390 px, in English and zh-Hans."""

import pytest
from playwright.sync_api import expect

from closeloop.customers.models import ServiceContract

from .test_journey import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _fits(page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the screen"


@pytest.mark.parametrize(("locale", "width", "tag"), [("en-US", 1440, "1440-en"), ("zh-CN", 390, "390-zh")])
def test_a_manager_keeps_a_customers_contracts(world, browse, screenshot_dir, locale, width, tag):
    page = browse(locale=locale, width=width, height=900)
    login(page, "manager")
    page.goto("/settings/customers/org-a/")
    expect(page.get_by_test_id("contracts")).to_be_visible()
    page.get_by_test_id("add-contract").click()
    expect(page.locator("#id_customer")).to_have_value("org-a")
    page.locator("#id_number").fill("HT-2027-001")
    page.locator("#id_starts_on").fill("2027-06-01")
    page.locator("#id_ends_on").fill("2027-01-01")
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("error-ends_on")).to_be_visible()
    _fits(page)
    page.screenshot(path=str(screenshot_dir / f"contract-error-{tag}.png"), full_page=True)
    assert not ServiceContract.objects.filter(number="HT-2027-001").exists()
    page.locator("#id_ends_on").fill("2027-12-31")
    page.locator("#id_tier").select_option("platinum")
    page.get_by_test_id("save").click()
    expect(page).to_have_url("/settings/customers/org-a/")
    expect(page.get_by_test_id("contract")).to_contain_text("HT-2027-001")
    _fits(page)
    page.screenshot(path=str(screenshot_dir / f"customer-contracts-{tag}.png"), full_page=True)
    page.get_by_test_id("contract").first.click()
    page.get_by_test_id("deactivate").click()
    expect(page.get_by_test_id("inactive")).to_be_visible()
    _fits(page)
    page.screenshot(path=str(screenshot_dir / f"contract-edit-{tag}.png"), full_page=True)
    assert not ServiceContract.objects.get(number="HT-2027-001").is_active
    page.goto("/settings/contracts/")
    expect(page.get_by_test_id("rows")).to_contain_text("HT-2027-001")
    _fits(page)
    page.screenshot(path=str(screenshot_dir / f"contract-list-{tag}.png"), full_page=True)
    assert browse.watch.console_errors == [] and browse.watch.page_errors == []
