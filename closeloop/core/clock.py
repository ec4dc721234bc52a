"""The one clock. Everything that asks "what time is it" calls `now()`.

Tests move time with `time_machine`, which this respects; never call
`datetime.now()` or `timezone.now()` directly in domain code.
"""

from datetime import date, datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()


def local_today() -> date:
    """Today's date in the deployment's business time zone (settings.TIME_ZONE)."""
    return timezone.localdate(now())
