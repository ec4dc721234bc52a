"""Every write of the SLA app. `recompute` runs inside the work order's own
transaction (lifecycle effect, see sla.hooks) or the worker's; `fire_due_levels`
is the escalation ladder (called by sla.worker.handle_one_sla_check).
"""

import re
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role, User
from closeloop.audit.services import record_change, snapshot
from closeloop.core import refcache
from closeloop.core.clock import now
from closeloop.core.errors import FieldProblem, ValidationFailed
from closeloop.notify import messages as texts
from closeloop.notify.services import notify
from closeloop.workorders import lifecycle, mainline, timeline
from closeloop.workorders.models import TimelineEvent, WorkOrder
from closeloop.workorders.services import do_escalate_work_order

from . import hooks
from . import ledger as ledger_mod
from .models import MILESTONES, BusinessCalendar, Escalation, Milestone, SLAPolicy, SLATarget
from .policies import check_condition, select_policy

#: Timeline event kinds written by this app (workorders.TimelineEvent.kind values).
EVENT_SLA = "sla"
EVENT_ESCALATION = "escalation"

ACTIONS = ("remind_assignee", "notify_supervisor", "reassign_backup", "raise_priority", "call_manager")
RESPONSE_ACTION_CHOICES = ("depart", "arrive", "start", "complete")


def _events(wo: WorkOrder) -> list[ledger_mod.Event]:
    rows = TimelineEvent.objects.filter(work_order=wo, kind__in=("created", "transition")).order_by("id") \
        .values_list("at", "kind", "action", "from_state", "to_state")
    events = [ledger_mod.Event(*r) for r in rows]
    return events or [ledger_mod.Event(wo.created_at, "created")]


def compute_for(wo: WorkOrder, policy: SLAPolicy, at: datetime) -> list[ledger_mod.TargetLedger]:
    """The type's main line decides what can meet the response: without travel, starting the work
    (depart and arrive never happen), so the response and arrival targets stay reachable."""
    wo_type = mainline.type_of(wo)
    return ledger_mod.compute(_events(wo), targets=policy.targets, ladder=policy.ladder,
                              response_actions=mainline.response_actions(
                                  wo_type, policy.response_actions or ledger_mod.DEFAULT_RESPONSE_ACTIONS),
                              arrival_actions=mainline.arrival_actions(wo_type),
                              cal=policy.calendar.spec(), now=at)


def _next_check(led: ledger_mod.TargetLedger, fired: set, at: datetime) -> datetime | None:
    if not led.running:
        return None
    times = [lv.fire_at for lv in led.levels if lv.level not in fired and lv.fire_at is not None]
    if led.state == "on_track" and led.warning_at:
        times.append(led.warning_at)
    if not led.breached and led.due_at:
        times.append(led.due_at)
    times = [t for t in times if t is not None]
    return min(times) if times else None


def recompute(wo: WorkOrder, *, at: datetime | None = None, actor: User | None = None,
              policies: list[SLAPolicy] | None = None, created: bool = False) -> list[SLATarget]:
    """Bring the work order's ledger rows up to date with its timeline and the policy
    that now applies. Records a timeline event when the policy (or its version) changes.
    `created`: the work order was created in this transaction and has no ledger rows or fired
    levels yet (its create's own pass): they are not read."""
    return _sync(wo, at=at or now(), actor=actor, policies=policies, created=created)[0]


#: SLATarget columns the ledger writes (one UPDATE for all of a work order's rows).
_LEDGER_FIELDS = ["policy", "policy_version", "calendar", "target_seconds", "started_at", "due_at", "met_at",
                  "elapsed_seconds", "paused_seconds", "paused_intervals", "state", "breached", "computed_at",
                  "next_check_at", "claim_token"]


def _sync(wo: WorkOrder, *, at: datetime, actor: User | None = None, policies: list[SLAPolicy] | None = None,
          fire: bool = False, worker: str = "", created: bool = False) -> tuple[list[SLATarget], list[Escalation]]:
    """One pass: select the policy, read the timeline once, fire due ladder levels when
    `fire` (the worker), write the ledger rows and their next timers."""
    policy = select_policy(wo, policies)
    existing = {} if created else {t.milestone: t for t in SLATarget.objects.filter(work_order=wo)}
    before = next(iter(existing.values()), None)
    if policy is None:
        if existing:
            SLATarget.objects.filter(work_order=wo).delete()
            timeline.append_event(wo, EVENT_SLA, actor=actor, at=at,
                                  data={"policy": None, "previous": _ref(before)})
        return [], []
    if before is None or before.policy_id != policy.pk or before.policy_version != policy.version:
        timeline.append_event(wo, EVENT_SLA, actor=actor, at=at, data={
            "policy": policy.key, "policy_name": policy.name, "version": policy.version,
            "calendar": policy.calendar.key, "targets": policy.targets, "previous": _ref(before)})
    fired = {} if created else _fired(wo, policy)
    old_states = {m: t.state for m, t in existing.items()}
    ledgers = compute_for(wo, policy, at)
    done = _fire(wo, policy, ledgers, fired, at, worker) if fire else []
    rows, new_rows = [], []
    for led in ledgers:
        row = existing.pop(led.milestone, None)
        if row is None:
            row = SLATarget(work_order=wo, milestone=led.milestone)
            new_rows.append(row)
        row.policy, row.policy_version, row.calendar_id = policy, policy.version, policy.calendar_id
        row.target_seconds, row.started_at, row.due_at, row.met_at = (led.target_seconds, led.started_at,
                                                                      led.due_at, led.met_at)
        row.elapsed_seconds, row.paused_seconds = led.elapsed_seconds, led.paused_seconds
        row.paused_intervals = [[a.isoformat(), b.isoformat() if b else None] for a, b in led.paused_intervals]
        row.state, row.breached, row.computed_at = led.state, led.breached, at
        row.next_check_at = _next_check(led, fired.get(led.milestone, set()), at)
        row.claim_token = ""
        rows.append(row)
    if existing:
        SLATarget.objects.filter(pk__in=[t.pk for t in existing.values()]).delete()
    old_rows = [r for r in rows if r.pk is not None]
    if old_rows:
        _update_rows(old_rows)
    if new_rows:
        SLATarget.objects.bulk_create(new_rows)
    for row in rows:
        if row.state in ("warning", "breached") and old_states.get(row.milestone) != row.state:
            hooks.state_changed(wo, row.milestone, old_states.get(row.milestone), row.state, row.due_at, at)
    return rows, done


def _update_rows(rows: list[SLATarget]) -> None:
    """The ledger columns of these rows: one prepared UPDATE run for each row (executemany).
    Django's bulk_update builds a CASE per column and row, which cost more than the rest of a
    transition together."""
    fields = [SLATarget._meta.get_field(name) for name in _LEDGER_FIELDS]
    sql = (f"UPDATE {SLATarget._meta.db_table} SET "
           + ", ".join(f"{connection.ops.quote_name(f.column)} = %s" for f in fields) + " WHERE id = %s")
    params = [[f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields] + [row.pk] for row in rows]
    with connection.cursor() as cur:
        cur.executemany(sql, params)


def _ref(target: SLATarget | None) -> dict | None:
    if target is None:
        return None
    return {"policy": target.policy.key, "version": target.policy_version}


def _fired(wo: WorkOrder, policy: SLAPolicy) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for milestone, level in Escalation.objects.filter(work_order=wo, policy=policy, policy_version=policy.version) \
            .values_list("milestone", "level"):
        out.setdefault(milestone, set()).add(level)
    return out


# ---- the escalation ladder ------------------------------------------------------------------

def fire_due_levels(wo: WorkOrder, *, at: datetime, worker: str = "") -> list[Escalation]:
    """Fire every ladder level that is due and not fired yet for this work order and
    policy version, and recompute the ledger (which sets the next timer). Runs in the
    caller's transaction (sla.worker holds the work order's row lock)."""
    with lifecycle.holding_once_phases(wo) as outer:
        done = _sync(wo, at=at, fire=True, worker=worker)[1]
    if outer.held:
        # A level's actions may have changed the work order (a raised priority, another team,
        # and whatever rules did about it): bring the ledger up to date, which may select
        # another policy, as the same change made by hand or by a rule does.
        _sync(wo, at=at)
    return done


def _fire(wo: WorkOrder, policy: SLAPolicy, ledgers, fired: dict, at: datetime, worker: str) -> list[Escalation]:
    """A level another worker already recorded is skipped: the unique constraint on
    Escalation decides, so each level fires once whatever races."""
    done: list[Escalation] = []
    for led in ledgers:
        for lv in led.levels:
            if lv.fire_at is None or lv.fire_at > at or lv.level in fired.get(led.milestone, set()):
                continue
            try:
                with transaction.atomic():
                    esc = Escalation.objects.create(
                        work_order=wo, policy=policy, policy_version=policy.version, milestone=led.milestone,
                        level=lv.level, due_at=lv.fire_at, fired_at=now(), actions=lv.actions, worker=worker[:64])
            except IntegrityError:
                continue  # someone else fired it: exactly once
            fired.setdefault(led.milestone, set()).add(lv.level)
            _run_actions(wo, esc, led, at)
            done.append(esc)
    return done


def _supervisor(wo: WorkOrder) -> User | None:
    if wo.team_id and wo.team.supervisor_id:
        return wo.team.supervisor
    return User.objects.filter(role=Role.MANAGER, is_active=True).order_by("id").first()


def _notify(esc: Escalation, wo: WorkOrder, action: str, user: User | None, channel: str, at: datetime) -> None:
    if user is None:
        return
    # `channel` is inbox, or voice for call_manager: the person's own preferences apply as
    # well, so a supervisor who wants escalations by email gets them.
    notify(key=f"escalation:{esc.pk}:{action}:{user.pk}", event="sla.escalation", work_order=wo,
           recipients=[{"user": user.username}], also=[channel] if channel != "inbox" else None,
           urgent=channel == "voice" or wo.priority == "urgent", at=at,
           context={"milestone": texts.localized(Milestone(esc.milestone).label) if esc.milestone in Milestone.values
                    else esc.milestone, "level": esc.level, "action": action,
                    "due_at": esc.due_at.isoformat(), "title": wo.title, "priority": wo.priority})


def _run_actions(wo: WorkOrder, esc: Escalation, led, at: datetime) -> None:
    data = {"milestone": esc.milestone, "level": esc.level, "policy": esc.policy.key,
            "policy_version": esc.policy_version, "actions": esc.actions, "due_at": esc.due_at.isoformat(),
            "deadline": led.due_at.isoformat() if led.due_at else None}
    backup = None
    for action in esc.actions:
        if action == "remind_assignee":
            _notify(esc, wo, action, wo.assignee if wo.assignee_id else None, "inbox", at)
        elif action == "notify_supervisor":
            _notify(esc, wo, action, _supervisor(wo), "inbox", at)
        elif action == "call_manager":
            _notify(esc, wo, action, _supervisor(wo), "voice", at)
        elif action == "reassign_backup":
            backup = wo.team.backup_team if wo.team_id else None
            if backup is not None and backup.supervisor_id:
                _notify(esc, wo, action, backup.supervisor, "inbox", at)
    # The same service as the rules' escalate action (same effects, same policy decision).
    data.update(do_escalate_work_order(actor=None, wo=wo, raise_priority="raise_priority" in esc.actions,
                                       team=backup, at=at))
    timeline.append_event(wo, EVENT_ESCALATION, at=at, data=data)


# ---- policies and calendars ------------------------------------------------------------------

POLICY_FIELDS = {"key", "name", "order", "active", "condition", "calendar", "response_actions", "targets",
                 "ladder"}


def _clean_policy(data: dict, problems: list) -> dict:
    clean = {}
    if "condition" in data:
        try:
            check_condition(data["condition"] or "")
        except ValidationFailed as e:
            problems.extend(e.problems)
        clean["condition"] = data["condition"] or ""
    if "calendar" in data:
        cal = BusinessCalendar.objects.filter(key=data["calendar"]).first()
        if cal is None:
            problems.append(FieldProblem("calendar", _("No calendar %(k)s.") % {"k": data["calendar"]}, "not_found"))
        clean["calendar"] = cal
    if "response_actions" in data:
        acts = data["response_actions"] or []
        if "accept" in acts:
            problems.append(FieldProblem("response_actions", _("Accepting is not a response: use depart or arrive.")))
        bad = [a for a in acts if a not in RESPONSE_ACTION_CHOICES and a != "accept"]
        if bad:
            problems.append(FieldProblem("response_actions", _("Must be some of: %(c)s.")
                                         % {"c": ", ".join(RESPONSE_ACTION_CHOICES)}))
        clean["response_actions"] = list(acts)
    if "targets" in data:
        targets = data["targets"] or {}
        for k, v in targets.items():
            if k not in MILESTONES:
                problems.append(FieldProblem(f"targets.{k}", _("Must be one of: %(c)s.") % {"c": ", ".join(MILESTONES)}))
            elif not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                problems.append(FieldProblem(f"targets.{k}", _("A whole number of seconds, more than 0.")))
        clean["targets"] = targets
    if "ladder" in data:
        seen = set()
        for i, step in enumerate(data["ladder"] or []):
            name = f"ladder[{i}]"
            if not isinstance(step.get("level"), int) or step["level"] in seen:
                problems.append(FieldProblem(name, _("Each level needs its own whole number.")))
            seen.add(step.get("level"))
            if (step.get("pct") is None) == (step.get("after") is None):
                problems.append(FieldProblem(name, _("Give either pct (of the target) or after (seconds after the "
                                                     "deadline).")))
            bad = [a for a in step.get("actions") or [] if a not in ACTIONS]
            if bad or not step.get("actions"):
                problems.append(FieldProblem(name, _("Actions must be some of: %(c)s.") % {"c": ", ".join(ACTIONS)}))
            bad_m = [m for m in step.get("milestones") or [] if m not in MILESTONES]
            if bad_m:
                problems.append(FieldProblem(name, _("Milestones must be some of: %(c)s.")
                                             % {"c": ", ".join(MILESTONES)}))
        clean["ladder"] = data["ladder"] or []
    _clean_basic(data, problems, clean, ("key", "name", "order", "active"))
    return clean


KEY_RE = re.compile(r"^[a-z0-9_-]{1,40}\Z")


def _clean_basic(data: dict, problems: list, clean: dict, names) -> None:
    """Key, name, order and active as the API's schemas shape them (the Settings pages send text)."""
    for k in names:
        if k not in data:
            continue
        v = data[k]
        if k == "key" and v and (not isinstance(v, str) or not KEY_RE.match(v)):
            problems.append(FieldProblem("key", _("Lower-case letters, digits, - and _, at most 40."), "format"))
        elif k == "name" and (not isinstance(v, str) or not v.strip()):
            problems.append(FieldProblem("name", _("This field is required."), "required"))
        elif k == "name" and len(v) > 100:
            problems.append(FieldProblem("name", _("At most %(n)d characters.") % {"n": 100}, "max_length"))
        elif k == "order" and (isinstance(v, bool) or not isinstance(v, int) or abs(v) > 1_000_000):
            problems.append(FieldProblem("order", _("A whole number."), "format"))
        elif k == "active" and not isinstance(v, bool):
            problems.append(FieldProblem("active", _("Must be true or false."), "format"))
        clean[k] = v


def do_create_policy(*, actor: User, data: dict) -> SLAPolicy:
    problems = [FieldProblem(k, _("Unknown field."), "unknown") for k in sorted(set(data) - POLICY_FIELDS)]
    for k in ("key", "name", "calendar", "targets"):
        if not data.get(k):
            problems.append(FieldProblem(k, _("This field is required."), "required"))
    if data.get("key") and SLAPolicy.objects.filter(key=data["key"]).exists():
        problems.append(FieldProblem("key", _("Already in use."), "unique"))
    clean = _clean_policy(data, problems)
    if problems:
        raise ValidationFailed(problems)
    clean.setdefault("response_actions", list(ledger_mod.DEFAULT_RESPONSE_ACTIONS))
    with transaction.atomic():
        policy = SLAPolicy.objects.create(**clean, updated_at=now())
        record_change(actor=actor, kind="sla_policy", obj=policy, before=None, after=snapshot(policy))
        recompute_open(policy_changed=policy)
    return policy


def do_update_policy(*, actor: User, policy: SLAPolicy, data: dict) -> SLAPolicy:
    """Edit a policy: its version goes up, and every open work order's ledger is
    recomputed (which records the change on their timelines)."""
    problems = [FieldProblem(k, _("Unknown or read-only field."), "unknown")
                for k in sorted(set(data) - (POLICY_FIELDS - {"key"}))]
    clean = _clean_policy(data, problems)
    if problems:
        raise ValidationFailed(problems)
    with transaction.atomic():
        before = snapshot(policy)
        for k, v in clean.items():
            setattr(policy, k, v)
        policy.version += 1
        policy.updated_at = now()
        policy.save()
        record_change(actor=actor, kind="sla_policy", obj=policy, before=before, after=snapshot(policy))
        recompute_open(policy_changed=policy)
    return policy


def recompute_open(*, policy_changed: SLAPolicy | None = None, at: datetime | None = None) -> int:
    """Recompute the ledger of every open work order. (In one transaction with the
    policy change; large fleets: see docs/sla.md.)"""
    from closeloop.workorders.lifecycle import TERMINAL

    at = at or now()
    policies = list(SLAPolicy.objects.filter(active=True).select_related("calendar").order_by("order", "id"))
    n = 0
    qs = WorkOrder.objects.exclude(status__in=TERMINAL).select_related("wo_type", "customer", "site", "team", "assignee",
                                                                       "asset")
    for wo in qs.iterator(chunk_size=500):
        recompute(wo, at=at, policies=policies)
        n += 1
    return n


CALENDAR_FIELDS = {"key", "name", "kind", "tz", "week", "holidays", "workdays"}


def _clean_calendar(data: dict, problems: list) -> dict:
    from datetime import date
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from .calendars import parse_hm

    clean = {}
    if "kind" in data:
        if data["kind"] not in BusinessCalendar.Kind.values:
            problems.append(FieldProblem("kind", _("Must be one of: %(c)s.")
                                         % {"c": ", ".join(BusinessCalendar.Kind.values)}))
        clean["kind"] = data["kind"]
    if "tz" in data:
        try:
            ZoneInfo(data["tz"] or "")
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(FieldProblem("tz", _("Not a time zone name (e.g. Asia/Shanghai).")))
        clean["tz"] = data["tz"]
    if "week" in data:
        week = data["week"] or {}
        for day, spans in week.items():
            if day not in {str(i) for i in range(7)} or not isinstance(spans, list):
                problems.append(FieldProblem(f"week.{day}", _("Weekdays are 0 (Monday) to 6, each a list of "
                                                              "[start, end] times.")))
                continue
            for span in spans:
                try:
                    if len(span) != 2:
                        raise ValueError
                    parse_hm(span[0])
                    parse_hm(span[1])
                except (TypeError, ValueError, AttributeError):
                    problems.append(FieldProblem(f"week.{day}", _("Times are HH:MM, e.g. [\"09:00\", \"18:00\"].")))
        clean["week"] = week
    for name in ("holidays", "workdays"):
        if name in data:
            for d in data[name] or []:
                try:
                    date.fromisoformat(d)
                except (TypeError, ValueError):
                    problems.append(FieldProblem(name, _("Dates are YYYY-MM-DD.")))
                    break
            clean[name] = sorted(set(data[name] or []))
    _clean_basic(data, problems, clean, ("key", "name"))
    return clean


def do_create_calendar(*, actor: User, data: dict) -> BusinessCalendar:
    problems = [FieldProblem(k, _("Unknown field."), "unknown") for k in sorted(set(data) - CALENDAR_FIELDS)]
    for k in ("key", "name"):
        if not data.get(k):
            problems.append(FieldProblem(k, _("This field is required."), "required"))
    if data.get("key") and BusinessCalendar.objects.filter(key=data["key"]).exists():
        problems.append(FieldProblem("key", _("Already in use."), "unique"))
    clean = _clean_calendar(data, problems)
    if problems:
        raise ValidationFailed(problems)
    with transaction.atomic():
        calendar = BusinessCalendar.objects.create(**clean)
        record_change(actor=actor, kind="calendar", obj=calendar, before=None, after=snapshot(calendar))
    return calendar


def do_update_calendar(*, actor: User, calendar: BusinessCalendar, data: dict) -> BusinessCalendar:
    """Edit a calendar: every policy that counts in it gets a new version, and open work
    orders are recomputed (the change goes on their timelines)."""
    problems = [FieldProblem(k, _("Unknown or read-only field."), "unknown")
                for k in sorted(set(data) - (CALENDAR_FIELDS - {"key"}))]
    clean = _clean_calendar(data, problems)
    if problems:
        raise ValidationFailed(problems)
    with transaction.atomic():
        before = snapshot(calendar)
        for k, v in clean.items():
            setattr(calendar, k, v)
        calendar.version += 1
        calendar.save()
        record_change(actor=actor, kind="calendar", obj=calendar, before=before, after=snapshot(calendar))
        SLAPolicy.objects.filter(calendar=calendar).update(version=F("version") + 1, updated_at=now())
        refcache.changed("sla.policies")
        recompute_open()
    return calendar


def do_set_year_dates(*, actor: User, calendar: BusinessCalendar, year: int, holidays: list[str],
                      workdays: list[str]) -> BusinessCalendar:
    """The holiday editor: replace one year's holidays and extra working days of a calendar (the other
    years stay). A date outside the year, or on both lists, is refused naming its list."""
    from datetime import date

    problems = []
    if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2200:
        raise ValidationFailed(FieldProblem("year", _("A year, e.g. 2027.")))
    lists = {}
    for name, values in (("holidays", holidays), ("workdays", workdays)):
        out = []
        for v in values or []:
            try:
                d = date.fromisoformat(str(v).strip())
            except ValueError:
                problems.append(FieldProblem(name, _("Not a date (YYYY-MM-DD): %(v)s.") % {"v": str(v)[:40]}))
                continue
            if d.year != year:
                problems.append(FieldProblem(name, _("%(d)s is not in %(y)d.") % {"d": d.isoformat(), "y": year}))
                continue
            out.append(d.isoformat())
        lists[name] = sorted(set(out))
    both = sorted(set(lists["holidays"]) & set(lists["workdays"]))
    if both:
        problems.append(FieldProblem("workdays", _("Both a holiday and a working day: %(d)s.") % {"d": ", ".join(both)}))
    if problems:
        raise ValidationFailed(problems)
    prefix = f"{year:04d}-"
    keep = {name: [d for d in getattr(calendar, name) or [] if not d.startswith(prefix)]
            for name in ("holidays", "workdays")}
    return do_update_calendar(actor=actor, calendar=calendar,
                              data={name: keep[name] + lists[name] for name in ("holidays", "workdays")})


def do_import_dates(*, actor: User, calendar: BusinessCalendar, holidays: list[str],
                    workdays: list[str]) -> list[int]:
    """An imported holiday list: each year it has dates for is replaced by the file's dates (other years
    stay), all in one transaction. Returns the years replaced."""
    years = sorted({int(d[:4]) for d in holidays + workdays})
    with transaction.atomic():
        for y in years:
            calendar = do_set_year_dates(actor=actor, calendar=calendar, year=y,
                                         holidays=[d for d in holidays if d.startswith(f"{y:04d}-")],
                                         workdays=[d for d in workdays if d.startswith(f"{y:04d}-")])
    return years
