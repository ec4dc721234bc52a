"""The weekly digest: last week's key figures, compared with the week before, to each manager
through their notification channels (docs/analytics.md, "The weekly digest").

- **When**: for ISO week W, from Monday `SEND_HOUR`:00 of week W+1 in the company time zone
  (`TIME_ZONE` / `CLOSELOOP_TIME_ZONE`) until the next Monday's hour (then week W+1 is due;
  a missed week is not sent later). It also waits until the `analytics.refresh` step has
  folded in every timeline event of the week (a backlog after a restart would show low figures).
- **Who**: `notify.selectors.digest_recipients()`: active managers unless they turned it off,
  administrators who turned it on (Notification preferences, or `weekly_digest` in
  `PUT /api/v1/notifications/preferences`), who had joined before the week ended. Engineers,
  dispatchers, finance and customers never.
- **What**: the figures of `measures.summary` and `measures.top_stuck` (the dashboard's own
  functions) for the whole company, as a message key and parameters (`notify.messages.text`):
  each recipient reads it in their language, on the channels of their preferences (the inbox
  always; never a voice call), with a link to `/analytics/` for that week.
- **Once**: `DigestSent` (user, week) is unique and written in the transaction that asks notify
  for the message (whose outbox key is idempotent too): two workers, a restarted one, or
  `closeloop send_digest` racing the worker send a week to a person once (the loser of the
  insert gets an IntegrityError and skips the person).
"""

import re
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_noop

from closeloop.core.clock import now
from closeloop.notify.messages import base_url, localized, text
from closeloop.notify.selectors import digest_recipients
from closeloop.notify.services import media_for_user, notify
from closeloop.workorders.lifecycle import STATE_LABELS
from closeloop.workorders.models import TimelineEvent

from . import measures, selectors
from .models import Cursor, DigestSent
from .refresh import CURSOR

EVENT = "analytics.digest"
#: Digests for last week go out from this hour on Monday (company time zone).
SEND_HOUR = 8
#: People per step (each one notify request; the figures are computed once per step).
BATCH = 20
#: Media the digest is never sent on (a voice call cannot read a table of figures and a link).
NOT_BY = {"voice"}
WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")


# ---- weeks --------------------------------------------------------------------------------------------

def week_label(monday: date) -> str:
    y, w, _d = monday.isocalendar()
    return f"{y}-W{w:02d}"


def parse_week(raw: str) -> date:
    """The Monday of an ISO week written YYYY-Www; ValueError when it is not one."""
    m = WEEK_RE.match(raw or "")
    if not m:
        raise ValueError(raw)
    return date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)


def _local(at: datetime) -> datetime:
    return at.astimezone(timezone.get_default_timezone())


def _send_time(monday: date) -> datetime:
    return datetime.combine(monday, time(SEND_HOUR), timezone.get_default_timezone())


def due_week(at: datetime | None = None) -> date | None:
    """The Monday of the week whose digest is due at `at` (last week, from this Monday's
    SEND_HOUR on), or None before that hour on a Monday."""
    local = _local(at or now())
    this_monday = local.date() - timedelta(days=local.weekday())
    if local < _send_time(this_monday):
        return None
    return this_monday - timedelta(days=7)


def next_send_time(at: datetime | None = None) -> datetime:
    local = _local(at or now())
    this_monday = local.date() - timedelta(days=local.weekday())
    t = _send_time(this_monday)
    return t if local < t else _send_time(this_monday + timedelta(days=7))


# ---- the figures and the message -----------------------------------------------------------------------

def scope_of(monday: date) -> measures.Scope:
    return measures.Scope(monday, monday + timedelta(days=6))


def figures(monday: date) -> dict:
    """The digest's figures for the week starting `monday` and the week before, from the
    dashboard's measures (no SQL of its own)."""
    scope = scope_of(monday)
    cur, prev = measures.summary(scope), measures.summary(scope.previous())
    stuck = measures.top_stuck(scope, 3)
    names = selectors.names("team", [c["key"] for c in stuck])
    for c in stuck:
        c["team"] = names.get(c["key"])
    return {"week": week_label(monday), "start": scope.start, "end": scope.end, "current": cur, "previous": prev,
            "stuck": stuck}


def link(monday: date) -> str:
    """The analytics overview for that week (the page compares it with the week before)."""
    scope = scope_of(monday)
    return (f"{base_url()}{reverse('analytics:overview')}?"
            + urlencode({"from": scope.start.isoformat(), "to": scope.end.isoformat()}))


def _pct(x):
    return "—" if x is None else f"{round(100 * x, 1)}%"


def _minutes(s):
    return "—" if s is None else text(gettext_noop("%(n)s min"), n=str(round(s / 60.0, 1)))


def _stage(c: dict) -> dict:
    team = c["team"] if c.get("team") else text(gettext_noop("No team"))
    return text(gettext_noop("%(state)s at %(team)s: %(hours)s h"), state=localized(STATE_LABELS[c["state"]]),
                team=team, hours=str(round(c["hours"], 1)))


def _stuck(cells: list[dict]):
    if not cells:
        return text(gettext_noop("nothing waited"))
    # Only a layout (the msgid is not translated); the parts and the separator are.
    msgid = "%(sep)s".join(f"%(s{i})s" for i in range(len(cells)))
    return text(msgid, sep=text("; ", context="list separator"),
                **{f"s{i}": _stage(c) for i, c in enumerate(cells)})


def message(f: dict) -> dict:
    """The digest as a key and parameters (rendered per recipient, in their language)."""
    cur, prev = f["current"], f["previous"]
    return text(
        gettext_noop("Week %(week)s (%(start)s – %(end)s), the week before in brackets:\n"
                     "- Work orders created: %(created)s (%(created_prev)s)\n"
                     "- SLA attainment: %(sla)s (%(sla_prev)s)\n"
                     "- Overdue SLA targets: %(overdue)s (%(overdue_prev)s)\n"
                     "- First response (average): %(response)s (%(response_prev)s)\n"
                     "- Reopen rate: %(reopen)s (%(reopen_prev)s)\n"
                     "- Most stuck: %(stuck)s"),
        week=f["week"], start=f["start"].isoformat(), end=f["end"].isoformat(),
        created=cur["created"], created_prev=prev["created"],
        sla=_pct(cur["sla_attainment"]), sla_prev=_pct(prev["sla_attainment"]),
        overdue=cur["breached"], overdue_prev=prev["breached"],
        response=_minutes(cur["response_avg_s"]), response_prev=_minutes(prev["response_avg_s"]),
        reopen=_pct(cur["reopen_rate"]), reopen_prev=_pct(prev["reopen_rate"]),
        stuck=_stuck(f["stuck"]))


# ---- sending -------------------------------------------------------------------------------------------

def week_end(monday: date) -> datetime:
    """The first instant after the week (the next Monday, 00:00 company time)."""
    return datetime.combine(monday + timedelta(days=7), time.min, timezone.get_default_timezone())


def due_people(monday: date):
    """Who gets the week's digest: the digest's recipients (notify's preference rule) who had
    joined before the week ended (a person added since gets the next week's)."""
    return digest_recipients().filter(date_joined__lt=week_end(monday))


def pending(monday: date):
    """The people due this week's digest who have not had it."""
    return due_people(monday).exclude(pk__in=DigestSent.objects.filter(week=week_label(monday)).values("user_id"))


def send_one(user, monday: date, msg: dict, url: str) -> bool:
    """Record and ask for one person's digest of one week, in one transaction. False when it was
    recorded before (by this or another worker, or the command): nothing is asked then."""
    week = week_label(monday)
    with transaction.atomic():
        try:
            with transaction.atomic():
                DigestSent.objects.create(user=user, week=week, sent_at=now())
        except IntegrityError:
            return False
        # The person's own media for the event, but never a phone call reading out a summary.
        media = [m for m in media_for_user(user, EVENT, None, False) if m not in NOT_BY]
        notify(key=f"{EVENT}:{week}:{user.pk}", event=EVENT, work_order=None, recipients=[{"user": user.username}],
               channels=media, message=msg, context={"week": week, "url": url}, no_robots=True)
    return True


def refresh_behind(monday: date) -> bool:
    """Timeline events of the week (or before) that analytics.refresh has not folded in yet."""
    cur = Cursor.objects.filter(name=CURSOR).first()
    return TimelineEvent.objects.filter(id__gt=cur.last_event_id if cur else 0, at__lt=week_end(monday)).exists()


def send_week(monday: date, limit: int | None = None) -> tuple[int, bool]:
    """Send the week's digest to up to `limit` people who are due it; (sent, more waiting)."""
    people = list(pending(monday)[: limit + 1] if limit else pending(monday))
    more = bool(limit) and len(people) > limit
    people = people[:limit] if limit else people
    if not people:
        return 0, False
    f = figures(monday)
    msg, url = message(f), link(monday)
    sent = sum(send_one(u, monday, msg, url) for u in people)
    return sent, more


def step(worker_id: str = "") -> bool:
    """Worker step `analytics.digest`: the due week's digests, BATCH people at a time."""
    monday = due_week()
    if monday is None or not pending(monday).exists() or refresh_behind(monday):
        return False
    _sent, more = send_week(monday, BATCH)
    return more


def next_at() -> datetime | None:
    monday = due_week()
    if monday is not None and pending(monday).exists():
        return now() + timedelta(seconds=30) if refresh_behind(monday) else now()
    return next_send_time()
