"""Business time arithmetic: pure functions, no database."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from closeloop.sla.calendars import (
    OFFICE_WEEK,
    TWENTY_FOUR_SEVEN,
    CalendarSpec,
    add_business_time,
    china_office,
    elapsed_business_time,
)

SH = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
H = 3600


def sh(*args):
    return datetime(*args, tzinfo=SH)


OFFICE = CalendarSpec(tz="Asia/Shanghai", week=OFFICE_WEEK)
CHINA = china_office()


def test_it_adds_within_one_day():
    assert add_business_time(sh(2026, 3, 2, 10), 2 * H, OFFICE) == sh(2026, 3, 2, 12)


def test_it_starts_counting_at_opening_time():
    assert add_business_time(sh(2026, 3, 2, 7, 30), 30 * 60, OFFICE) == sh(2026, 3, 2, 9, 30)


def test_it_skips_the_weekend():
    # Friday 17:00 + 2h: one hour on Friday, one on Monday.
    assert add_business_time(sh(2026, 3, 6, 17), 2 * H, OFFICE) == sh(2026, 3, 9, 10)
    assert elapsed_business_time(sh(2026, 3, 6, 17), sh(2026, 3, 9, 10), OFFICE) == 2 * H


def test_it_skips_listed_holidays():
    cal = CalendarSpec(tz="Asia/Shanghai", week=OFFICE_WEEK, holidays=frozenset({date(2026, 3, 9)}))
    assert add_business_time(sh(2026, 3, 6, 17), 2 * H, cal) == sh(2026, 3, 10, 10)


def test_it_works_extra_working_days_with_weekday_hours():
    cal = CalendarSpec(tz="Asia/Shanghai", week=OFFICE_WEEK, workdays=frozenset({date(2026, 3, 7)}))
    assert add_business_time(sh(2026, 3, 6, 17), 2 * H, cal) == sh(2026, 3, 7, 10)


def test_china_friday_before_qingming_skips_weekend_and_holiday():
    # Fri 2026-04-03 17:55; Sat, Sun off; Mon 04-06 Tomb-sweeping Day; Tue 09:00 opens.
    assert add_business_time(sh(2026, 4, 3, 17, 55), 2 * H, CHINA) == sh(2026, 4, 7, 10, 55)


def test_china_honours_the_adjusted_working_saturday():
    # Fri 2026-02-13 17:55 before Spring Festival; Sat 02-14 is an adjusted working day (调休).
    assert add_business_time(sh(2026, 2, 13, 17, 55), 2 * H, CHINA) == sh(2026, 2, 14, 10, 55)
    # Three business days (27 h) jump the whole festival: Feb 15 to 23 are off.
    assert add_business_time(sh(2026, 2, 13, 17, 55), 27 * H, CHINA) == sh(2026, 2, 25, 17, 55)


def test_china_national_day_week():
    # Wed 2026-09-30 17:00 + 2h: 1h, then Oct 1-7 off (and the weekend), Thu 10-08 at 10:00.
    assert add_business_time(sh(2026, 9, 30, 17), 2 * H, CHINA) == sh(2026, 10, 8, 10)
    # Sunday 2026-09-20 is a working day.
    assert elapsed_business_time(sh(2026, 9, 20, 0), sh(2026, 9, 21, 0), CHINA) == 9 * H


def test_overnight_shift_runs_past_midnight():
    night = CalendarSpec(tz="Asia/Shanghai", week={wd: (("22:00", "06:00"),) for wd in range(7)})
    assert add_business_time(sh(2026, 3, 2, 23), 3 * H, night) == sh(2026, 3, 3, 2)
    # Starting at 03:00 counts in the shift that began the evening before.
    assert add_business_time(sh(2026, 3, 3, 3), 4 * H, night) == sh(2026, 3, 3, 23)
    assert elapsed_business_time(sh(2026, 3, 2, 12), sh(2026, 3, 3, 12), night) == 8 * H


def test_24x7_counts_wall_time_across_dst_in_berlin():
    cal = CalendarSpec(tz="Europe/Berlin", always=True)
    a = datetime(2026, 3, 28, 12, tzinfo=BERLIN)
    b = datetime(2026, 3, 29, 12, tzinfo=BERLIN)  # clocks go forward at 02:00 on the 29th
    assert elapsed_business_time(a, b, cal) == 23 * H
    assert add_business_time(a, 24 * H, cal) == datetime(2026, 3, 29, 13, tzinfo=BERLIN)


def test_office_hours_stay_local_across_dst():
    cal = CalendarSpec(tz="Europe/Berlin", week=OFFICE_WEEK)
    # Friday 2026-10-23 17:00 (UTC+2) + 2h -> Monday 10-26 10:00 (UTC+1): 9 local hours, whatever the offset.
    due = add_business_time(datetime(2026, 10, 23, 17, tzinfo=BERLIN), 2 * H, cal)
    assert due == datetime(2026, 10, 26, 10, tzinfo=BERLIN)
    assert due.astimezone(UTC) == datetime(2026, 10, 26, 9, tzinfo=UTC)


def test_elapsed_and_add_are_inverse():
    start = sh(2026, 2, 13, 17, 55)
    for seconds in (0, 1, 300, 9 * H, 27 * H, 100 * H):
        due = add_business_time(start, seconds, CHINA)
        assert elapsed_business_time(start, due, CHINA) == pytest.approx(seconds)


def test_twenty_four_seven_is_plain_addition():
    t = datetime(2026, 5, 1, 23, 59, tzinfo=UTC)
    assert add_business_time(t, 30, TWENTY_FOUR_SEVEN) == t + timedelta(seconds=30)


def test_a_calendar_without_working_time_is_an_error():
    with pytest.raises(ValueError):
        add_business_time(sh(2026, 1, 1), 60, CalendarSpec(tz="UTC"))
