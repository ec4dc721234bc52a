"""The public address that links leaving the system are built on (SMS, email, IM, QR stickers,
tracking links): settings.SITE_URL or CLOSELOOP_SITE_URL, else what the installation's own
settings say (the administration app registers the company's public URL from the first run).
Likewise the site's default language (`default_language`).
"""

import os
from collections.abc import Callable

from django.conf import settings

_fallback: Callable[[], str] | None = None
_language_fallback: Callable[[], str] | None = None


def register_fallback(fn: Callable[[], str]) -> None:
    global _fallback
    _fallback = fn


def site_url() -> str:
    """The public base URL without a trailing slash; "" when none is known (links stay relative)."""
    explicit = getattr(settings, "SITE_URL", "") or os.environ.get("CLOSELOOP_SITE_URL", "")
    if explicit:
        return explicit.rstrip("/")
    return ((_fallback() if _fallback is not None else "") or "").rstrip("/")


def register_language_fallback(fn: Callable[[], str]) -> None:
    global _language_fallback
    _language_fallback = fn


def default_language() -> str:
    """The site's language for whoever has not chosen one (messages to contacts, to users without
    a language preference): CLOSELOOP_LANGUAGE when set, else the company's from the first run
    (administration), else settings.LANGUAGE_CODE."""
    if os.environ.get("CLOSELOOP_LANGUAGE") or _language_fallback is None:
        return settings.LANGUAGE_CODE
    lang = _language_fallback() or ""
    return lang if lang in {code for code, _name in settings.LANGUAGES} else settings.LANGUAGE_CODE
