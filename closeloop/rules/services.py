"""Every write to rules and keyword libraries, and the dry run. Managers and admins
maintain them; the condition is checked on save (an error names its position)."""

from __future__ import annotations

import re

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role, Team, User
from closeloop.core import conditions
from closeloop.core.clock import now
from closeloop.core.errors import FieldProblem, Forbidden, PreconditionFailed, ValidationFailed
from closeloop.workorders.models import LinkKind, Priority, WorkOrder, WorkOrderType

from . import runner
from .models import KeywordLibrary, Rule, Trigger

MANAGE_ROLES = {Role.ADMIN, Role.MANAGER}
READ_ROLES = {Role.ADMIN, Role.MANAGER, Role.DISPATCHER}
MAX_ACTIONS = 20
MAX_WORDS = 500
LIBRARY_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
RULE_FIELDS = {"name", "description", "trigger", "trigger_field", "condition", "actions", "order", "enabled",
               "stop_after", "scope_type", "scope_team"}
NOTIFY_CHANNELS = {"inbox", "email", "sms", "dingtalk", "wecom", "feishu", "voice", "webhook"}


def may_manage(user) -> bool:
    return user.is_superuser or user.role in MANAGE_ROLES


def may_read(user) -> bool:
    return user.is_superuser or user.role in READ_ROLES


def _require_manager(actor):
    if not may_manage(actor):
        raise Forbidden(_("Only managers and administrators maintain rules."))


# ---- validation ------------------------------------------------------------------------------------

def _check_actions(problems: list, actions) -> list[dict]:
    if not isinstance(actions, list) or len(actions) > MAX_ACTIONS:
        problems.append(FieldProblem("actions", _("A list of at most %(n)d actions.") % {"n": MAX_ACTIONS}))
        return []
    out = []
    for i, a in enumerate(actions):
        where = f"actions[{i}]"
        if not isinstance(a, dict) or a.get("type") not in runner.ACTIONS:
            problems.append(FieldProblem(f"{where}.type", _("One of: %(c)s.") % {"c": ", ".join(runner.ACTIONS)}))
            continue
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
            rec = a.get("recipients", ["team_lead"])
            ch = a.get("channels", ["inbox"])
            if not isinstance(rec, list) or not rec or len(rec) > 20 or not all(isinstance(r, str) for r in rec):
                problems.append(FieldProblem(f"{where}.recipients", _("A list of team_lead, assignee, creator or "
                                                                      "usernames.")))
            if not isinstance(ch, list) or not ch or set(ch) - NOTIFY_CHANNELS:
                problems.append(FieldProblem(f"{where}.channels", _("Some of: %(c)s.")
                                             % {"c": ", ".join(sorted(NOTIFY_CHANNELS))}))
            if len(str(a.get("message", ""))) > 500:
                problems.append(FieldProblem(f"{where}.message", _("At most %(n)d characters.") % {"n": 500}))
        elif t == "create_linked":
            if a.get("wo_type") and not WorkOrderType.objects.filter(key=a["wo_type"], active=True).exists():
                problems.append(FieldProblem(f"{where}.wo_type", _("No such type.")))
            if a.get("link", LinkKind.RELATED) not in LinkKind.values:
                problems.append(FieldProblem(f"{where}.link", _("Must be one of: %(c)s.")
                                             % {"c": ", ".join(LinkKind.values)}))
        out.append(a)
    return out


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
            conditions.check_condition(source, conditions.sample_context(list(
                KeywordLibrary.objects.values_list("name", flat=True))))
        except ValidationFailed as exc:
            problems.extend(exc.problems)
        clean["condition"] = source
    if "actions" in data or rule is None:
        clean["actions"] = _check_actions(problems, data.get("actions", []))
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
    if problems:
        raise ValidationFailed(problems)
    return clean


# ---- rules ---------------------------------------------------------------------------------------

def do_create_rule(*, actor: User, data: dict) -> Rule:
    _require_manager(actor)
    clean = _clean_rule(actor, data, None)
    with transaction.atomic():
        t = now()
        return Rule.objects.create(owner=actor, created_at=t, updated_at=t, **clean)


def do_update_rule(*, actor: User, rule: Rule, data: dict, expected_version: int | None = None) -> Rule:
    _require_manager(actor)
    if expected_version is not None and expected_version != rule.version:
        raise PreconditionFailed(_("The rule changed since you loaded it (now version %(v)d).") % {"v": rule.version})
    clean = _clean_rule(actor, data, rule)
    with transaction.atomic():
        for k, v in clean.items():
            setattr(rule, k, v)
        rule.updated_at = now()
        # The editor becomes the owner: the rule now acts with their rights.
        rule.owner = actor
        Rule.objects.filter(pk=rule.pk).update(version=F("version") + 1)
        rule.save(update_fields=[*clean, "updated_at", "owner"])
        rule.version += 1
    return rule


def do_delete_rule(*, actor: User, rule: Rule) -> None:
    _require_manager(actor)
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
        lib, _created = KeywordLibrary.objects.update_or_create(
            name=name, defaults={"label": label, "words": words, "updated_at": now(), "updated_by": actor})
    return lib


def do_delete_keyword_library(*, actor: User, lib: KeywordLibrary) -> None:
    _require_manager(actor)
    lib.delete()


# ---- dry run ---------------------------------------------------------------------------------------

def dry_run(*, rule: Rule, wo: WorkOrder, trigger: str | None = None) -> dict:
    """Would `rule` fire on `wo`, which parts of its condition hold, and what it would
    change. Nothing is written."""
    trigger = trigger or (Trigger.UPDATED if rule.trigger == Trigger.FIELD_CHANGED else rule.trigger)
    event = {"changed": [rule.trigger_field]} if rule.trigger_field else {}
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
