"""What people see, in Chromium: pages drawn the way they are meant to be."""

import pytest
from playwright.sync_api import expect

from .test_journey import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_shortcuts_dialog_is_closed_until_asked_for(world, browse):
    page = browse(locale="zh-CN", width=1440, height=900)
    login(page, "dispatcher")
    for path in ("/work-orders/", "/board/", "/dashboard/"):
        page.goto(path)
        dialog = page.get_by_test_id("shortcuts-dialog")
        expect(dialog).to_be_hidden()
        page.locator("body").press("?")
        expect(dialog).to_be_visible()
        button = dialog.get_by_role("button")
        expect(button).to_have_text("关闭")
        button.click()
        expect(dialog).to_be_hidden()
    assert browse.watch.console_errors == [] and browse.watch.csp_violations() == []


# Lines of text an element is drawn on (a label wrapped one character a line has many).
_TOP_BAR = """() => {
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const lines = (el) => { const r = document.createRange(); r.selectNodeContents(el);
    return new Set([...r.getClientRects()].filter((x) => x.width > 0).map((x) => Math.round(x.top))).size; };
  const bar = document.querySelector('[data-testid=navbar]');
  const labels = [...bar.querySelectorAll('.nav-link-title, .cl-brand-text, [data-testid=user-name]')].filter(visible);
  return {
    overflow: document.scrollingElement.scrollWidth - innerWidth,
    wrapped: labels.filter((el) => lines(el) > 1).map((el) => el.textContent.trim()),
    tops: [...new Set([...bar.querySelectorAll('[data-nav-bar] > li')].filter(visible)
                     .map((li) => Math.round(li.getBoundingClientRect().top)))],
    active: [...bar.querySelectorAll('[data-nav-bar] > li.active, [data-nav-bar] .dropdown-item.active')]
              .filter((el) => !el.classList.contains('d-none')).map((el) => el.dataset.navItem || el.dataset.testid || el.textContent.trim()),
    searches: [...document.querySelectorAll('input[type=search]')].filter(visible).length,
    more: [...bar.querySelectorAll('[data-nav-more] .dropdown-item')].filter((a) => !a.classList.contains('d-none'))
            .map((a) => a.dataset.navItem),
  };
}"""


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_the_top_bar_is_one_line_with_one_active_item_and_one_search(world, browse, locale):
    for width in (1440, 1280):
        page = browse(locale=locale, width=width, height=900)
        login(page, "admin")
        for path, active in [("/work-orders/", "workorders"), ("/board/", "board"), ("/dispatch/roster/",
                                                                                   "dispatch-roster")]:
            page.goto(path)
            bar = page.evaluate(_TOP_BAR)
            where = f"{locale} {width} {path}: {bar}"
            assert bar["overflow"] <= 0 and bar["wrapped"] == [] and len(bar["tops"]) == 1, where
            assert bar["active"] == [active], where
            assert bar["searches"] == 1, where
            if width == 1280 and locale == "en-US":
                assert bar["more"], where  # the admin's entries do not all fit: some are under "More"
                page.get_by_test_id("nav-more").click()
                expect(page.locator(f"#navbar-more [data-nav-item={bar['more'][0]}]")).to_be_visible()
    # A phone: the menu is collapsed behind the toggler, and opens as a list.
    page = browse(locale=locale, width=390, height=844)
    login(page, "admin")
    page.goto("/work-orders/")
    assert page.evaluate("document.scrollingElement.scrollWidth - innerWidth") <= 0
    expect(page.get_by_test_id("nav-workorders")).to_be_hidden()
    page.locator(".navbar-toggler").click()
    expect(page.get_by_test_id("nav-workorders")).to_be_visible()
    expect(page.get_by_test_id("nav-more")).to_be_hidden()
    assert browse.watch.console_errors == [] and browse.watch.csp_violations() == []
