"""A real Chromium (Debian's /usr/bin/chromium) driven by Playwright against pytest-django's live server.

Skipped when the browser is missing, unless CLOSELOOP_REQUIRE_BROWSER=1 (CI), where that is a failure.
"""

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings

CHROMIUM = os.environ.get("CLOSELOOP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DIST = Path(settings.BASE_DIR) / "static" / "dist"

# Collects CSP violations the page itself sees (console messages are checked too).
_CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sourceFile || '') + ':'
                              + (e.lineNumber || ''));
});
"""


def _require_browser():
    if os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK):
        return
    reason = f"Chromium not found at {CHROMIUM} (Debian package 'chromium'; CI installs it in .ci/run)"
    if os.environ.get("CLOSELOOP_REQUIRE_BROWSER") == "1":
        pytest.fail(reason + " and CLOSELOOP_REQUIRE_BROWSER=1")
    pytest.skip(reason)


@pytest.fixture
def browser(transactional_db, live_server, monkeypatch):
    """One Chromium per test, started after the database is ready and stopped before it is flushed.

    Playwright's sync API keeps an event loop running in this thread while it lives, so
    Django's ORM (used by the test between browser steps) must be told that is fine here.
    """
    _require_browser()
    if not (DIST / "app.js").exists() or not (DIST / "icons.svg").exists():
        pytest.fail(f"front-end assets are not built in {DIST}: run `npm run build` (make does)")
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # The live server answers in threads that keep a browser's keep-alive socket, and with it a
    # persistent connection (CONN_MAX_AGE) that would outlive the test and block dropping the
    # PostgreSQL test database. Close each request's connection instead.
    from django.db import connection, connections

    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
        # Django keeps connections in context-local storage, and while Playwright runs, the test's
        # ORM calls get their own connection: close it, or PostgreSQL cannot drop the test database.
        connections.close_all()


@dataclass
class Watch:
    """What went wrong in the pages of one test: CSP violations, console errors, failed loads."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)
    pages: list = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        found = [m for m in self.console_errors if re.search(r"Content Security Policy|Refused to", m)]
        for page in self.pages:
            if not page.is_closed():
                found += page.evaluate("window.__cspViolations || []")
        return found


@pytest.fixture
def browse(browser, live_server):
    """browse(locale=..., width=..., height=...) -> a new Page in its own context (its own cookies)."""
    watch = Watch()
    contexts = []

    def new_page(locale="zh-CN", width=1280, height=800):
        ctx = browser.new_context(base_url=live_server.url, locale=locale, timezone_id="Asia/Shanghai",
                                  viewport={"width": width, "height": height})
        ctx.set_default_timeout(15_000)
        ctx.add_init_script(_CSP_LISTENER)
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("console", lambda m: m.type == "error" and watch.console_errors.append(m.text))
        page.on("pageerror", lambda e: watch.page_errors.append(str(e)))
        page.on("response", lambda r: r.status >= 400 and watch.bad_responses.append(f"{r.status} {r.url}"))
        watch.pages.append(page)
        return page

    new_page.watch = watch
    yield new_page
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def screenshot_dir(tmp_path):
    """Where screenshots go: $CLOSELOOP_SCREENSHOT_DIR when set (to look at them), else a temp dir."""
    d = Path(os.environ.get("CLOSELOOP_SCREENSHOT_DIR") or tmp_path / "shots")
    d.mkdir(parents=True, exist_ok=True)
    yield d
    if not os.environ.get("CLOSELOOP_SCREENSHOT_DIR"):
        shutil.rmtree(d, ignore_errors=True)
