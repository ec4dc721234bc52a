"""closeloop's own `closeloop check` checks (they run with every system check: `closeloop check`,
`closeloop serve`, `closeloop check --deploy`).

    closeloop.E101  no CJK font for the service report PDF
    closeloop.W102  the public site URL is a loopback address in production (links in SMS/email break)
    closeloop.W103  the Chinese holiday calendar does not cover this year or the next (docs/deployment.md §9)
    closeloop.E104  the data directory or the uploads directory is not writable
    closeloop.E105  REDIS_URL is set but the redis client is not installed
"""

import ipaddress
import os
import tempfile
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Warning, register

from closeloop.core.clock import now


@register()
def report_font(app_configs=None, **kwargs):
    from closeloop.fieldwork import report

    if any(path and os.path.exists(path) for path, _face in report.font_candidates()):
        return []
    return [Error("No CJK font for the service report PDF.",
                  hint="Reinstall closeloop's dependencies (pylopdf-fonts-zh-cn) or set CLOSELOOP_REPORT_FONT "
                       "to a .ttf/.otf file with Chinese glyphs.", id="closeloop.E101")]


def _is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback or ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


@register()
def site_url_not_loopback(app_configs=None, **kwargs):
    if not settings.PRODUCTION:
        return []
    from closeloop.core.site import site_url

    try:
        url = site_url()
    except Exception:  # the company settings table is not there yet (before migrate)
        return []
    if url and _is_loopback(url):
        return [Warning(f"The public site URL is {url}: links sent by SMS, email and IM and the printed QR "
                        "stickers would point at the recipient's own machine.",
                        hint="Set CLOSELOOP_SITE_URL to the address people reach closeloop at "
                             "(https://wo.example.com).", id="closeloop.W102")]
    return []


def uncovered_years(today: date | None = None) -> list[int]:
    import chinese_calendar

    year = (today or now().date()).year
    missing = []
    for y in (year, year + 1):
        try:
            chinese_calendar.is_workday(date(y, 6, 1))
        except NotImplementedError:
            missing.append(y)
    return missing


@register()
def calendar_years(app_configs=None, **kwargs):
    missing = uncovered_years()
    if not missing:
        return []
    import chinese_calendar

    years = ", ".join(map(str, missing))
    return [Warning(f"The Chinese holiday calendar (chinesecalendar {chinese_calendar.__version__}) has no data "
                    f"for {years}: business calendars of the China kind count those years as plain weekdays "
                    "(no public holidays, no adjusted working days).",
                    hint="Take the new chinesecalendar release once it is out (make lock-upgrade; "
                         "docs/deployment.md, 'The yearly Chinese calendar update').", id="closeloop.W103")]


def _writable(path: Path) -> str:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".closeloop-check-"):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    return ""


@register()
def storage_writable(app_configs=None, **kwargs):
    out = []
    for name, path in (("CLOSELOOP_DATA_DIR", settings.DATA_DIR), ("CLOSELOOP_MEDIA_ROOT", settings.MEDIA_ROOT)):
        problem = _writable(Path(path))
        if problem:
            out.append(Error(f"{name} ({path}) is not writable: {problem}.",
                             hint="Give the user closeloop runs as write access to it (a volume in a container).",
                             id="closeloop.E104"))
    return out


@register()
def cache_client_installed(app_configs=None, **kwargs):
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if "redis" not in backend.lower():
        return []
    try:
        import redis  # noqa: F401
    except ImportError:
        return [Error("REDIS_URL is set but the redis client library is not installed.",
                      hint="pip install redis (or unset REDIS_URL: closeloop needs no cache server).",
                      id="closeloop.E105")]
    return []
