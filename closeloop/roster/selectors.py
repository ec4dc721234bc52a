"""Roster reads. `shifts` and `leaves` are permission-checked (the roster page and API);
`on_call_users` and `duty_by_user` are facts other apps compute with (notify's "who is on
call", dispatch's roster table) and check nothing themselves."""

from __future__ import annotations

from datetime import datetime

from django.utils.translation import gettext as _

from closeloop.accounts.models import Team, User
from closeloop.core.errors import Forbidden

from .models import Leave, Shift
from .services import may_manage_roster


def _check(user) -> None:
    if not may_manage_roster(user):
        raise Forbidden(_("You may not see rosters."))


def shifts(user, *, start: datetime, end: datetime, username: str | None = None):
    """Shifts and on-call duty overlapping [start, end), oldest first."""
    _check(user)
    qs = Shift.objects.filter(starts_at__lt=end, ends_at__gt=start).select_related("user")
    if username:
        qs = qs.filter(user__username=username)
    return qs.order_by("starts_at", "id")


def leaves(user, *, start: datetime, end: datetime, username: str | None = None):
    """Leave overlapping [start, end), oldest first."""
    _check(user)
    qs = Leave.objects.filter(starts_at__lt=end, ends_at__gt=start).select_related("user")
    if username:
        qs = qs.filter(user__username=username)
    return qs.order_by("starts_at", "id")


def shift_by_id(user, shift_id: int) -> Shift | None:
    _check(user)
    return Shift.objects.filter(pk=shift_id).first()


def leave_by_id(user, leave_id: int) -> Leave | None:
    _check(user)
    return Leave.objects.filter(pk=leave_id).first()


def on_call_users(team: Team, at: datetime) -> list[User]:
    """Active members of `team` on call at `at` (used by notify's recipients and its
    acknowledge-or-escalate chain)."""
    ids = Shift.objects.filter(kind=Shift.Kind.ON_CALL, starts_at__lte=at, ends_at__gt=at,
                               user__team=team, user__is_active=True).values_list("user_id", flat=True)
    return list(User.objects.filter(id__in=list(ids)).order_by("id"))


def duty_by_user(users, *, start: datetime, end: datetime) -> dict[int, list[tuple[str, datetime, datetime]]]:
    """user id → [(kind, starts, ends)] of shifts ("shift", "on_call") and leave ("leave")
    overlapping [start, end), for the users given (dispatch's roster table)."""
    duty: dict[int, list[tuple[str, datetime, datetime]]] = {}
    for s in Shift.objects.filter(starts_at__lt=end, ends_at__gt=start, user__in=users):
        duty.setdefault(s.user_id, []).append((s.kind, s.starts_at, s.ends_at))
    for lv in Leave.objects.filter(starts_at__lt=end, ends_at__gt=start, user__in=users):
        duty.setdefault(lv.user_id, []).append(("leave", lv.starts_at, lv.ends_at))
    return duty
