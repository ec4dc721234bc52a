"""Roster part of the demo (a scenario, demo/scenarios.py): two weeks of rosters (day
shifts 07:00-22:00, a third of the engineers on call each night) and two engineers on
leave this week, for the "呼吸机离线" story (rules/demo.py prints its line)."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction

from closeloop.accounts.models import Role, User
from closeloop.core.clock import now

from .models import Leave, Shift

ORDER = 21
SHANGHAI = ZoneInfo("Asia/Shanghai")
ROSTER_DAYS = 14


def seed(at: datetime | None = None) -> None:
    t = at or now()
    with transaction.atomic():
        if Shift.objects.exists():
            return
        engineers = list(User.objects.filter(role=Role.ENGINEER, is_active=True).order_by("username"))
        shifts = []
        today = t.astimezone(SHANGHAI).date()
        for d in range(-1, ROSTER_DAYS):
            day = today + timedelta(days=d)
            start = datetime.combine(day, time(7), SHANGHAI)
            for i, u in enumerate(engineers):
                shifts.append(Shift(user=u, kind=Shift.Kind.SHIFT, starts_at=start, ends_at=start + timedelta(hours=15)))
                if (i + d) % 3 == 0:  # a third of the engineers are on call each night
                    shifts.append(Shift(user=u, kind=Shift.Kind.ON_CALL, starts_at=start + timedelta(hours=15),
                                        ends_at=start + timedelta(hours=24)))
        Shift.objects.bulk_create(shifts)
        # Two engineers on leave this week (they show up as "on leave" in the exclusions).
        for u in engineers[5:7]:
            Leave.objects.create(user=u, starts_at=t - timedelta(days=1), ends_at=t + timedelta(days=5), reason="年假")
