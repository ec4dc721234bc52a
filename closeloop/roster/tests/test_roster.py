"""The roster's services and reads, called directly (the roster page and the
/api/v1/dispatch/shifts and /leaves endpoints are tested in dispatch/tests/test_settings.py)."""

from datetime import UTC, datetime, timedelta

import pytest

from closeloop.core.errors import Forbidden, ValidationFailed
from closeloop.roster import selectors, services
from closeloop.roster.models import Shift

T = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)


def _shift(world, user, kind, hours=9, start=T):
    return services.do_add_shift(actor=world.dispatcher, data={"user": user.username, "kind": kind,
                                                               "starts_at": start, "ends_at": start + timedelta(hours=hours)})


def test_it_lets_dispatchers_managers_and_admins_keep_rosters(world):
    for who in (world.dispatcher, world.manager, world.admin):
        assert services.may_manage_roster(who)
    for who in (world.eng_x, world.finance, world.cust_a):
        assert not services.may_manage_roster(who)
        with pytest.raises(Forbidden):
            selectors.shifts(who, start=T, end=T + timedelta(days=1))
        with pytest.raises(Forbidden):
            _shift(type("W", (), {"dispatcher": who}), world.eng_x, "shift")


def test_it_refuses_overlap_and_overlong_duty(world):
    _shift(world, world.eng_x, "shift")
    with pytest.raises(ValidationFailed) as e:
        _shift(world, world.eng_x, "shift", start=T + timedelta(hours=2))
    assert e.value.problems[0].code == "overlap"
    with pytest.raises(ValidationFailed):
        _shift(world, world.eng_x2, "shift", hours=25)
    _shift(world, world.eng_x, "on_call", start=T + timedelta(hours=2))  # another kind may overlap
    assert Shift.objects.count() == 2


def test_it_answers_who_is_on_call_for_a_team(world):
    _shift(world, world.eng_x, "on_call")
    _shift(world, world.eng_x2, "shift")
    _shift(world, world.eng_y, "on_call")
    assert selectors.on_call_users(world.team_x, T + timedelta(hours=1)) == [world.eng_x]
    assert selectors.on_call_users(world.team_x, T + timedelta(hours=10)) == []
    world.eng_x.is_active = False
    world.eng_x.save()
    assert selectors.on_call_users(world.team_x, T + timedelta(hours=1)) == []


def test_it_lists_duty_and_leave_per_user(world):
    _shift(world, world.eng_x, "shift")
    services.do_add_leave(actor=world.manager, data={"user": "eng_x", "starts_at": T + timedelta(days=1),
                                                     "ends_at": T + timedelta(days=3), "reason": "年假"})
    duty = selectors.duty_by_user([world.eng_x, world.eng_y], start=T, end=T + timedelta(days=2))
    assert sorted(k for k, _a, _b in duty[world.eng_x.pk]) == ["leave", "shift"]
    assert world.eng_y.pk not in duty
