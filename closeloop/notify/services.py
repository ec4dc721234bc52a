"""Notifications: turn "notify" outbox rows into one delivery per (recipient, channel),
deliver each through its channel's transport, log the outcome.

Every app asks for a notification with `notify(...)` (below): one "notify" outbox row in
the caller's transaction, in the one payload format notify reads.

Two outbox kinds are handled here:
- "notify": the cause. `fan_out` resolves recipients and preferences, renders per
  language and channel, writes Delivery rows and one "notify.deliver" outbox row each
  (inbox messages are stored at once).
- "notify.deliver": one message. `deliver` sends it; the Delivery's key is the stable
  id every attempt carries.
"""

import hashlib
import logging
import os
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role, Team, User
from closeloop.audit.services import record_change, snapshot
from closeloop.core import requestid, site
from closeloop.core.clock import now
from closeloop.core.compiled import fetch
from closeloop.core.errors import FieldProblem, Forbidden, NotFound, ValidationFailed
from closeloop.customers.models import Contact
from closeloop.outbox import services as outbox
from closeloop.roster.selectors import on_call_users
from closeloop.workorders import timeline
from closeloop.workorders.models import TimelineEvent, WorkOrder

from . import messages, webhooks
from .channels import base as transport_base
from .channels import kind_module
from .models import Channel, Delivery, FlaggedAddress, InboxItem, Medium, Status, UserPreference, UserSettings

log = logging.getLogger(__name__)

EVENT_NOTIFICATION = TimelineEvent.Kind.NOTIFICATION
PRIORITY_LABELS = dict(WorkOrder._meta.get_field("priority").choices)
#: Give up on a message after this many failed attempts (backoff grows to an hour).
MAX_ATTEMPTS = 10
FINAL = {Status.SENT, Status.DELIVERED, Status.PERMANENT, Status.SKIPPED}
#: Media that reach a person directly (preferences, quiet hours apply).
PERSONAL = {Medium.INBOX, Medium.EMAIL, Medium.SMS, Medium.VOICE, Medium.DINGTALK, Medium.WECOM, Medium.FEISHU}
CONTACT_MEDIA = {Medium.SMS, Medium.EMAIL}
#: The provider accepted it, but the handset/mailbox is not confirmed: "sent".
ACCEPTED_ONLY = {Medium.SMS, Medium.VOICE, Medium.EMAIL}


def pause_after() -> int:
    return int(getattr(settings, "CLOSELOOP_NOTIFY_PAUSE_AFTER", 5))


# ---- asking for a notification (the one producer) -----------------------------------------------

NOTIFY_KIND = "notify"


def notify(*, key: str, event: str, work_order: WorkOrder | str | None, recipients: list[dict],
           channels: list[str] | None = None, context: dict | None = None, message: str = "",
           also: list[str] | None = None, exclude: list[str] | None = None, urgent: bool = False,
           public: bool = False, no_robots: bool = False, at: datetime | None = None) -> bool:
    """Ask for a notification, in the caller's transaction (one "notify" outbox row; the worker
    fans it out and delivers each message at least once). Returns False when a request with
    this `key` was recorded before (the key is the idempotency key: name the cause, e.g.
    `escalation:<id>:notify_supervisor:<user id>`).

    - `event`: what happened ("sla.escalation", "rule.notify", "approval.requested", ...): picks
      the message template (notify.messages) and the group robots subscribed to it;
    - `recipients`: `{"user": username}`, `{"contact": id}`, `{"team": code, "who": "members" |
      "supervisor" | "on_call"}`, `{"channel": name}`, `{"watchers": True}`;
    - `channels`: None = each person's own preferences; a list = exactly these media; `also`:
      media added to the preferences (a voice call for call_manager);
    - `context`: values the templates show (rule, level, url...); `message`: free text;
    - `exclude`: usernames left out (whoever caused it); `urgent` ignores quiet hours;
      `public`: may reach customer contacts; `no_robots`: no group channels.
    """
    payload: dict = {"event": event, "work_order": work_order.code if isinstance(work_order, WorkOrder)
                     else work_order, "recipients": list(recipients)}
    for name, value in (("channels", channels), ("also", also), ("context", context), ("message", message),
                        ("exclude", exclude), ("urgent", urgent), ("public", public), ("no_robots", no_robots)):
        if value:
            payload[name] = value
    return outbox.enqueue(NOTIFY_KIND, key[:200], payload, at=at) is not None


# ---- recipients --------------------------------------------------------------------------------

def _team_people(spec: dict, at: datetime) -> list[User]:
    team = Team.objects.filter(code=spec.get("team")).first()
    if team is None:
        return []
    who = spec.get("who") or "members"
    if who == "supervisor":
        return [team.supervisor] if team.supervisor_id and team.supervisor.is_active else []
    if who == "on_call":
        people = on_call_users(team, at)
        if people:
            return people
        return [team.supervisor] if team.supervisor_id else []
    return list(team.members.filter(is_active=True).order_by("id"))


def _watchers(wo: WorkOrder) -> list[User]:
    return list(User.objects.filter(watching__work_order=wo, is_active=True))


def resolve(payload: dict, wo: WorkOrder | None, at: datetime) -> list[tuple[str, object]]:
    """[("user", User) | ("contact", Contact) | ("channel", Channel)], each once."""
    out: list = []
    seen: set = set()

    def add(kind, obj):
        if obj is not None and (kind, obj.pk) not in seen:
            seen.add((kind, obj.pk))
            out.append((kind, obj))

    for spec in payload.get("recipients") or []:
        if not isinstance(spec, dict):
            continue
        if spec.get("user"):
            add("user", User.objects.filter(username=spec["user"], is_active=True).first())
        elif spec.get("contact"):
            add("contact", Contact.objects.filter(pk=spec["contact"]).first()
                if str(spec["contact"]).isdigit() else None)
        elif spec.get("team"):
            for u in _team_people(spec, at):
                add("user", u)
        elif spec.get("channel"):
            ch = Channel.objects.filter(name=spec["channel"]).first() or (
                Channel.objects.filter(pk=spec["channel"]).first() if str(spec["channel"]).isdigit() else None)
            add("channel", ch)
        elif spec.get("watchers") and wo is not None:
            for u in _watchers(wo):
                add("user", u)
    excluded = set(payload.get("exclude") or [])  # usernames, e.g. whoever caused the event
    if excluded:
        out = [(kind, obj) for kind, obj in out if not (kind == "user" and obj.username in excluded)]
    # Group robots and webhooks subscribed to this event (internal: never for public-only causes
    # addressed to customers alone).
    event = payload.get("event") or ""
    if not payload.get("no_robots"):
        for ch in Channel.objects.filter(enabled=True).order_by("id"):
            subs = ch.events or []
            if (event in subs or "*" in subs) and (ch.team_id is None or (wo is not None and wo.team_id == ch.team_id)):
                add("channel", ch)
    return out


def _prefs(user: User, event: str) -> dict[str, bool]:
    rows = {(p.event, p.medium): p.enabled for p in UserPreference.objects.filter(user=user, event__in=[event, "*"])}
    out: dict[str, bool] = {}
    for (ev, medium), enabled in rows.items():
        if ev == "*" and medium not in out:
            out[medium] = enabled
    for (ev, medium), enabled in rows.items():
        if ev == event:
            out[medium] = enabled
    return out


def media_for_user(user: User, event: str, asked: list | None, urgent: bool) -> list[str]:
    prefs = _prefs(user, event)
    if asked:
        media = [m for m in asked if m in Medium.values]
        # An explicit opt-out wins, except for the inbox and urgent messages.
        return [m for m in media if m == Medium.INBOX or urgent or prefs.get(m, True)]
    chosen = [m for m, on in prefs.items() if on]
    if not prefs:
        chosen = [Medium.INBOX] + ([Medium.EMAIL] if user.email else [])
    if Medium.INBOX not in chosen:
        chosen.insert(0, Medium.INBOX)  # the inbox is the record: every message lands there
    return [m for m in Medium.values if m in chosen]


def quiet_until(user: User, at: datetime) -> datetime | None:
    """End of the user's quiet period when `at` falls in it, else None."""
    s = UserSettings.objects.filter(user=user).first()
    if s is None or s.quiet_start is None or s.quiet_end is None or s.quiet_start == s.quiet_end:
        return None
    try:
        zone = ZoneInfo(user.time_zone or settings.TIME_ZONE)
    except (KeyError, ValueError):
        zone = ZoneInfo(settings.TIME_ZONE)
    local = at.astimezone(zone)
    t = local.time()
    qs, qe = s.quiet_start, s.quiet_end
    inside = (qs <= t < qe) if qs < qe else (t >= qs or t < qe)
    if not inside:
        return None
    end = local.replace(hour=qe.hour, minute=qe.minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(UTC)


def pick_channel(medium: str, wo: WorkOrder | None) -> Channel | None:
    kinds = [m.KIND for m in _all_modules() if m.MEDIUM == medium]
    qs = Channel.objects.filter(kind__in=kinds, enabled=True).order_by("id")
    chans = list(qs)
    if wo is not None and wo.team_id:
        for c in chans:
            if c.team_id == wo.team_id:
                return c
    for c in chans:
        if c.team_id is None:
            return c
    return None


def _all_modules():
    from .channels import all_kinds

    return all_kinds()


def _address(medium: str, who) -> str:
    if medium == Medium.EMAIL:
        return who.email or ""
    if medium in (Medium.SMS, Medium.VOICE, Medium.DINGTALK):
        return who.phone or ""
    return ""


def _language(kind: str, who, site_language: str) -> str:
    """The recipient's language: their preference (users), else the site's default."""
    if kind == "user" and who.language:
        return who.language
    return site_language


def _key(cause: str, rkind: str, rid, medium: str) -> str:
    key = f"{cause}:{rkind[0]}{rid}:{medium}"
    if len(key) > 190:
        key = "h" + hashlib.sha256(key.encode()).hexdigest()[:40] + f":{rkind[0]}{rid}:{medium}"
    return key


def context_for(payload: dict, wo: WorkOrder | None, public: bool) -> dict:
    ctx = {"event": payload.get("event", ""), "message": payload.get("message") or ""}
    extra = payload.get("context") or {}
    if isinstance(extra, dict):
        ctx.update({k: v for k, v in extra.items() if isinstance(v, (str, int, float)) or v is None
                    or (isinstance(v, dict) and ("msgid" in v or "i18n" in v))})
    if wo is not None:
        # Labels in every language: each recipient (and each reader of the inbox) sees their own.
        ctx.update(code=wo.code, title=wo.title, priority=messages.localized(PRIORITY_LABELS.get(wo.priority, wo.priority)),
                   priority_key=wo.priority, status=messages.localized(wo.status_label))
        ctx.setdefault("url", "")
        if not ctx["url"] and not public:
            ctx["url"] = f"{messages.base_url()}/work-orders/{wo.code}"
    if ctx.get("due_at"):
        try:
            due = datetime.fromisoformat(ctx["due_at"]).astimezone(ZoneInfo(settings.TIME_ZONE))
            ctx["due_local"] = due.strftime("%Y-%m-%d %H:%M")
        except (TypeError, ValueError):
            ctx["due_local"] = ctx["due_at"]
    return ctx


def _label(kind: str, who) -> str:
    return str(who)


# ---- fan-out (the "notify" outbox handler) -----------------------------------------------------

def fan_out(msg) -> None:
    at = now()
    with transaction.atomic():
        fan_out_payload(msg.key, msg.payload, at)


def fan_out_payload(cause: str, payload: dict, at: datetime) -> list[Delivery]:
    event = str(payload.get("event") or "notify")[:60]
    wo = WorkOrder.objects.filter(code=payload["work_order"]).select_related("team").first() \
        if payload.get("work_order") else None
    public = bool(payload.get("public"))
    urgent = bool(payload.get("urgent")) or event.startswith("ack.") or (wo is not None and wo.priority == "urgent")
    asked = payload.get("channels") or None
    if isinstance(asked, str):
        asked = [asked]
    out = []
    site_language = site.default_language()
    for rkind, who in resolve(payload, wo, at):
        if rkind == "contact":
            if not public:
                continue  # customer contacts only ever get public-only messages
            media = [m for m in (asked or [Medium.EMAIL if who.email else Medium.SMS]) if m in CONTACT_MEDIA]
        elif rkind == "user":
            if who.role == Role.CUSTOMER and not public:
                continue
            media = media_for_user(who, event, asked, urgent)
            media += [m for m in payload.get("also") or [] if m in Medium.values and m not in media]
            if who.role == Role.CUSTOMER:
                media = [m for m in media if m in CONTACT_MEDIA | {Medium.INBOX}]
        else:
            media = [who.medium]
        ctx = context_for(payload, wo, public or rkind == "contact" or (rkind == "user" and who.is_customer))
        if rkind != "channel":
            ctx["recipient"] = str(who)
        for medium in media:
            d = _make_delivery(cause, event, payload, wo, rkind, who, medium, ctx, at, urgent, site_language)
            if d is not None:
                out.append(d)
    return out


def _make_delivery(cause, event, payload, wo, rkind, who, medium, ctx, at, urgent,
                   site_language: str) -> Delivery | None:
    key = _key(cause, rkind, who.pk, medium)
    lang = _language(rkind, who, site_language)
    rendered = messages.render(event, medium, ctx, lang)
    channel = who if rkind == "channel" else (None if medium == Medium.INBOX else pick_channel(medium, wo))
    address = "" if rkind == "channel" else _address(medium, who)
    d = Delivery(key=key, cause=cause[:200], event=event, work_order=wo, medium=medium, channel=channel,
                 address=address, language=lang, subject=rendered.subject[:300], body=rendered.body,
                 markdown=rendered.markdown, url=rendered.url[:500], recipient=_label(rkind, who)[:200],
                 created_at=at, scheduled_at=at, updated_at=at,
                 user=who if rkind == "user" else None, contact=who if rkind == "contact" else None)
    skip = ""
    if medium != Medium.INBOX and channel is None:
        skip = _("No %(m)s channel is configured.") % {"m": Medium(medium).label}
    elif medium in (Medium.EMAIL, Medium.SMS, Medium.VOICE) and not address:
        skip = _("No address for %(m)s.") % {"m": Medium(medium).label}
    elif address and FlaggedAddress.objects.filter(medium=medium, address=address).exists():
        skip = _("Address %(a)s is flagged as bad.") % {"a": address}
    if skip:
        d.status, d.error = Status.SKIPPED, skip
    if rkind == "user" and medium != Medium.INBOX and not urgent and not skip:
        until = quiet_until(who, at)
        if until:
            d.scheduled_at = until
    try:
        with transaction.atomic():
            d.save()
    except IntegrityError:
        return None  # this cause was fanned out before (a worker died after committing it)
    if skip:
        _timeline(d, at)
        return d
    if medium == Medium.INBOX:
        # The rendered text is kept (for the log), and the key and parameters too: the inbox renders
        # them again in whatever language its reader uses (messages.for_reader).
        InboxItem.objects.create(user=who, delivery=d, event=event, subject=d.subject, body=d.body, url=d.url,
                                 context=ctx, work_order=wo, chain_id=(payload.get("context") or {}).get("chain"),
                                 created_at=at)
        Delivery.objects.filter(pk=d.pk).update(status=Status.DELIVERED, sent_at=at, attempts=1)
        d.status = Status.DELIVERED
        return d
    outbox.enqueue("notify.deliver", key, {"delivery": d.pk}, at=d.scheduled_at)
    return d


# ---- delivering one message (the "notify.deliver" outbox handler) ------------------------------

def deliver_message(msg) -> None:
    deliver(msg.payload["delivery"], outbox_attempts=msg.attempts)


def deliver(delivery_id: int, outbox_attempts: int = 1) -> Delivery:
    """Deliver one message now. Raises outbox.PermanentError / RetryableError for the outbox."""
    d = Delivery.objects.select_related("channel", "work_order", "user").filter(pk=delivery_id).first()
    if d is None or d.status in FINAL:
        return d
    early = _precheck(d, now())
    if early is not None:
        if isinstance(early, Exception):
            raise early
        return d
    exc = _record_outcome(d, _send(d))
    if exc is not None:
        raise exc
    return d


def _precheck(d: Delivery, t: datetime):
    """None to send; True when finished without sending; an outbox error to raise."""
    ch = d.channel
    if ch is None and d.webhook:
        return None  # a direct webhook (notify.webhooks): no channel to check
    if ch is None:
        _finish(d, Status.PERMANENT, _("The channel was deleted."), t)
        return outbox.PermanentError(d.error)
    if not ch.enabled:
        _finish(d, Status.SKIPPED, _("Channel %(c)s is disabled.") % {"c": ch.name}, t)
        return True
    if ch.paused_at is not None:
        # Waits for an admin to resume the channel (resume makes these due at once).
        return outbox.RetryableError(_("Channel %(c)s is paused.") % {"c": ch.name}, retry_after=600)
    return None


def _send(d: Delivery):
    """The network part only (no database): thread-safe. Returns ("ok", provider id) or
    ("error", transport exception)."""
    try:
        if d.channel is None:
            return "ok", webhooks.send(d)
        return "ok", kind_module(d.channel.kind).send(d.channel, d)
    except (transport_base.Permanent, transport_base.Retryable) as e:
        return "error", e
    except Exception as e:  # a transport bug must not lose the message: retry it
        log.exception("transport %s failed", d.channel.kind if d.channel else "webhook")
        return "error", transport_base.Retryable(f"{type(e).__name__}: {e}")


def _record_outcome(d: Delivery, result) -> Exception | None:
    """Write the outcome of a send; returns the outbox error to raise (None when done)."""
    ch = d.channel
    kind, value = result
    d.attempts += 1
    if kind == "ok":
        d.provider_id = (value or "")[:200]
        if ch is not None and (ch.consecutive_failures or ch.last_error):
            Channel.objects.filter(pk=ch.pk).update(consecutive_failures=0, last_error="")
            ch.consecutive_failures, ch.last_error = 0, ""
        _finish(d, Status.SENT if d.medium in ACCEPTED_ONLY else Status.DELIVERED, "", now())
        return None
    e = value
    if isinstance(e, transport_base.Permanent):
        _finish(d, Status.PERMANENT, str(e), now())
        if e.address and d.address:
            FlaggedAddress.objects.get_or_create(medium=d.medium, address=d.address,
                                                 defaults={"reason": str(e)[:500], "flagged_at": now()})
        elif not e.address and ch is not None:
            _channel_failed(ch, str(e), pause=True)
        return outbox.PermanentError(str(e))
    if ch is not None:
        _channel_failed(ch, str(e))
    if d.attempts >= MAX_ATTEMPTS:
        _finish(d, Status.PERMANENT, _("Gave up after %(n)d attempts: %(e)s") % {"n": d.attempts, "e": e}, now())
        return outbox.PermanentError(str(e))
    Delivery.objects.filter(pk=d.pk).update(status=Status.FAILED, error=str(e)[:2000], attempts=d.attempts,
                                            updated_at=now())
    return outbox.RetryableError(str(e), retry_after=e.retry_after)


#: Messages delivered per batch, sent on THREADS threads (more threads lose to the GIL: measured
#: 16 threads ~390/s, 4 threads ~900/s to a local sink). The batch's lease covers the worst case,
#: every request running into the transport deadline.
BATCH = 32
#: Deliveries leased per round: bigger rounds cut the database round trips per message
#: (claim, load, record, done): on PostgreSQL 64 a round delivered ~15-20 % more per CPU
#: second than 32. The lease (what a killed worker's messages wait for) grows with the round.
DELIVER_BATCH = 64
THREADS = 4


def batch_lease() -> timedelta:
    if os.environ.get("CLOSELOOP_NOTIFY_LEASE"):  # tests of a killed worker
        return timedelta(seconds=float(os.environ["CLOSELOOP_NOTIFY_LEASE"]))
    rounds = -(-DELIVER_BATCH // THREADS)
    return timedelta(seconds=rounds * transport_base.DEADLINE + 30)
_pool = None


def deliver_batch(worker_id: str) -> bool:
    """Worker step (core.jobs): lease up to DELIVER_BATCH due messages, send them concurrently,
    record the outcomes. The single-row outbox handler remains for everything else."""
    global _pool
    t = now()
    token, rows = outbox.claim_batch("notify.deliver", worker_id, t, DELIVER_BATCH, lease=batch_lease())
    if not rows:
        return False
    ds = {d.pk: d for d in Delivery.objects.select_related("channel", "work_order", "user").filter(
        pk__in=[r.payload.get("delivery") for r in rows])}
    finished, sending = [], []
    for r in rows:
        d = ds.get(r.payload.get("delivery"))
        if d is None or d.status in FINAL:
            finished.append(r.id)
            continue
        early = _precheck(d, t)
        if early is None:
            sending.append((r, d))
        elif isinstance(early, Exception):
            outbox.failed(r, token, t, early)
        else:
            finished.append(r.id)
    if sending:
        if _pool is None:
            from concurrent.futures import ThreadPoolExecutor

            _pool = ThreadPoolExecutor(THREADS, thread_name_prefix="notify-send")
        transport_base.shared_client()
        results = list(_pool.map(_send_under_request_id, sending))
        with transaction.atomic():
            ok = []
            for (r, d), result in zip(sending, results, strict=True):
                if result[0] == "ok" and (d.channel is None or (not d.channel.consecutive_failures
                                                                and not d.channel.last_error)):
                    ok.append((r, d, result[1]))
                    continue
                with requestid.bind(r.request_id):
                    exc = _record_outcome(d, result)
                    if exc is None:
                        finished.append(r.id)
                    else:
                        outbox.failed(r, token, t, exc)
            if ok:
                _record_ok_bulk([(d, pid) for _r, d, pid in ok])
                finished.extend(r.id for r, _d, _p in ok)
    if finished:
        outbox.done(finished, token)
    return True


def _send_under_request_id(row_and_delivery):
    """A sending thread logs under the request id of the message it sends (threads start without it)."""
    row, d = row_and_delivery
    with requestid.bind(row.request_id):
        return _send(d)


def _record_ok_bulk(items: list[tuple[Delivery, str]]) -> None:
    """Successful sends of a batch: one UPDATE and one INSERT for all of them."""
    at = now()
    ds = []
    for d, provider_id in items:
        d.attempts += 1
        d.provider_id = (provider_id or "")[:200]
        d.status = Status.SENT if d.medium in ACCEPTED_ONLY else Status.DELIVERED
        d.error, d.updated_at, d.sent_at = "", at, at
        ds.append(d)
    # One UPDATE per status for the rows without a provider id (robots, webhooks); the others
    # (SMS, calls: each has its own id) one each. bulk_update's CASE expressions cost more CPU.
    groups: dict[str, list[int]] = {}
    for d in ds:
        if d.provider_id:
            Delivery.objects.filter(pk=d.pk).update(status=d.status, error="", updated_at=at, sent_at=at,
                                                    attempts=F("attempts") + 1, provider_id=d.provider_id)
        else:
            groups.setdefault(d.status, []).append(d.pk)
    for status, ids in groups.items():
        Delivery.objects.filter(pk__in=ids).update(status=status, error="", updated_at=at, sent_at=at,
                                                   attempts=F("attempts") + 1)
    events = []
    for d in ds:
        with requestid.bind(d.request_id):  # the event carries the id of the request behind the message
            events.append(_timeline_event(d, at))
    timeline.append_events(e for e in events if e is not None)


def fan_out_batch(worker_id: str) -> bool:
    """Worker step: fan out up to BATCH due causes ("notify" rows) in one transaction."""
    t = now()
    busy = False
    token, rows = outbox.claim_batch(NOTIFY_KIND, worker_id, t, BATCH)
    if rows:
        busy = True
        ok = []
        with transaction.atomic():
            for r in rows:
                with requestid.bind(r.request_id):
                    try:
                        with transaction.atomic():
                            fan_out_payload(r.key, r.payload, t)
                        ok.append(r.id)
                    except Exception as e:  # one bad payload must not hold up the others
                        log.exception("fan-out of %s failed", r.key)
                        outbox.failed(r, token, t, e)
            outbox.done(ok, token)
    return busy


def next_batch_at():
    return None  # the outbox's own next_outbox_at covers notify.deliver rows


def _finish(d: Delivery, status: str, error: str, at: datetime) -> None:
    d.status, d.error, d.updated_at = status, error[:2000], at
    if status in (Status.SENT, Status.DELIVERED):
        d.sent_at = at
    with transaction.atomic(savepoint=False):  # no savepoint: inside the batch's transaction it is free
        Delivery.objects.filter(pk=d.pk).update(status=status, error=d.error, updated_at=at, sent_at=d.sent_at,
                                                attempts=d.attempts, provider_id=d.provider_id)
        _timeline(d, at)


def _timeline(d: Delivery, at: datetime) -> None:
    """Outcome of a message on its work order's timeline (inbox messages are not logged there)."""
    ev = _timeline_event(d, at)
    if ev is not None:
        timeline.append_events([ev])


def _timeline_event(d: Delivery, at: datetime) -> TimelineEvent | None:
    if d.work_order_id is None or d.medium == Medium.INBOX:
        return None
    from django.utils import translation

    with translation.override(settings.LANGUAGE_CODE):  # the timeline is written in the deployment's language
        if d.channel_id is None and d.webhook:
            via = webhooks.host(d.webhook.get("url"))
        else:
            via = d.channel.name if d.channel_id and d.medium in (Medium.WEBHOOK,) else str(Medium(d.medium).label)
        text = describe(d, at)
    return timeline.new_event(
        d.work_order_id, EVENT_NOTIFICATION, at=at, action="delivery",
        data={"delivery": d.key, "recipient": d.recipient, "medium": d.medium, "via": via, "status": d.status,
              "error": d.error[:300], "event": d.event, "channel": d.channel.name if d.channel_id else "",
              "text": text})


def describe_event(data: dict, at: datetime) -> str:
    """A delivery's timeline event (its data) in the reader's language: the stored `text` was written
    in the deployment's language once; the fields it came from are rendered again."""
    medium = data.get("medium") or ""
    if medium not in Medium.values or data.get("status") not in Status.values:
        return str(data.get("text") or "")
    d = Delivery(medium=medium, status=data["status"], recipient=data.get("recipient") or "",
                 error=data.get("error") or "", sent_at=at)
    return describe(d, at)


def describe(d: Delivery, at: datetime | None = None) -> str:
    """"sent to 张伟 via DingTalk at 10:02 — delivered" / "SMS failed: invalid number"."""
    via = str(Medium(d.medium).label)
    if d.status in (Status.SENT, Status.DELIVERED):
        local = timezone.localtime(d.sent_at or at or now())
        return _("sent to %(who)s via %(via)s at %(t)s — %(s)s") % {
            "who": d.recipient, "via": via, "t": local.strftime("%H:%M"), "s": str(Status(d.status).label).lower()}
    if d.status == Status.SKIPPED:
        return _("%(via)s to %(who)s skipped: %(e)s") % {"via": via, "who": d.recipient, "e": d.error}
    return _("%(via)s to %(who)s failed: %(e)s") % {"via": via, "who": d.recipient, "e": d.error[:200]}


def _channel_failed(ch: Channel, error: str, *, pause: bool = False) -> None:
    Channel.objects.filter(pk=ch.pk).update(consecutive_failures=F("consecutive_failures") + 1,
                                            last_error=error[:2000])
    ch.refresh_from_db(fields=["consecutive_failures", "paused_at"])
    if ch.paused_at is None and (pause or ch.consecutive_failures >= pause_after()):
        t = now()
        with transaction.atomic():
            if Channel.objects.filter(pk=ch.pk, paused_at__isnull=True).update(paused_at=t):
                _tell_owner(ch, error, t)


def _tell_owner(ch: Channel, error: str, at: datetime) -> None:
    owners = [ch.owner] if ch.owner_id else list(User.objects.filter(role=Role.ADMIN, is_active=True)[:5])
    for u in owners:
        with transaction.atomic():
            fan_out_payload(f"channel-paused:{ch.pk}:{at.timestamp():.0f}", {
                "event": "channel.paused", "recipients": [{"user": u.username}], "channels": ["inbox"],
                "no_robots": True,
                "context": {"channel": ch.name, "failures": ch.consecutive_failures, "error": error[:300],
                            "url": f"{messages.base_url()}/notifications/channels/{ch.pk}"}}, at)


# ---- admin operations --------------------------------------------------------------------------

def _require_admin(actor: User, managers: bool = True) -> None:
    roles = {Role.ADMIN, Role.MANAGER} if managers else {Role.ADMIN}
    if not (actor.is_superuser or actor.role in roles):
        raise Forbidden(_("Only administrators and managers manage notification channels."))


CHANNEL_FIELDS = {"kind", "name", "config", "enabled", "events", "team", "owner"}


def _apply_channel(ch: Channel, data: dict) -> None:
    problems = [FieldProblem(k, _("Unknown field."), "unknown") for k in sorted(set(data) - CHANNEL_FIELDS)]
    if problems:
        raise ValidationFailed(problems)
    for k in ("kind", "name", "enabled", "events"):
        if k in data:
            setattr(ch, k, data[k])
    if "config" in data:
        # Secrets left blank in an edit keep their stored value.
        new = dict(data["config"] or {})
        if ch.pk:
            for name, _label, _req, secret in kind_module(ch.kind).FIELDS:
                if secret and not new.get(name) and ch.config.get(name):
                    new[name] = ch.config[name]
        ch.config = new
    if "team" in data:
        ch.team = Team.objects.filter(code=data["team"]).first() if data["team"] else None
        if data["team"] and ch.team is None:
            raise ValidationFailed(FieldProblem("team", _("No such team."), "not_found"))
    if "owner" in data:
        ch.owner = User.objects.filter(username=data["owner"]).first() if data["owner"] else None
        if data["owner"] and ch.owner is None:
            raise ValidationFailed(FieldProblem("owner", _("No such user."), "not_found"))
    if not isinstance(ch.enabled, bool):
        raise ValidationFailed(FieldProblem("enabled", _("Must be true or false.")))
    if Channel.objects.filter(name=ch.name).exclude(pk=ch.pk).exists():
        raise ValidationFailed(FieldProblem("name", _("A channel with this name exists."), "duplicate"))


def _audit_channel(actor: User, channel: Channel, before: dict | None, action: str | None = None) -> None:
    """The channel's audit record: its secret config fields (per kind) are hidden."""
    secrets = {f"config.{name}" for name, _label, _req, secret in kind_module(channel.kind).FIELDS if secret}
    record_change(actor=actor, kind="channel", obj=channel, before=before, after=_channel_snapshot(channel),
                  action=action, secrets=secrets)


def _channel_snapshot(channel: Channel) -> dict:
    return snapshot(channel, exclude=("created_at", "consecutive_failures", "last_error"))


def do_create_channel(*, actor: User, data: dict) -> Channel:
    _require_admin(actor)
    if not data.get("kind"):
        raise ValidationFailed(FieldProblem("kind", _("This field is required."), "required"))
    ch = Channel(created_at=now(), owner=actor)
    _apply_channel(ch, data)
    with transaction.atomic():
        ch.save()
        _audit_channel(actor, ch, None)
    return ch


def do_update_channel(*, actor: User, channel: Channel, data: dict) -> Channel:
    _require_admin(actor)
    if "kind" in data and data["kind"] != channel.kind:
        raise ValidationFailed(FieldProblem("kind", _("The kind of a channel cannot change."), "invalid"))
    before = _channel_snapshot(channel)
    _apply_channel(channel, data)
    with transaction.atomic():
        channel.save()
        _audit_channel(actor, channel, before)
    return channel


def do_resume_channel(*, actor: User, channel: Channel) -> Channel:
    _require_admin(actor)
    t = now()
    with transaction.atomic():
        before = _channel_snapshot(channel)
        Channel.objects.filter(pk=channel.pk).update(paused_at=None, consecutive_failures=0)
        _audit_channel(actor, Channel.objects.get(pk=channel.pk), before, action="resumed")
        keys = list(Delivery.objects.filter(channel=channel, status__in=[Status.QUEUED, Status.FAILED])
                    .values_list("key", flat=True))
        from closeloop.outbox.models import OutboxMessage

        OutboxMessage.objects.filter(kind="notify.deliver", key__in=keys, done_at__isnull=True).update(available_at=t)
    channel.refresh_from_db()
    return channel


def do_send_test(*, actor: User, channel: Channel, address: str = "") -> Delivery:
    """Send a test message through `channel` now (synchronously) and return its delivery."""
    _require_admin(actor)
    t = now()
    ctx = {"channel": channel.name, "url": messages.base_url()}
    r = messages.render("test", channel.medium, ctx, actor.language or site.default_language())
    if not address and channel.medium == Medium.EMAIL:
        address = actor.email
    elif not address and channel.medium in (Medium.SMS, Medium.VOICE):
        address = actor.phone
    d = Delivery.objects.create(
        key=f"test:{channel.pk}:{t.timestamp():.6f}", cause="test", event="test", medium=channel.medium,
        channel=channel, address=address[:300], language=actor.language, subject=r.subject, body=r.body,
        markdown=r.markdown, url=r.url, recipient=str(actor), user=actor, created_at=t, scheduled_at=t, updated_at=t)
    try:
        deliver(d.pk)
    except (outbox.PermanentError, outbox.RetryableError):
        pass
    d.refresh_from_db()
    if d.status == Status.FAILED:  # a test is not retried
        Delivery.objects.filter(pk=d.pk).update(status=Status.PERMANENT)
        d.status = Status.PERMANENT
    return d


def do_redeliver(*, actor: User, delivery: Delivery) -> Delivery:
    """Send a message again with the same delivery id (receivers may drop it as a duplicate)."""
    _require_admin(actor)
    if delivery.medium == Medium.INBOX:
        raise ValidationFailed(FieldProblem("delivery", _("Inbox messages are not redelivered."), "invalid"))
    if delivery.channel_id is None and not delivery.webhook:
        raise ValidationFailed(FieldProblem("delivery", _("Its channel was deleted."), "invalid"))
    t = now()
    with transaction.atomic():
        n = Delivery.objects.filter(pk=delivery.pk).update(status=Status.QUEUED, error="", updated_at=t)
        if not n:
            raise NotFound(_("No such delivery."))
        outbox.enqueue("notify.deliver", f"{delivery.key}#r{int(t.timestamp() * 1000)}"[:200],
                       {"delivery": delivery.pk}, at=t)
    delivery.refresh_from_db()
    return delivery


def do_clear_flag(*, actor: User, flag_id: int) -> None:
    _require_admin(actor)
    FlaggedAddress.objects.filter(pk=flag_id).delete()


# ---- the inbox -----------------------------------------------------------------------------------

def unread_count(user: User) -> int:
    """The inbox badge on every page: constant SQL (no queryset compiled per request), the
    (user, read_at, id) index; notify/tests/test_inbox_counts.py checks it against the ORM."""
    return fetch("default", _UNREAD_SQL, [user.pk])[0][0]


_UNREAD_SQL = f"SELECT COUNT(*) FROM {InboxItem._meta.db_table} WHERE user_id = %s AND read_at IS NULL"


def do_mark_read(*, actor: User, item_id: int | None = None) -> int:
    qs = InboxItem.objects.filter(user=actor, read_at__isnull=True)
    if item_id is not None:
        qs = qs.filter(pk=item_id)
    return qs.update(read_at=now())


# ---- preferences ---------------------------------------------------------------------------------

def do_set_preferences(*, actor: User, prefs: list[dict], quiet_start=None, quiet_end=None,
                       set_quiet: bool = False, digest: bool | None = None) -> None:
    """`digest`: True / False turns the weekly digest on or off (only roles offered it,
    selectors.digest_offered; others get a 422 on `weekly_digest`); None leaves it as it is."""
    from .selectors import digest_offered

    problems = []
    clean = []
    if digest is not None and not isinstance(digest, bool):
        problems.append(FieldProblem("weekly_digest", _("Must be true or false.")))
    elif digest is not None and not digest_offered(actor):
        problems.append(FieldProblem("weekly_digest", _("Only managers and administrators receive the weekly "
                                                        "digest."), "forbidden"))
    for i, p in enumerate(prefs):
        if not isinstance(p, dict) or set(p) - {"event", "medium", "enabled"}:
            problems.append(FieldProblem(f"preferences[{i}]", _("Needs event, medium and enabled only.")))
            continue
        if p.get("medium") not in Medium.values:
            problems.append(FieldProblem(f"preferences[{i}].medium", _("Unknown channel."), "invalid"))
            continue
        ev = str(p.get("event") or "*")[:60]
        if not isinstance(p.get("enabled", True), bool):
            problems.append(FieldProblem(f"preferences[{i}].enabled", _("Must be true or false.")))
            continue
        clean.append((ev, p["medium"], p.get("enabled", True)))
    if problems:
        raise ValidationFailed(problems)
    with transaction.atomic():
        for ev, medium, enabled in clean:
            UserPreference.objects.update_or_create(user=actor, event=ev, medium=medium, defaults={"enabled": enabled})
        fields: dict = {}
        if set_quiet:
            fields.update(quiet_start=quiet_start, quiet_end=quiet_end)
        if digest is not None:
            fields["digest"] = digest
        if fields:
            UserSettings.objects.update_or_create(user=actor, defaults=fields)
