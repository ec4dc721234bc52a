"""Business time: pure functions over a calendar spec, no database.

A `CalendarSpec` says when work is done: working intervals per weekday in a time
zone, holidays, extra working days, optionally the mainland-China statutory calendar
(holidays and adjusted working days, 调休, from the `chinesecalendar` package), or
24x7. Business time is real elapsed time inside working windows, so a 24x7 day in
Europe/Berlin on the day clocks go forward has 23 hours.

Used by sla.ledger (deadlines, elapsed time) and bench/sla.py.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

MAX_DAYS = 3700  # give up after ten years without enough working time
MIDNIGHT = time(0, 0)


def parse_hm(value: str) -> tuple[int, int]:
    h, m = value.split(":")
    h, m = int(h), int(m)
    if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m):
        raise ValueError(f"not a time of day: {value}")
    return h, m


@dataclass(frozen=True)
class CalendarSpec:
    tz: str = "Asia/Shanghai"
    #: weekday (0 = Monday) -> [("09:00", "18:00"), ...]; an end at or before its start
    #: runs past midnight ("22:00", "06:00"); "24:00" is the end of the day.
    week: dict[int, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()
    #: Extra working days (e.g. a Saturday worked); they use `workday_hours`.
    workdays: frozenset[date] = frozenset()
    china: bool = False
    always: bool = False

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    @property
    def workday_hours(self) -> tuple[tuple[str, str], ...]:
        """Hours of an adjusted working day: Monday's, else the first working weekday's."""
        for wd in range(7):
            if self.week.get(wd):
                return tuple(self.week[wd])
        return ()

    def hours_on(self, day: date) -> tuple[tuple[str, str], ...]:
        if self.always:
            return (("00:00", "24:00"),)
        if day in self.holidays:
            return ()
        if day in self.workdays:
            return self.workday_hours
        if self.china:
            try:
                working = chinese_calendar.is_workday(day)
            except NotImplementedError:  # year not covered by the package: plain weekdays
                working = day.weekday() < 5
            if not working:
                return ()
            return tuple(self.week.get(day.weekday()) or ()) or self.workday_hours
        return tuple(self.week.get(day.weekday()) or ())


def _local(day: date, hm: tuple[int, int], zone: ZoneInfo) -> datetime:
    if hm[0] == 24:
        return datetime.combine(day + timedelta(days=1), MIDNIGHT, zone)
    return datetime.combine(day, time(*hm), zone)


def windows(cal: CalendarSpec, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Working windows (UTC, ordered, non-overlapping) that end after `start`."""
    zone = cal.zone
    day = start.astimezone(zone).date() - timedelta(days=1)  # yesterday's overnight shift may still run
    last_end = start.astimezone(UTC)
    for _ in range(MAX_DAYS):
        spans = []
        for a, b in cal.hours_on(day):
            ha, hb = parse_hm(a), parse_hm(b)
            ws = _local(day, ha, zone)
            we = _local(day + timedelta(days=1), hb, zone) if hb <= ha else _local(day, hb, zone)
            spans.append((ws.astimezone(UTC), we.astimezone(UTC)))
        for ws, we in sorted(spans):
            ws = max(ws, last_end)
            if we > ws:
                yield ws, we
                last_end = we
        day += timedelta(days=1)


def add_business_time(start: datetime, seconds: float, cal: CalendarSpec) -> datetime:
    """The instant when `seconds` of business time have passed since `start`."""
    if seconds < 0:
        raise ValueError("seconds must not be negative")
    remaining = timedelta(seconds=seconds)
    for ws, we in windows(cal, start):
        if remaining <= we - ws:
            return ws + remaining
        remaining -= we - ws
    raise ValueError("the calendar has no working time in ten years")


def elapsed_business_time(a: datetime, b: datetime, cal: CalendarSpec) -> float:
    """Seconds of business time between a and b (0 when b <= a)."""
    if b <= a:
        return 0.0
    total = timedelta()
    for ws, we in windows(cal, a):
        if ws >= b:
            break
        total += min(we, b) - ws
    return total.total_seconds()


# ---- stock calendars ----------------------------------------------------------------------

OFFICE_WEEK = {wd: (("09:00", "18:00"),) for wd in range(5)}

TWENTY_FOUR_SEVEN = CalendarSpec(tz="UTC", always=True)


def china_office(tz: str = "Asia/Shanghai") -> CalendarSpec:
    return CalendarSpec(tz=tz, week=OFFICE_WEEK, china=True)


def china_covers(year: int) -> bool:
    """Whether the bundled mainland-China calendar (`chinesecalendar`) knows the year's holidays."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True
