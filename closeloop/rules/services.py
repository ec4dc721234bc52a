"""Every write to rules and keyword libraries, and the dry run. Managers and admins
maintain them; the condition is checked on save (an error names its position)."""

from __future__ import annotations

import re

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role, Team, User
from closeloop.audit.services import record_change, snapshot
from closeloop.core import conditions, refcache
from closeloop.core.clock import now
from closeloop.core.errors import DomainError, FieldProblem, Forbidden, PreconditionFailed, ValidationFailed
from closeloop.workorders.models import LinkKind, Priority, WorkOrder, WorkOrderType

from . import runner
from .models import KeywordLibrary, Rule, Trigger

MANAGE_ROLES = {Role.ADMIN, Role.MANAGER}
READ_ROLES = {Role.ADMIN, Role.MANAGER, Role.DISPATCHER}
MAX_ACTIONS = 20
MAX_WORDS = 500
LIBRARY_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
RULE_FIELDS = {"name", "description", "trigger", "trigger_field", "condition", "actions", "order", "enabled",
               "stop_after", "scope_type", "scope_team", "schedule_minutes"}
NOTIFY_CHANNELS = {"inbox", "email", "sms", "dingtalk", "wecom", "feishu", "voice", "webhook"}
#: Recipient names besides usernames (notify, escalate); add_watchers takes the same but "watchers".
RECIPIENT_NAMES = {"team_lead", "assignee", "creator", "watchers"}
MAX_RECIPIENTS = 20
MESSAGE_MAX = 500
URL_MAX = 500
SECRET_MAX = 200
#: Stored in place of a webhook secret when a rule is read; sending it back keeps the secret.
SECRET_MASK = "********"
#: Each action object is small: its JSON at most this many characters.
ACTION_JSON_MAX = 8000


def may_manage(user) -> bool:
    return user.is_superuser or user.role in MANAGE_ROLES


def may_read(user) -> bool:
    return user.is_superuser or user.role in READ_ROLES


def _require_manager(actor):
    if not may_manage(actor):
        raise Forbidden(_("Only managers and administrators maintain rules."))


# ---- validation ------------------------------------------------------------------------------------

def _recipients_problem(problems: list, where: str, value, *, allow_watchers: bool = True) -> None:
    names = RECIPIENT_NAMES if allow_watchers else RECIPIENT_NAMES - {"watchers"}
    if (not isinstance(value, list) or not value or len(value) > MAX_RECIPIENTS
            or not all(isinstance(r, str) and 0 < len(r) <= 150 for r in value)):
        problems.append(FieldProblem(where, _("A list of 1 to %(n)d of: %(c)s or usernames.")
                                     % {"n": MAX_RECIPIENTS, "c": ", ".join(sorted(names))}))
        return
    users = [r for r in value if r not in names]
    known = set(User.objects.filter(username__in=users, is_active=True).values_list("username", flat=True))
    for r in users:
        if r not in known:
            problems.append(FieldProblem(where, _("No active user %(u)s.") % {"u": r}, "not_found"))
            return


def _tags_problem(problems: list, where: str, value) -> list[str]:
    from closeloop.workorders.services import MAX_TAGS, clean_tags

    if not isinstance(value, list) or not value:
        problems.append(FieldProblem(where, _("A list of 1 to %(n)d tags.") % {"n": MAX_TAGS}))
        return []
    try:
        return clean_tags(value, where)
    except ValidationFailed as exc:
        problems.extend(exc.problems)
        return []


def _webhook_problems(problems: list, where: str, a: dict) -> None:
    from closeloop.notify.webhooks import url_problems

    url = a.get("url")
    if not isinstance(url, str) or not url.strip() or len(url) > URL_MAX:
        problems.append(FieldProblem(f"{where}.url", _("An http(s) URL of at most %(n)d characters.")
                                     % {"n": URL_MAX}, "required"))
    else:
        problems.extend(url_problems(url.strip(), field=f"{where}.url"))
    secret = a.get("secret", "")
    if secret is not None and (not isinstance(secret, str) or len(secret) > SECRET_MAX):
        problems.append(FieldProblem(f"{where}.secret", _("Text of at most %(n)d characters.") % {"n": SECRET_MAX}))


def _message_problem(problems: list, where: str, a: dict) -> None:
    msg = a.get("message", "")
    if msg is not None and (not isinstance(msg, str) or len(msg) > MESSAGE_MAX):
        problems.append(FieldProblem(f"{where}.message", _("At most %(n)d characters.") % {"n": MESSAGE_MAX}))


def _channels_problem(problems: list, where: str, ch) -> None:
    if not isinstance(ch, list) or not ch or not all(isinstance(c, str) for c in ch) or set(ch) - NOTIFY_CHANNELS:
        problems.append(FieldProblem(where, _("Some of: %(c)s.") % {"c": ", ".join(sorted(NOTIFY_CHANNELS))}))


_APPROVAL_ACTION = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def _require_approval_problems(a: dict, where: str) -> list[FieldProblem]:
    """require_approval (registered by approvals): `action` names the approved action, `data` an object."""
    out = []
    if not isinstance(a.get("action"), str) or not _APPROVAL_ACTION.match(a["action"]):
        out.append(FieldProblem(f"{where}.action", _("The action to approve, e.g. purchase_part."), "required"))
    if "data" in a and not isinstance(a["data"], dict):
        out.append(FieldProblem(f"{where}.data", _("Must be an object.")))
    return out


def _check_actions(problems: list, actions, old: list | None = None) -> list[dict]:
    if not isinstance(actions, list) or len(actions) > MAX_ACTIONS:
        problems.append(FieldProblem("actions", _("A list of at most %(n)d actions.") % {"n": MAX_ACTIONS}))
        return []
    import json

    out = []
    for i, a in enumerate(actions):
        where = f"actions[{i}]"
        if not isinstance(a, dict) or a.get("type") not in runner.ACTIONS:
            problems.append(FieldProblem(f"{where}.type", _("One of: %(c)s.") % {"c": ", ".join(runner.ACTIONS)}))
            continue
        if len(json.dumps(a, ensure_ascii=False, default=str)) > ACTION_JSON_MAX:
            problems.append(FieldProblem(where, _("This action is too large (at most %(n)d characters).")
                                         % {"n": ACTION_JSON_MAX}, "too_long"))
            continue
        a = dict(a)
        t = a["type"]
        if t == "set_priority" and a.get("priority") not in Priority.values:
            problems.append(FieldProblem(f"{where}.priority", _("Must be one of: %(c)s.")
                                         % {"c": ", ".join(Priority.values)}))
        elif t == "set_fields":
            fields = a.get("fields")
            if not isinstance(fields, dict) or not fields or set(fields) - set(runner.SETTABLE):
                problems.append(FieldProblem(f"{where}.fields", _("An object with some of: %(c)s.")
                                             % {"c": ", ".join(runner.SETTABLE)}))
        elif t == "assign":
            if not User.objects.filter(username=a.get("assignee") or "", role=Role.ENGINEER, is_active=True).exists():
                problems.append(FieldProblem(f"{where}.assignee", _("Only an active engineer can be assigned.")))
        elif t == "dispatch" and a.get("mode", "best") not in ("best", "round_robin", "setting"):
            problems.append(FieldProblem(f"{where}.mode", _("best, round_robin or setting.")))
        elif t == "comment" and not (isinstance(a.get("body"), str) and 0 < len(a["body"].strip()) <= 2000):
            problems.append(FieldProblem(f"{where}.body", _("Text of 1 to 2000 characters.")))
        elif t == "notify":
            _recipients_problem(problems, f"{where}.recipients", a.get("recipients", ["team_lead"]))
            _channels_problem(problems, f"{where}.channels", a.get("channels", ["inbox"]))
            _message_problem(problems, where, a)
        elif t == "create_linked":
            if a.get("wo_type") and not WorkOrderType.objects.filter(key=a["wo_type"], active=True).exists():
                problems.append(FieldProblem(f"{where}.wo_type", _("No such type.")))
            if a.get("link", LinkKind.RELATED) not in LinkKind.values:
                problems.append(FieldProblem(f"{where}.link", _("Must be one of: %(c)s.")
                                             % {"c": ", ".join(LinkKind.values)}))
        elif t in ("add_tags", "remove_tags"):
            a["tags"] = _tags_problem(problems, f"{where}.tags", a.get("tags"))
        elif t == "add_watchers":
            _recipients_problem(problems, f"{where}.watchers", a.get("watchers"), allow_watchers=False)
        elif t == "escalate":
            if not isinstance(a.get("raise_priority", True), bool):
                problems.append(FieldProblem(f"{where}.raise_priority", _("Must be true or false.")))
            team = a.get("team") or ""
            if not isinstance(team, str) or (team and not Team.objects.filter(code=team).exists()):
                problems.append(FieldProblem(f"{where}.team", _("No such team."), "not_found"))
            if a.get("recipients"):
                _recipients_problem(problems, f"{where}.recipients", a["recipients"])
            _channels_problem(problems, f"{where}.channels", a.get("channels") or ["inbox"])
            _message_problem(problems, where, a)
            if not a.get("raise_priority", True) and not team and not a.get("recipients"):
                problems.append(FieldProblem(where, _("Raise the priority, move to a team or notify someone.")))
        elif t == "webhook":
            if isinstance(a.get("url"), str):
                a["url"] = a["url"].strip()
            if a.get("secret") in (None, "", SECRET_MASK):
                a["secret"] = _old_secret(old, a.get("url"))
            _webhook_problems(problems, where, a)
        elif t in runner.VALIDATORS:
            problems.extend(runner.VALIDATORS[t](a, where))
        elif t == "require_approval":
            problems.extend(_require_approval_problems(a, where))
        out.append(a)
    return out


def _old_secret(old: list | None, url) -> str:
    """A webhook secret left blank (or masked) keeps the one the rule had for that URL."""
    for a in old or []:
        if isinstance(a, dict) and a.get("type") == "webhook" and a.get("url") == url:
            return a.get("secret") or ""
    return ""


def masked_actions(actions: list) -> list:
    """Actions as readers see them: a webhook's secret is masked."""
    out = []
    for a in actions or []:
        if isinstance(a, dict) and a.get("type") == "webhook" and a.get("secret"):
            a = {**a, "secret": SECRET_MASK}
        out.append(a)
    return out


def _check_schedule(problems: list, data: dict, rule: Rule | None, clean: dict) -> None:
    """schedule_minutes: required (5..10080) for the schedule trigger, refused for others;
    sets next_run_at when the rule becomes due (created, schedule changed, enabled again)."""
    from .schedule import MAX_MINUTES, MIN_MINUTES

    trigger = clean.get("trigger", rule.trigger if rule else Trigger.CREATED)
    minutes = data["schedule_minutes"] if "schedule_minutes" in data else (rule.schedule_minutes if rule else None)
    if trigger != Trigger.SCHEDULE:
        if data.get("schedule_minutes") is not None:
            problems.append(FieldProblem("schedule_minutes", _("Only for the schedule trigger.")))
        if "trigger" in data or "schedule_minutes" in data:
            clean["schedule_minutes"], clean["next_run_at"] = None, None
        return
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not MIN_MINUTES <= minutes <= MAX_MINUTES:
        problems.append(FieldProblem("schedule_minutes", _("Every %(a)d to %(b)d minutes.")
                                     % {"a": MIN_MINUTES, "b": MAX_MINUTES}, "required"))
        return
    clean["schedule_minutes"] = minutes
    became_due = (rule is None or rule.trigger != Trigger.SCHEDULE or rule.schedule_minutes != minutes
                  or (clean.get("enabled") is True and not rule.enabled) or rule.next_run_at is None)
    if became_due:
        clean["next_run_at"] = now()


def sample_context() -> dict:
    """The shape a rule condition is checked against on save (what runner.context_for gives)."""
    ctx = conditions.sample_context(list(KeywordLibrary.objects.values_list("name", flat=True)))
    ctx["wo"].update(tags=[], age_hours=0.0, idle_hours=0.0)
    ctx["event"].update(runner.EVENT_DEFAULTS)
    return ctx


def _clean_rule(actor, data: dict, rule: Rule | None) -> dict:
    problems = [FieldProblem(k, _("Unknown field."), "unknown") for k in sorted(set(data) - RULE_FIELDS)]
    clean: dict = {}
    if "name" in data or rule is None:
        name = (data.get("name") or "").strip()
        if not name or len(name) > 100:
            problems.append(FieldProblem("name", _("Required, at most 100 characters."), "required"))
        clean["name"] = name
    if "description" in data:
        clean["description"] = str(data["description"] or "")[:2000]
    if "trigger" in data:
        if data["trigger"] not in Trigger.values:
            problems.append(FieldProblem("trigger", _("Must be one of: %(c)s.") % {"c": ", ".join(Trigger.values)}))
        clean["trigger"] = data["trigger"]
    if "trigger_field" in data:
        clean["trigger_field"] = str(data["trigger_field"] or "")[:60]
    if "condition" in data:
        source = data["condition"] or ""
        try:
            conditions.check_condition(source, sample_context())
        except ValidationFailed as exc:
            problems.extend(exc.problems)
        clean["condition"] = source
    if "actions" in data or rule is None:
        clean["actions"] = _check_actions(problems, data.get("actions", []), rule.actions if rule else None)
    for key in ("order",):
        if key in data:
            if not isinstance(data[key], int) or isinstance(data[key], bool) or not -10**6 < data[key] < 10**6:
                problems.append(FieldProblem(key, _("A whole number.")))
            clean[key] = data[key]
    for key in ("enabled", "stop_after"):
        if key in data:
            if not isinstance(data[key], bool):
                problems.append(FieldProblem(key, _("Must be true or false.")))
            clean[key] = data[key]
    if "scope_type" in data:
        clean["scope_type"] = None
        if data["scope_type"]:
            clean["scope_type"] = WorkOrderType.objects.filter(key=data["scope_type"]).first()
            if clean["scope_type"] is None:
                problems.append(FieldProblem("scope_type", _("No such type."), "not_found"))
    if "scope_team" in data:
        clean["scope_team"] = None
        if data["scope_team"]:
            clean["scope_team"] = Team.objects.filter(code=data["scope_team"]).first()
            if clean["scope_team"] is None:
                problems.append(FieldProblem("scope_team", _("No such team."), "not_found"))
    _check_schedule(problems, data, rule, clean)
    if problems:
        raise ValidationFailed(problems)
    return clean


# ---- rules ---------------------------------------------------------------------------------------

def do_create_rule(*, actor: User, data: dict) -> Rule:
    _require_manager(actor)
    clean = _clean_rule(actor, data, None)
    with transaction.atomic():
        t = now()
        rule = Rule.objects.create(owner=actor, created_at=t, updated_at=t, **clean)
        record_change(actor=actor, kind="rule", obj=rule, before=None, after=snapshot(rule))
        return rule


def do_update_rule(*, actor: User, rule: Rule, data: dict, expected_version: int | None = None) -> Rule:
    _require_manager(actor)
    if expected_version is not None and expected_version != rule.version:
        raise PreconditionFailed(_("The rule changed since you loaded it (now version %(v)d).") % {"v": rule.version})
    clean = _clean_rule(actor, data, rule)
    with transaction.atomic():
        before = snapshot(rule)
        for k, v in clean.items():
            setattr(rule, k, v)
        rule.updated_at = now()
        # The editor becomes the owner: the rule now acts with their rights.
        rule.owner = actor
        Rule.objects.filter(pk=rule.pk).update(version=F("version") + 1)
        rule.save(update_fields=[*clean, "updated_at", "owner"])
        rule.version += 1
        record_change(actor=actor, kind="rule", obj=rule, before=before, after=snapshot(rule))
    return rule


def do_delete_rule(*, actor: User, rule: Rule) -> None:
    _require_manager(actor)
    with transaction.atomic():
        record_change(actor=actor, kind="rule", obj=rule, before=snapshot(rule), after=None)
        rule.delete()


# ---- keyword libraries ---------------------------------------------------------------------------

def _clean_words(problems, words) -> list[str]:
    if not isinstance(words, list) or len(words) > MAX_WORDS or not all(isinstance(w, str) for w in words):
        problems.append(FieldProblem("words", _("A list of at most %(n)d words.") % {"n": MAX_WORDS}))
        return []
    out = []
    for w in words:
        w = w.strip()
        if w and len(w) <= 100 and w not in out:
            out.append(w)
    return out


def do_save_keyword_library(*, actor: User, name: str, data: dict) -> KeywordLibrary:
    _require_manager(actor)
    problems = [FieldProblem(k, _("Unknown field."), "unknown") for k in sorted(set(data) - {"label", "words"})]
    if not LIBRARY_NAME.match(name or ""):
        problems.append(FieldProblem("name", _("Lower-case letters, digits and _, starting with a letter "
                                               "(used as wo.keywords.<name>).")))
    words = _clean_words(problems, data.get("words", []))
    label = str(data.get("label") or "")[:100]
    if problems:
        raise ValidationFailed(problems)
    with transaction.atomic():
        old = KeywordLibrary.objects.select_for_update().filter(name=name).first()
        before = snapshot(old)
        lib, _created = KeywordLibrary.objects.update_or_create(
            name=name, defaults={"label": label, "words": words, "updated_at": now(), "updated_by": actor})
        record_change(actor=actor, kind="keyword_library", obj=lib, obj_id=lib.name, before=before,
                      after=snapshot(lib))
    return lib


def library_usage() -> dict[str, list[Rule]]:
    """library name → the rules whose condition reads it."""
    names = list(KeywordLibrary.objects.values_list("name", flat=True))
    out: dict[str, list[Rule]] = {n: [] for n in names}
    if not names:
        return out
    pattern = re.compile(r"\bkeyword(?:s|_hits)\.(" + "|".join(map(re.escape, names)) + r")\b")
    for rule in Rule.objects.order_by("order", "id"):
        for name in sorted(set(pattern.findall(rule.condition or ""))):
            out[name].append(rule)
    return out


def do_delete_keyword_library(*, actor: User, lib: KeywordLibrary) -> None:
    """Refused (409) while a rule's condition reads the library."""
    _require_manager(actor)
    users = library_usage().get(lib.name, [])
    if users:
        raise DomainError(_("The library %(n)s is used by: %(r)s. Change those rules first.")
                          % {"n": lib.name, "r": ", ".join(r.name for r in users)}, 409, "in_use")
    with transaction.atomic():
        record_change(actor=actor, kind="keyword_library", obj=lib, obj_id=lib.name, before=snapshot(lib), after=None)
        lib.delete()


def do_move_rule(*, actor: User, rule: Rule, direction: str) -> None:
    """Move a rule one place up or down in the run order. The orders are renumbered
    10, 20, 30 … (only the rules whose number changes are written, each one's version
    goes up); the owners stay as they are."""
    _require_manager(actor)
    if direction not in ("up", "down"):
        raise ValidationFailed(FieldProblem("direction", _("up or down.")))
    with transaction.atomic():
        rules = list(Rule.objects.select_for_update().order_by("order", "id"))
        ids = [r.pk for r in rules]
        i = ids.index(rule.pk)
        j = i - 1 if direction == "up" else i + 1
        if 0 <= j < len(rules):
            rules[i], rules[j] = rules[j], rules[i]
        t = now()
        for n, r in enumerate(rules, start=1):
            if r.order != n * 10:
                Rule.objects.filter(pk=r.pk).update(order=n * 10, version=F("version") + 1, updated_at=t)
        refcache.changed("rules.rules")
        record_change(actor=actor, kind="rule", obj=rule, action="moved", before={"position": i + 1},
                      after={"position": [r.pk for r in rules].index(rule.pk) + 1})


# ---- dry run ---------------------------------------------------------------------------------------

#: Event fields a dry run may set (e.g. the body of a comment for a comment_added rule).
TRY_EVENT_FIELDS = {"action": str, "from": str, "to": str, "changed": list, "author": str, "public": bool,
                    "body": str, "milestone": str, "due_at": str}


def dry_run_draft(*, actor: User, data: dict, code: str) -> dict:
    """The dry run of an unsaved edit (nothing is saved): validated like a save, then run on
    the work order `code`, which the user must be able to see."""
    from closeloop.workorders import selectors as wo_selectors

    wo = wo_selectors.access_work_order_by_code(actor, code)
    clean = _clean_rule(actor, {**data, "name": data.get("name") or "-"}, None)
    rule = Rule(**{"trigger": data.get("trigger") or "created", **clean})
    return dry_run(rule=rule, wo=wo)


def dry_run(*, rule: Rule, wo: WorkOrder, trigger: str | None = None, event: dict | None = None) -> dict:
    """Would `rule` fire on `wo`, which parts of its condition hold, and what it would
    change. Nothing is written. `event` may set the event's fields (TRY_EVENT_FIELDS)."""
    trigger = trigger or (Trigger.UPDATED if rule.trigger == Trigger.FIELD_CHANGED else rule.trigger)
    if trigger not in Trigger.values:
        raise ValidationFailed(FieldProblem("trigger", _("Must be one of: %(c)s.") % {"c": ", ".join(Trigger.values)}))
    problems = [FieldProblem(f"event.{k}", _("Unknown field."), "unknown")
                for k in sorted(set(event or {}) - set(TRY_EVENT_FIELDS))]
    problems += [FieldProblem(f"event.{k}", _("Wrong type."))
                 for k, v in (event or {}).items() if k in TRY_EVENT_FIELDS and not isinstance(v, TRY_EVENT_FIELDS[k])]
    if problems:
        raise ValidationFailed(problems)
    base = {"changed": [rule.trigger_field]} if rule.trigger_field else {}
    event = {**base, **{k: conditions.clip(v) for k, v in (event or {}).items()}}
    ctx = runner.context_for(wo, trigger=trigger, event=event)
    error = None
    matched = True
    parts: list = []
    if rule.condition.strip():
        parts = conditions.explain(rule.condition, ctx)
        try:
            matched = conditions.evaluate(rule.condition, ctx) is True
        except conditions.ConditionError as exc:
            matched, error = False, exc.as_dict()
    in_scope = runner._in_scope(rule, wo)
    would = matched and in_scope and rule.enabled
    return {"rule": rule.pk, "work_order": wo.code, "trigger": trigger, "matched": matched, "in_scope": in_scope,
            "enabled": rule.enabled, "would_fire": would, "parts": parts, "error": error,
            "keywords": ctx["wo"]["keyword_hits"], "actions": runner.describe(rule, wo) if would else []}
