"""Running rules on a work order event, inside the event's own transaction.

Loop control: the first event starts a *chain* (context-local); everything the rules
then do (a priority change is an update event, a dispatch is an assign event, a
linked work order is a create event) runs in the same chain. In one chain a rule
fires at most once per work order (its own changes never retrigger it) and at most
MAX_FIRINGS rules fire in all; past that, one "capped" entry goes on the timeline.

Each firing is a timeline event (kind "rule"): which rule, the keywords that
matched, and what each action did (or why it could not).
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _

from closeloop.core import conditions, refcache
from closeloop.core.errors import DomainError
from closeloop.workorders import timeline
from closeloop.workorders.models import WorkOrder

from .models import KeywordLibrary, Rule, Trigger

MAX_FIRINGS = 20
EVENT_RULE = "rule"  # TimelineEvent.kind written here
EVENT_ESCALATION = "escalation"  # the escalate action's own timeline event
WEBHOOK_EVENT = "rule.webhook"  # the webhook action's event (notify.webhooks Delivery.event, body "event")
#: The outbox kind webhooks were queued as before they went through notify.webhooks: rows
#: still waiting at an upgrade are handed over by hooks.requeue_old_webhook.
WEBHOOK_KIND = "rules.webhook"


@dataclass
class Chain:
    firings: int = 0
    capped: bool = False
    fired: set = field(default_factory=set)  # (rule id, work order id)
    rules: list | None = None
    libraries: dict | None = None
    visible: dict = field(default_factory=dict)  # (owner id, wo id) -> bool


_chain: contextvars.ContextVar[Chain | None] = contextvars.ContextVar("rules_chain", default=None)


@dataclass
class Firing:
    """What the actions of one firing may read (the webhook payload, unique outbox keys)."""

    id: str
    trigger: str
    event: dict


_firing: contextvars.ContextVar[Firing | None] = contextvars.ContextVar("rules_firing", default=None)


#: The enabled rules with their owners, and the keyword libraries (per process, core.refcache).
_rules = refcache.RefCache("rules.rules", "rules.Rule", "accounts.User")
_libraries = refcache.RefCache("rules.libraries", "rules.KeywordLibrary")


def enabled_rules() -> list[Rule]:
    """Shared by every request of the process: read, never change or save one."""
    return _rules.get("enabled", lambda: list(
        Rule.objects.filter(enabled=True).select_related("owner").order_by("order", "id")))


def libraries() -> dict[str, list[str]]:
    libs = _libraries.get("all", lambda: {k.name: list(k.words) for k in KeywordLibrary.objects.all()})
    return {name: list(words) for name, words in libs.items()}


#: Event fields of the newer triggers, present (empty) for every trigger so a condition never
#: fails on a missing key: comment_added (author, public, body), sla_* (milestone, due_at),
#: schedule (period).
EVENT_DEFAULTS = {"author": "", "public": False, "body": "", "milestone": "", "due_at": "", "period": 0}


def context_for(wo: WorkOrder, *, trigger: str, actor=None, event: dict | None = None,
                libs: dict | None = None, at=None) -> dict:
    """conditions.work_order_context plus what rules add: wo.tags, wo.age_hours (since
    created) and wo.idle_hours (since the last change), for schedules."""
    ev = {"trigger": trigger, **EVENT_DEFAULTS, **(event or {})}
    ctx = conditions.work_order_context(wo, keyword_libraries=libs if libs is not None else libraries(), event=ev,
                                        actor=actor)
    at = at or _at()
    ctx["wo"]["tags"] = list(wo.tags or [])
    ctx["wo"]["age_hours"] = round(max(0.0, (at - wo.created_at).total_seconds()) / 3600, 2)
    ctx["wo"]["idle_hours"] = round(max(0.0, (at - wo.updated_at).total_seconds()) / 3600, 2)
    return ctx


def _in_scope(rule: Rule, wo: WorkOrder) -> bool:
    if rule.scope_type_id and rule.scope_type_id != wo.wo_type_id:
        return False
    if rule.scope_team_id and rule.scope_team_id != wo.team_id:
        return False
    return True


def _visible(chain: Chain, rule: Rule, wo: WorkOrder) -> bool:
    key = (rule.owner_id, wo.pk)
    if key not in chain.visible:
        from closeloop.workorders.selectors import visible_work_orders

        chain.visible[key] = rule.owner.is_active and visible_work_orders(rule.owner).filter(pk=wo.pk).exists()
    return chain.visible[key]


def _triggers_match(rule: Rule, trigger: str, changed: list[str]) -> bool:
    if rule.trigger == Trigger.FIELD_CHANGED:
        return trigger == Trigger.UPDATED and (not rule.trigger_field or rule.trigger_field in changed
                                               or rule.trigger_field.split(".")[0] in changed)
    return rule.trigger == trigger


def run(wo: WorkOrder, *, trigger: str, actor=None, event: dict | None = None, rules: list[Rule] | None = None,
        before_fire: Callable[[Rule, WorkOrder], bool] | None = None) -> list[Rule]:
    """Evaluate the enabled rules for `trigger` on `wo`, in order, and run the actions
    of those that match. Returns the rules that fired. `rules` limits it to those (the
    scheduler runs one rule); `before_fire(rule, wo)` may veto a firing (False)."""
    chain = _chain.get()
    token = None
    if chain is None:
        chain = Chain()
        token = _chain.set(chain)
    try:
        return _run(chain, wo, trigger=trigger, actor=actor, event=event or {}, only=rules, before_fire=before_fire)
    finally:
        if token is not None:
            _chain.reset(token)


def _run(chain: Chain, wo: WorkOrder, *, trigger: str, actor, event: dict, only=None, before_fire=None) -> list[Rule]:
    if only is not None:
        pool = only
    else:
        if chain.rules is None:
            chain.rules = enabled_rules()
        pool = chain.rules
    changed = list(event.get("changed", []))
    candidates = [r for r in pool if _triggers_match(r, trigger, changed) and _in_scope(r, wo)
                  and (r.pk, wo.pk) not in chain.fired]
    if not candidates:
        return []
    if chain.libraries is None:
        chain.libraries = libraries()
    ctx_vars = context_for(wo, trigger=trigger, actor=actor, event=event, libs=chain.libraries)
    cel_ctx = conditions.make_context(ctx_vars)
    fired = []
    for rule in candidates:
        if (rule.pk, wo.pk) in chain.fired:
            continue
        if not conditions.matches(rule.condition, cel_ctx) or not _visible(chain, rule, wo):
            continue
        if chain.firings >= MAX_FIRINGS:
            if not chain.capped:
                chain.capped = True
                timeline.append_event(wo, EVENT_RULE, at=_at(), data={
                    "capped": True, "limit": MAX_FIRINGS, "rule": rule.name, "rule_id": rule.pk})
            break
        if before_fire is not None and not before_fire(rule, wo):
            continue
        chain.firings += 1
        chain.fired.add((rule.pk, wo.pk))
        results = execute_actions(rule, wo, trigger=trigger, event=ctx_vars["event"])
        timeline.append_event(wo, EVENT_RULE, actor=rule.owner, at=_at(), data={
            "rule_id": rule.pk, "rule": rule.name, "trigger": trigger, "keywords": ctx_vars["wo"]["keyword_hits"],
            "actions": results})
        fired.append(rule)
        if rule.stop_after:
            break
    return fired


def _at():
    from closeloop.core.clock import now

    return now()


# ---- actions ----------------------------------------------------------------------------------------

def execute_actions(rule: Rule, wo: WorkOrder, *, trigger: str = "", event: dict | None = None) -> list[dict]:
    """Run each action in order, each in its own savepoint: one that cannot be done
    (e.g. nobody to assign) is recorded with its reason, the others still run, and the
    user's own change is never refused because of a rule."""
    results = []
    token = _firing.set(Firing(uuid.uuid4().hex[:16], trigger or rule.trigger, dict(event or {})))
    try:
        for action in rule.actions:
            kind = action.get("type", "") if isinstance(action, dict) else ""
            fn = ACTIONS.get(kind)
            if fn is None:
                results.append({"type": kind, "ok": False, "error": _("Unknown action.")})
                continue
            try:
                with transaction.atomic():
                    summary = fn(rule, wo, action)
                results.append({"type": kind, "ok": True, "summary": str(summary)[:500]})
            except DomainError as exc:
                results.append({"type": kind, "ok": False, "error": str(exc.message)[:300]})
    finally:
        _firing.reset(token)
    return results


def current_firing() -> Firing:
    return _firing.get() or Firing(uuid.uuid4().hex[:16], "", {})


def _refresh(wo: WorkOrder) -> None:
    fresh = WorkOrder.objects.get(pk=wo.pk)
    for f in ("version", "status", "priority", "assignee_id", "team_id", "updated_at", "title", "custom",
              "fault_code", "resume_to", "tags"):
        setattr(wo, f, getattr(fresh, f))


def _set_priority(rule, wo, a):
    from closeloop.workorders.services import do_update_work_order

    old = wo.priority
    do_update_work_order(actor=rule.owner, wo=wo, data={"priority": a.get("priority")})
    return f"priority {old} → {wo.priority}"


SETTABLE = ("title", "description", "fault_code", "team", "custom", "priority")


def _set_fields(rule, wo, a):
    from closeloop.workorders.services import do_update_work_order

    data = {k: v for k, v in (a.get("fields") or {}).items() if k in SETTABLE}
    do_update_work_order(actor=rule.owner, wo=wo, data=data)
    return ", ".join(sorted(data))


def _assign(rule, wo, a):
    from closeloop.workorders.services import do_transition

    do_transition(actor=rule.owner, wo=wo, action="assign",
                  data={"assignee": a.get("assignee"), "note": _("Rule: %(r)s") % {"r": rule.name}})
    return f"assigned {a.get('assignee')}"


def _dispatch(rule, wo, a):
    from closeloop.dispatch.services import auto_dispatch, do_dispatch_work_order

    mode = a.get("mode", "best")
    if mode == "setting":
        if auto_dispatch(actor=rule.owner, wo=wo) is None:
            return "suggest only"
    else:
        do_dispatch_work_order(actor=rule.owner, wo=wo, mode=mode)
    _refresh(wo)
    return f"assigned {wo.assignee.username if wo.assignee_id else '-'}"


def _comment(rule, wo, a):
    from closeloop.workorders.services import do_add_comment

    do_add_comment(actor=rule.owner, wo=wo, body=a.get("body", ""), public=bool(a.get("public", False)))
    return "comment"


def recipients(wo: WorkOrder, names: list[str]) -> list:
    from closeloop.accounts.models import User

    out = []
    for name in names:
        if name == "team_lead":
            team = wo.team if wo.team_id else None
            if team and team.supervisor_id:
                out.append(team.supervisor)
        elif name == "assignee":
            if wo.assignee_id:
                out.append(wo.assignee)
        elif name == "creator":
            if wo.created_by_id:
                out.append(wo.created_by)
        elif name == "watchers":
            out.extend(User.objects.filter(watching__work_order=wo, is_active=True).order_by("watching__id"))
        else:
            user = User.objects.filter(username=name, is_active=True).first()
            if user is not None:
                out.append(user)
    seen, unique = set(), []
    for u in out:
        if u.pk not in seen:
            seen.add(u.pk)
            unique.append(u)
    return unique


def _notify(rule, wo, a, *, what: str = "n"):
    """An outbox row per recipient and channel (kind `notify`, fanned out and delivered by
    the worker). The key is unique per firing, so a scheduled rule notifies every period."""
    people = _notify_rows(rule, wo, a, what=what)
    if not people:
        raise DomainError(_("Nobody to notify."))
    return "notified " + ", ".join(u.username for u in people)


def _notify_rows(rule, wo, a, *, what: str) -> list:
    people = recipients(wo, a.get("recipients") or ["team_lead"])
    channels = a.get("channels") or ["inbox"]
    message = (a.get("message") or "").replace("{code}", wo.code).replace("{title}", wo.title)[:500]
    if people:
        from closeloop.notify.services import notify

        firing = current_firing().id
        for user in people:
            for channel in channels:
                notify(key=f"rule:{rule.pk}:{wo.pk}:{firing}:{what}:{user.pk}:{channel}", event="rule.notify",
                       work_order=wo, recipients=[{"user": user.username}], channels=[channel], message=message,
                       context={"rule": rule.name})
    return people


def _add_tags(rule, wo, a):
    from closeloop.workorders.services import do_set_tags

    old = list(wo.tags or [])
    add = [t for t in a.get("tags") or [] if t not in old]
    if not add:
        return "tags unchanged"
    do_set_tags(actor=rule.owner, wo=wo, tags=old + add)
    return "tags + " + ", ".join(add)


def _remove_tags(rule, wo, a):
    from closeloop.workorders.services import do_set_tags

    old = list(wo.tags or [])
    drop = [t for t in old if t in (a.get("tags") or [])]
    if not drop:
        return "tags unchanged"
    do_set_tags(actor=rule.owner, wo=wo, tags=[t for t in old if t not in drop])
    return "tags - " + ", ".join(drop)


def _add_watchers(rule, wo, a):
    from closeloop.workorders.services import do_add_watcher

    people = recipients(wo, [n for n in a.get("watchers") or [] if n != "watchers"])
    if not people:
        raise DomainError(_("Nobody to add as a watcher."))
    added, refused = [], []
    for user in people:
        try:
            with transaction.atomic():
                do_add_watcher(actor=rule.owner, wo=wo, user=user)
            added.append(user.username)
        except DomainError:
            refused.append(user.username)
    if not added:
        raise DomainError(_("%(who)s cannot see this work order.") % {"who": ", ".join(refused)})
    return "watchers + " + ", ".join(added) + (f" (not {', '.join(refused)})" if refused else "")


def _escalate(rule, wo, a):
    """Raise the priority one step (unless it is the highest), optionally move to another
    team, notify (as the notify action); an `escalation` event on the timeline. The change
    goes through workorders.services.do_escalate_work_order, as the SLA ladder's does."""
    from closeloop.workorders.services import do_escalate_work_order

    data: dict = {"rule_id": rule.pk, "rule": rule.name, "actions": []}
    changed = do_escalate_work_order(actor=rule.owner, wo=wo, raise_priority=a.get("raise_priority", True),
                                     team=a.get("team") or None, at=_at())
    if "priority" in changed:
        data["priority"] = changed["priority"]
        data["actions"].append("raise_priority")
    if "team" in changed:
        data["team"] = changed["team"]
        data["actions"].append("move_team")
    if changed:
        _refresh(wo)
    people = []
    if a.get("recipients"):
        people = _notify_rows(rule, wo, a, what="e")
        data["notified"] = [u.username for u in people]
        if people:
            data["actions"].append("notify")
    if a.get("message"):
        data["message"] = str(a["message"]).replace("{code}", wo.code).replace("{title}", wo.title)[:500]
    if not data["actions"]:
        raise DomainError(_("Nothing to escalate: already the highest priority and nobody to notify."))
    timeline.append_event(wo, EVENT_ESCALATION, actor=rule.owner, at=_at(), data=data)
    parts = []
    if "priority" in data:
        parts.append(f"priority {data['priority']['from']} → {data['priority']['to']}")
    if "team" in data:
        parts.append(f"team → {data['team']['to']}")
    if people:
        parts.append("notified " + ", ".join(u.username for u in people))
    return "escalated: " + "; ".join(parts)


def work_order_summary(wo: WorkOrder) -> dict:
    """What a webhook receives about the work order (no description, no custom fields)."""
    return {"code": wo.code, "title": wo.title, "type": wo.wo_type.key, "status": wo.status,
            "priority": wo.priority, "team": wo.team.code if wo.team_id else None,
            "assignee": wo.assignee.username if wo.assignee_id else None,
            "customer": wo.customer.code if wo.customer_id else None, "site": wo.site.code if wo.site_id else None,
            "tags": list(wo.tags or []), "version": wo.version, "updated_at": wo.updated_at.isoformat()}


def _webhook(rule, wo, a):
    """A signed POST through notify's webhooks API (one SSRF guard, one Delivery log,
    retries, redeliver), sent by the worker after this transaction; its key is the stable
    delivery id. Never sent in the request."""
    from closeloop.notify import webhooks

    firing = current_firing()
    key = f"rule-webhook:{rule.pk}:{wo.pk}:{firing.id}:{uuid.uuid4().hex[:8]}"
    event = {k: v for k, v in firing.event.items() if isinstance(v, (str, int, float, bool, list)) or v is None}
    if isinstance(event.get("body"), str):
        event["body"] = event["body"][:2000]
    webhooks.do_queue_webhook(
        key=key, url=a.get("url"), secret=a.get("secret") or "", event=WEBHOOK_EVENT, work_order=wo,
        label=_("rule %(r)s") % {"r": rule.name},
        body={"id": key, "event": WEBHOOK_EVENT, "at": _at().isoformat(), "rule": {"id": rule.pk, "name": rule.name},
              "trigger": firing.trigger, "cause": event, "work_order": work_order_summary(wo)})
    return f"webhook queued to {webhooks.host(a.get('url'))}"


def _create_linked(rule, wo, a):
    from closeloop.workorders.models import LinkKind
    from closeloop.workorders.services import do_create_work_order, do_link

    data = {"type": a.get("wo_type") or wo.wo_type.key, "title": (a.get("title") or wo.title).replace(
        "{title}", wo.title)[:200], "priority": a.get("priority") or wo.priority}
    if wo.customer_id:
        data["customer"] = wo.customer.code
    if wo.site_id:
        data["site"] = wo.site.code
    if wo.asset_id:
        data["asset"] = wo.asset.serial_number
    new = do_create_work_order(actor=rule.owner, data=data)
    kind = a.get("link", LinkKind.RELATED)
    do_link(actor=rule.owner, wo=new, target=wo, kind=kind)
    return f"created {new.code}"


ACTIONS: dict[str, Callable] = {
    "set_priority": _set_priority,
    "set_fields": _set_fields,
    "assign": _assign,
    "dispatch": _dispatch,
    "comment": _comment,
    "notify": _notify,
    "create_linked": _create_linked,
    "add_tags": _add_tags,
    "remove_tags": _remove_tags,
    "add_watchers": _add_watchers,
    "escalate": _escalate,
    "webhook": _webhook,
}
#: type -> describe(rule, wo, action) -> str, for the dry run (registered types; built-ins are in describe()).
DESCRIBERS: dict[str, Callable] = {}
#: type -> validate(action, where) -> list[FieldProblem], run when a rule is saved (registered types).
VALIDATORS: dict[str, Callable] = {}


def register_action(type: str, fn: Callable, describe: Callable | None = None,  # noqa: A002
                    validate: Callable | None = None) -> None:
    """Let another app add an action type: `fn(rule, wo, action) -> summary` runs in a
    savepoint (raise DomainError to record why it could not); `describe(rule, wo, action)`
    is the dry run's line; `validate(action, where)` returns FieldProblems naming
    f"{where}.<param>" (where = "actions[i]") when a rule is saved."""
    ACTIONS[type] = fn
    if describe is not None:
        DESCRIBERS[type] = describe
    if validate is not None:
        VALIDATORS[type] = validate


def describe(rule: Rule, wo: WorkOrder) -> list[str]:
    """What the actions would do, for a dry run (nothing is written)."""
    out = []
    for a in rule.actions:
        t = a.get("type")
        if t == "set_priority":
            out.append(_("priority %(a)s → %(b)s") % {"a": wo.priority, "b": a.get("priority")})
        elif t == "set_fields":
            out.append(_("set %(f)s") % {"f": ", ".join(sorted(a.get("fields") or {}))})
        elif t == "assign":
            out.append(_("assign %(u)s") % {"u": a.get("assignee")})
        elif t == "dispatch":
            from closeloop.dispatch.suggestions import suggest

            s = suggest(wo, limit=1)
            out.append(_("dispatch to %(who)s") % {"who": s.suggestions[0]["explanation"] if s.suggestions
                                                   else _("nobody available")})
        elif t == "comment":
            out.append(_("comment: %(b)s") % {"b": a.get("body", "")[:100]})
        elif t == "notify":
            people = recipients(wo, a.get("recipients") or ["team_lead"])
            out.append(_("notify %(who)s") % {"who": ", ".join(str(u) for u in people) or "-"})
        elif t == "create_linked":
            out.append(_("create a linked work order: %(t)s") % {"t": a.get("title") or wo.title})
        elif t == "add_tags":
            out.append(_("add tags %(t)s") % {"t": ", ".join(a.get("tags") or [])})
        elif t == "remove_tags":
            out.append(_("remove tags %(t)s") % {"t": ", ".join(a.get("tags") or [])})
        elif t == "add_watchers":
            people = recipients(wo, a.get("watchers") or [])
            out.append(_("add watchers %(who)s") % {"who": ", ".join(str(u) for u in people) or "-"})
        elif t == "escalate":
            from closeloop.workorders.services import next_priority

            up = next_priority(wo.priority) if a.get("raise_priority", True) else None
            bits = [_("priority %(a)s → %(b)s") % {"a": wo.priority, "b": up}] if up else []
            if a.get("team"):
                bits.append(_("team → %(t)s") % {"t": a["team"]})
            if a.get("recipients"):
                people = recipients(wo, a["recipients"])
                bits.append(_("notify %(who)s") % {"who": ", ".join(str(u) for u in people) or "-"})
            out.append(_("escalate: %(what)s") % {"what": "; ".join(bits) or "-"})
        elif t == "webhook":
            from urllib.parse import urlsplit

            out.append(_("call the webhook at %(h)s") % {"h": urlsplit(str(a.get("url"))).hostname or "-"})
        elif t in DESCRIBERS:
            out.append(str(DESCRIBERS[t](rule, wo, a)))
        elif t == "require_approval":
            out.append(_("request approval of %(a)s") % {"a": a.get("action", "")})
        else:
            out.append(str(t))
    return out
