"""The interactive API docs load from our own static files (no CDN), inside our CSP."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("width", [1440, 390])
def test_api_docs_render_from_local_files_without_csp_violations(world, browse, screenshot_dir, live_server, width):
    page = browse(locale="en-US", width=width, height=900)
    requested = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto("/api/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("closeloop API")
    # The operations are listed from our OpenAPI document.
    expect(page.locator(".opblock-summary-path").filter(has_text="/api/v1/work-orders").first).to_be_visible()
    page.screenshot(path=str(screenshot_dir / f"api-docs-{width}.png"), full_page=False)
    outside = [u for u in requested if not u.startswith(live_server.url) and not u.startswith("data:")]
    assert outside == [], outside
    assert browse.watch.csp_violations() == []
    assert browse.watch.page_errors == []
    assert browse.watch.bad_responses == []
