"""Charts as PNG files, and the customer's own service figures in Chromium: the "PNG" button of
every chart on the analytics overview, the heat map and the portal's "Service figures" page
downloads a real PNG named after the chart and the period; the portal page draws at both
widths and languages, reached from the portal's tabs."""

import struct
import zlib

import pytest
from playwright.sync_api import expect

from closeloop.analytics.tests.test_measures import story  # noqa: F401 - the scripted work orders

from .test_journey import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PERIOD = "?from=2026-11-01&to=2026-11-07"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_download(page, testid: str) -> tuple[str, bytes]:
    button = page.get_by_test_id(testid)
    expect(button).to_be_enabled()  # enabled once its chart is drawn
    with page.expect_download() as info:
        button.click()
    download = info.value
    data = open(download.path(), "rb").read()
    # twice the chart's own pixels (pixelRatio 2)
    css = page.evaluate("(c) => document.querySelector(`[data-chart='${c}']`).clientWidth",
                        button.get_attribute("data-png"))
    assert struct.unpack(">I", data[16:20])[0] == 2 * css
    return download.suggested_filename, data


def _first_pixel(data: bytes) -> tuple:
    """The top-left pixel: the first scanline's first pixel is stored as is whatever its filter."""
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    colour = data[25]
    channels = {2: 3, 6: 4}[colour]
    return tuple(zlib.decompress(idat)[1:1 + channels])


def _check_png(data: bytes, min_width: int):
    assert data[:8] == PNG_MAGIC
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= min_width and height >= 200, (width, height)  # pixel ratio 2
    assert len(data) > 5_000  # a drawn chart, not an empty canvas
    assert set(_first_pixel(data)) == {255}  # white, opaque: the canvas's own background is transparent


def test_every_analytics_chart_downloads_as_png(story, browse):  # noqa: F811
    page = browse(locale="en-US", width=1440, height=900)
    login(page, "manager")
    page.goto("/analytics/" + PERIOD)
    for chart in ("intake", "channels", "sla", "states"):
        name, data = _png_download(page, f"png-{chart}")
        assert name == f"analytics-{chart}-2026-11-01_2026-11-07.png"
        _check_png(data, min_width=400)
    page.goto("/analytics/heatmap/" + PERIOD + "&by=person")
    name, data = _png_download(page, "png-heatmap")
    assert name == "analytics-heatmap-person-2026-11-01_2026-11-07.png"
    _check_png(data, min_width=800)
    assert browse.watch.console_errors == [] and browse.watch.csp_violations() == []
    assert browse.watch.page_errors == []


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_customer_figures_page_and_its_png(story, browse, screenshot_dir, locale):  # noqa: F811
    for width, height in ((1440, 900), (390, 844)):
        page = browse(locale=locale, width=width, height=height)
        login(page, "cust_a")
        page.goto("/portal/")
        page.get_by_test_id("portal-nav-portal-figures").click()
        page.wait_for_url("**/portal/figures/")
        page.get_by_test_id("period-year").click()
        page.wait_for_url("**/portal/figures/?period=year")
        expect(page.get_by_test_id("chart-volume")).to_have_attribute("data-ready", "1")
        expect(page.get_by_test_id("figures-org")).to_contain_text("甲医院")
        assert page.evaluate("document.scrollingElement.scrollWidth - innerWidth") <= 0, width
        page.screenshot(path=str(screenshot_dir / f"customer-{locale}-{width}-figures.png"), full_page=True)
        if width == 1440:
            name, data = _png_download(page, "png-volume")
            assert name.startswith("service-figures-volume-") and name.endswith(".png")
            _check_png(data, min_width=400)
    assert browse.watch.console_errors == [] and browse.watch.csp_violations() == []
    assert browse.watch.bad_responses == [] and browse.watch.page_errors == []
