"""Permission-checked reads of dispatch: the roster page's table (engineers, skills,
duty per day from the roster app, open work and day hours from dispatch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from closeloop.accounts.models import EngineerSkill, Role, User
from closeloop.core.clock import now
from closeloop.core.errors import Forbidden
from closeloop.roster import selectors as roster_selectors
from closeloop.roster import services as roster_services

from . import facts
from .models import EngineerProfile

ROSTER_DAYS = 8  # today and the next 7 days


def _check(user) -> None:
    if not roster_services.may_manage_roster(user):
        raise Forbidden(_("You may not see rosters."))


@dataclass
class Day:
    day: date
    entries: list[dict] = field(default_factory=list)  # {"kind": shift/on_call/leave, "text": "08:00–18:00"}


@dataclass
class RosterRow:
    user: User
    skills: list[tuple[str, int]]
    open_work: int
    open_hours: float
    day_hours: float
    days: list[Day]


def _span(a: datetime, b: datetime, day: date) -> str:
    a, b = timezone.localtime(a), timezone.localtime(b)
    left = a.strftime("%H:%M") if a.date() == day else "…"
    right = b.strftime("%H:%M") if b.date() == day else "…"
    return f"{left}–{right}"


def roster(user, *, days: int = ROSTER_DAYS) -> tuple[list[date], list[RosterRow]]:
    """Every active engineer with skills, open work and duty for today and the next days
    (in the viewer's time zone)."""
    _check(user)
    today = timezone.localtime(now()).date()
    dates = [today + timedelta(days=i) for i in range(days)]
    tz = timezone.get_current_timezone()
    start = datetime.combine(today, datetime.min.time(), tzinfo=tz)
    end = start + timedelta(days=days)
    engineers = list(User.objects.filter(role=Role.ENGINEER, is_active=True).select_related("team")
                     .order_by("team__name", "username"))
    skills: dict[int, list] = {}
    for s in EngineerSkill.objects.filter(user__in=engineers).select_related("tag").order_by("tag__name"):
        skills.setdefault(s.user_id, []).append((s.tag.name, s.level))
    uids, counts, hours = facts.open_work()
    load = {int(u): (0, 0.0) for u in uids}
    for u, c, h in zip(uids.tolist(), counts.tolist(), hours.tolist(), strict=True):
        n, hh = load[u]
        load[u] = (n + c, hh + h)
    day_hours = dict(EngineerProfile.objects.values_list("user_id", "day_hours"))
    duty = roster_selectors.duty_by_user(engineers, start=start, end=end)
    rows = []
    for e in engineers:
        row_days = []
        for d in dates:
            d0 = datetime.combine(d, datetime.min.time(), tzinfo=tz)
            d1 = d0 + timedelta(days=1)
            entries = [{"kind": k, "text": _span(a, b, d)} for k, a, b in sorted(duty.get(e.pk, []),
                                                                                  key=lambda x: x[1])
                       if a < d1 and b > d0]
            row_days.append(Day(d, entries))
        n, h = load.get(e.pk, (0, 0.0))
        rows.append(RosterRow(e, skills.get(e.pk, []), n, h, float(day_hours.get(e.pk, 8)), row_days))
    return dates, rows
