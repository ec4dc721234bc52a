"""Is this the demo database? The one question about the demo any app may ask.

True when settings.DEMO_MODE (CLOSELOOP_DEMO=1) is on, or when `closeloop demo` loaded
the demo company into this database (the demo app registers how to tell, from its
DemoConfig.ready: `register_marker(fn)`). Used for the DEMO badge
(core.context_processors). It grants nothing: no guard relaxes itself because the
database is a demo (the demo's own allow-lists are set explicitly, e.g. by `make demo`).
"""

import time
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, transaction

_CACHE_SECONDS = 30.0
_cache: dict[str, tuple[float, bool]] = {}
_marker: Callable[[], bool] | None = None


def register_marker(fn: Callable[[], bool]) -> None:
    """`fn()` answers whether the demo was loaded into this database (one query)."""
    global _marker
    _marker = fn


def is_demo_database() -> bool:
    """settings.DEMO_MODE, or the registered marker says so. Cached per process for a few
    seconds, so a page costs no query."""
    if settings.DEMO_MODE:
        return True
    if _marker is None:
        return False
    hit = _cache.get("marker")
    if hit is not None and time.monotonic() - hit[0] < _CACHE_SECONDS:
        return hit[1]
    try:
        with transaction.atomic():  # a savepoint: a missing table must not break the caller's transaction
            value = bool(_marker())
    except DatabaseError:  # not migrated yet
        value = False
    _cache["marker"] = (time.monotonic(), value)
    return value


def forget_cached_marker() -> None:
    """After loading or wiping the demo (and between tests)."""
    _cache.clear()
