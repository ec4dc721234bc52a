"""Reads for the demo marker: is this the demo database?"""

import time

from django.conf import settings
from django.db import DatabaseError, transaction

from .models import DemoMarker

_CACHE_SECONDS = 30.0
_cache: dict[str, tuple[float, bool]] = {}


def demo_marker() -> DemoMarker | None:
    return DemoMarker.objects.filter(pk=1).first()


def is_demo_database() -> bool:
    """True when the UI should show the DEMO badge: settings.DEMO_MODE (CLOSELOOP_DEMO=1)
    or a database into which `closeloop demo` loaded the demo company. Cached per
    process for a few seconds, so a page costs no query."""
    if settings.DEMO_MODE:
        return True
    hit = _cache.get("marker")
    if hit is not None and time.monotonic() - hit[0] < _CACHE_SECONDS:
        return hit[1]
    try:
        with transaction.atomic():  # a savepoint: a missing table must not break the caller's transaction
            value = DemoMarker.objects.filter(pk=1).exists()
    except DatabaseError:  # not migrated yet
        value = False
    _cache["marker"] = (time.monotonic(), value)
    return value


def forget_cached_marker() -> None:
    _cache.clear()
