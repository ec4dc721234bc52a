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
from dataclasses import dataclass, field

from django.apps import apps
from django.db import transaction
from django.utils.translation import gettext as _

from closeloop.core import conditions
from closeloop.core.errors import DomainError
from closeloop.workorders.models import TimelineEvent, WorkOrder

from .models import KeywordLibrary, Rule, Trigger

MAX_FIRINGS = 20
EVENT_RULE = "rule"  # TimelineEvent.kind written here


@dataclass
class Chain:
    firings: int = 0
    capped: bool = False
    fired: set = field(default_factory=set)  # (rule id, work order id)
    rules: list | None = None
    libraries: dict | None = None
    visible: dict = field(default_factory=dict)  # (owner id, wo id) -> bool


_chain: contextvars.ContextVar[Chain | None] = contextvars.ContextVar("rules_chain", default=None)


def libraries() -> dict[str, list[str]]:
    return {k.name: list(k.words) for k in KeywordLibrary.objects.all()}


def context_for(wo: WorkOrder, *, trigger: str, actor=None, event: dict | None = None,
                libs: dict | None = None) -> dict:
    ev = {"trigger": trigger, **(event or {})}
    return conditions.work_order_context(wo, keyword_libraries=libs if libs is not None else libraries(), event=ev,
                                         actor=actor)


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


def run(wo: WorkOrder, *, trigger: str, actor=None, event: dict | None = None) -> list[Rule]:
    """Evaluate the enabled rules for `trigger` on `wo`, in order, and run the actions
    of those that match. Returns the rules that fired."""
    chain = _chain.get()
    token = None
    if chain is None:
        chain = Chain()
        token = _chain.set(chain)
    try:
        return _run(chain, wo, trigger=trigger, actor=actor, event=event or {})
    finally:
        if token is not None:
            _chain.reset(token)


def _run(chain: Chain, wo: WorkOrder, *, trigger: str, actor, event: dict) -> list[Rule]:
    if chain.rules is None:
        chain.rules = list(Rule.objects.filter(enabled=True).select_related("owner").order_by("order", "id"))
    changed = list(event.get("changed", []))
    candidates = [r for r in chain.rules if _triggers_match(r, trigger, changed) and _in_scope(r, wo)
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
                TimelineEvent.objects.create(work_order=wo, at=_at(), actor=None, kind=EVENT_RULE,
                                             data={"capped": True, "limit": MAX_FIRINGS, "rule": rule.name,
                                                   "rule_id": rule.pk})
            break
        chain.firings += 1
        chain.fired.add((rule.pk, wo.pk))
        results = execute_actions(rule, wo)
        TimelineEvent.objects.create(
            work_order=wo, at=_at(), actor=rule.owner, kind=EVENT_RULE,
            data={"rule_id": rule.pk, "rule": rule.name, "trigger": trigger,
                  "keywords": ctx_vars["wo"]["keyword_hits"], "actions": results})
        fired.append(rule)
        if rule.stop_after:
            break
    return fired


def _at():
    from closeloop.core.clock import now

    return now()


# ---- actions ----------------------------------------------------------------------------------------

def execute_actions(rule: Rule, wo: WorkOrder) -> list[dict]:
    """Run each action in order, each in its own savepoint: one that cannot be done
    (e.g. nobody to assign) is recorded with its reason, the others still run, and the
    user's own change is never refused because of a rule."""
    results = []
    for action in rule.actions:
        kind = action.get("type", "")
        fn = ACTIONS.get(kind)
        if fn is None:
            results.append({"type": kind, "ok": False, "error": _("Unknown action.")})
            continue
        try:
            with transaction.atomic():
                summary = fn(rule, wo, action)
            results.append({"type": kind, "ok": True, "summary": summary})
        except DomainError as exc:
            results.append({"type": kind, "ok": False, "error": str(exc.message)[:300]})
    return results


def _refresh(wo: WorkOrder) -> None:
    fresh = WorkOrder.objects.get(pk=wo.pk)
    for f in ("version", "status", "priority", "assignee_id", "team_id", "updated_at", "title", "custom",
              "fault_code", "resume_to"):
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


def _notify(rule, wo, a):
    """An outbox row per recipient (delivered by the worker on each channel), or, where
    there is no outbox, the message on the timeline only."""
    people = recipients(wo, a.get("recipients") or ["team_lead"])
    channels = a.get("channels") or ["inbox"]
    message = (a.get("message") or "").replace("{code}", wo.code).replace("{title}", wo.title)[:500]
    if not people:
        raise DomainError(_("Nobody to notify."))
    if apps.is_installed("closeloop.outbox"):
        from closeloop.outbox.services import enqueue

        for user in people:
            for channel in channels:
                enqueue("notify", f"rule:{rule.pk}:{wo.pk}:v{wo.version}:{user.pk}:{channel}",
                        {"channel": channel, "to": user.username, "phone": user.phone, "work_order": wo.code,
                         "rule": rule.name, "message": message})
    return "notified " + ", ".join(u.username for u in people)


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


ACTIONS = {
    "set_priority": _set_priority,
    "set_fields": _set_fields,
    "assign": _assign,
    "dispatch": _dispatch,
    "comment": _comment,
    "notify": _notify,
    "create_linked": _create_linked,
}


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
            from closeloop.dispatch.services import suggest

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
    return out
