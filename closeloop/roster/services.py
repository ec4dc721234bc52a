"""Roster writes: shifts, on-call duty and leave (dispatchers, managers, administrators).

Called by dispatch's roster page and its /api/v1/dispatch/shifts and /leaves endpoints.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role, User
from closeloop.core.errors import FieldProblem, Forbidden, ValidationFailed
from closeloop.workorders.lifecycle import TRANSITIONS

from .models import Leave, Shift

MAX_SHIFT = timedelta(hours=24)
MAX_LEAVE = timedelta(days=366)


def may_manage_roster(user) -> bool:
    """Who keeps rosters and leave: whoever may assign work (dispatchers, managers,
    administrators)."""
    return bool(user.is_superuser or user.role in TRANSITIONS["assign"].actors)


def _engineer(problems: list, username) -> User | None:
    user = User.objects.filter(username=(username or "").strip()).first() if username else None
    if not username:
        problems.append(FieldProblem("user", _("This field is required."), "required"))
    elif user is None or user.role != Role.ENGINEER or not user.is_active:
        problems.append(FieldProblem("user", _("Not an active engineer: %(u)s.") % {"u": username}))
        return None
    return user


def _when(problems: list, field: str, value) -> datetime | None:
    if value in (None, ""):
        problems.append(FieldProblem(field, _("This field is required."), "required"))
        return None
    dt = value if isinstance(value, datetime) else parse_datetime(str(value).strip())
    if dt is None:
        problems.append(FieldProblem(field, _("A date and time, e.g. 2026-12-07T08:00.")))
        return None
    if timezone.is_naive(dt):
        dt = timezone.make_aware(dt)  # the user's own time zone (the request activated it)
    return dt


def _period(problems: list, data: dict, longest: timedelta, longest_words: str) -> tuple[datetime | None,
                                                                                    datetime | None]:
    start, end = _when(problems, "starts_at", data.get("starts_at")), _when(problems, "ends_at", data.get("ends_at"))
    if start and end:
        if end <= start:
            problems.append(FieldProblem("ends_at", _("Must be after the start."), "order"))
        elif end - start > longest:
            problems.append(FieldProblem("ends_at", _("At most %(n)s after the start.") % {"n": longest_words},
                                         "too_long"))
    return start, end


def _fmt(dt: datetime) -> str:
    return timezone.localtime(dt).strftime("%Y-%m-%d %H:%M")


def do_add_shift(*, actor: User, data: dict) -> Shift:
    """A shift or on-call duty of at most 24 h, not overlapping another of the same kind
    for the same engineer."""
    if not may_manage_roster(actor):
        raise Forbidden(_("You may not change rosters."))
    problems: list[FieldProblem] = [FieldProblem(k, _("Unknown field."), "unknown")
                                    for k in sorted(set(data) - {"user", "kind", "starts_at", "ends_at"})]
    user = _engineer(problems, data.get("user"))
    kind = data.get("kind") or Shift.Kind.SHIFT
    if kind not in Shift.Kind.values:
        problems.append(FieldProblem("kind", _("Must be one of: %(c)s.") % {"c": ", ".join(Shift.Kind.values)}))
    start, end = _period(problems, data, MAX_SHIFT, _("24 hours"))
    with transaction.atomic():
        if not problems:
            clash = Shift.objects.select_for_update().filter(user=user, kind=kind, starts_at__lt=end,
                                                             ends_at__gt=start).first()
            if clash is not None:
                problems.append(FieldProblem("starts_at", _("Overlaps %(u)s's %(kind)s from %(a)s to %(b)s.") % {
                    "u": user.username, "kind": clash.get_kind_display(), "a": _fmt(clash.starts_at),
                    "b": _fmt(clash.ends_at)}, "overlap"))
        if problems:
            raise ValidationFailed(problems)
        return Shift.objects.create(user=user, kind=kind, starts_at=start, ends_at=end)


def do_add_leave(*, actor: User, data: dict) -> Leave:
    if not may_manage_roster(actor):
        raise Forbidden(_("You may not change rosters."))
    problems: list[FieldProblem] = [FieldProblem(k, _("Unknown field."), "unknown")
                                    for k in sorted(set(data) - {"user", "starts_at", "ends_at", "reason"})]
    user = _engineer(problems, data.get("user"))
    reason = (data.get("reason") or "").strip()
    if len(reason) > 100:
        problems.append(FieldProblem("reason", _("At most %(n)d characters.") % {"n": 100}))
    start, end = _period(problems, data, MAX_LEAVE, _("366 days"))
    with transaction.atomic():
        if not problems:
            clash = Leave.objects.select_for_update().filter(user=user, starts_at__lt=end, ends_at__gt=start).first()
            if clash is not None:
                problems.append(FieldProblem("starts_at", _("Overlaps %(u)s's leave from %(a)s to %(b)s.") % {
                    "u": user.username, "a": _fmt(clash.starts_at), "b": _fmt(clash.ends_at)}, "overlap"))
        if problems:
            raise ValidationFailed(problems)
        return Leave.objects.create(user=user, starts_at=start, ends_at=end, reason=reason)


def do_delete_shift(*, actor: User, shift: Shift) -> None:
    if not may_manage_roster(actor):
        raise Forbidden(_("You may not change rosters."))
    shift.delete()


def do_delete_leave(*, actor: User, leave: Leave) -> None:
    if not may_manage_roster(actor):
        raise Forbidden(_("You may not change rosters."))
    leave.delete()
