"""`closeloop check`: warn when a calendar an active SLA policy counts in has no holiday data for the
current or next year (the bundled Chinese calendar stops at the last year its package knows; fill the
next one in under Settings → Business calendars, or import it)."""

from django.core import checks
from django.db import DatabaseError
from django.utils.translation import gettext as _


def check_holiday_data(app_configs=None, **kwargs):
    from .selectors import holiday_gaps

    try:
        gaps = holiday_gaps()
    except DatabaseError:  # not migrated yet, or no database: nothing to say
        return []
    return [checks.Warning(
        _("Business calendar %(cal)s (%(key)s) has no holiday data for %(years)s.")
        % {"cal": g["calendar"].name, "key": g["calendar"].key, "years": ", ".join(map(str, g["years"]))},
        hint=_("Fill in or import the holidays and adjusted working days under Settings → Business calendars; "
               "until then those days count as plain weekdays."),
        obj=f"calendar {g['calendar'].key}", id="sla.W001") for g in gaps]
