"""The public address that links leaving the system are built on (SMS, email, IM, QR stickers,
tracking links): settings.SITE_URL or CLOSELOOP_SITE_URL, else what the installation's own
settings say (the administration app registers the company's public URL from the first run).
"""

import os
from collections.abc import Callable

from django.conf import settings

_fallback: Callable[[], str] | None = None


def register_fallback(fn: Callable[[], str]) -> None:
    global _fallback
    _fallback = fn


def site_url() -> str:
    """The public base URL without a trailing slash; "" when none is known (links stay relative)."""
    explicit = getattr(settings, "SITE_URL", "") or os.environ.get("CLOSELOOP_SITE_URL", "")
    if explicit:
        return explicit.rstrip("/")
    return ((_fallback() if _fallback is not None else "") or "").rstrip("/")
