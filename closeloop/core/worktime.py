"""Business calendars as other apps need them, without importing the app that owns them.

The sla app owns business calendars (working days, hours, holidays) and registers a
lookup here from its ready(); notify's acknowledge-or-escalate policies ask it whether an
instant is working time, so notify sits below sla in the layers (sla's ladder notifies).
"""

from collections.abc import Callable
from datetime import datetime

# key -> None (no such calendar) or a function at -> bool (is `at` working time?)
_lookup: Callable[[str], Callable[[datetime], bool] | None] | None = None


def register(lookup: Callable[[str], Callable[[datetime], bool] | None]) -> None:
    global _lookup
    _lookup = lookup


def calendar(key: str) -> Callable[[datetime], bool] | None:
    """The working-time test of calendar `key`, or None when there is no such calendar."""
    return _lookup(key) if _lookup is not None and key else None
