"""closeloop's own checks in `closeloop check`."""

import io
import sys
from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from closeloop.fieldwork import report
from closeloop.ops import checks


def _ids(fn) -> list[str]:
    return [m.id for m in fn()]


def test_the_report_font_must_be_there(monkeypatch):
    assert _ids(checks.report_font) == []
    monkeypatch.setenv("CLOSELOOP_REPORT_FONT", "/nonexistent/font.otf")
    monkeypatch.setattr(report, "_packaged_font", lambda: "")
    monkeypatch.setattr(report, "SYSTEM_FONTS", [])
    assert _ids(checks.report_font) == ["closeloop.E101"]


@pytest.mark.parametrize("url, production, expected", [
    ("http://127.0.0.1:8000", True, ["closeloop.W102"]),
    ("http://localhost:8000", True, ["closeloop.W102"]),
    ("http://[::1]/", True, ["closeloop.W102"]),
    ("https://wo.example.com", True, []),
    ("http://127.0.0.1:8000", False, []),
])
def test_the_public_site_url_is_not_loopback_in_production(settings, url, production, expected):
    settings.PRODUCTION = production
    settings.SITE_URL = url
    assert _ids(checks.site_url_not_loopback) == expected


def test_calendar_years_covered():
    assert checks.uncovered_years(date(2025, 3, 1)) == []
    assert checks.uncovered_years(date(2026, 3, 1)) == [2027]
    with time_machine.travel(datetime(2025, 5, 1, tzinfo=UTC), tick=False):
        assert _ids(checks.calendar_years) == []
    with time_machine.travel(datetime(2026, 12, 1, tzinfo=UTC), tick=False):
        assert _ids(checks.calendar_years) == ["closeloop.W103"]


def test_storage_must_be_writable(settings, tmp_path):
    assert _ids(checks.storage_writable) == []
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    settings.MEDIA_ROOT = blocker / "media"  # cannot be created under a file, even by root
    assert _ids(checks.storage_writable) == ["closeloop.E104"]


def test_a_cache_url_needs_its_client(settings, monkeypatch):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:6379"}}
    monkeypatch.setitem(sys.modules, "redis", None)  # not installed
    assert _ids(checks.cache_client_installed) == ["closeloop.E105"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert _ids(checks.cache_client_installed) == []


def test_closeloop_check_reports_them(db, settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    settings.MEDIA_ROOT = blocker / "media"
    with pytest.raises(SystemCheckError, match="closeloop.E104"):
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())
