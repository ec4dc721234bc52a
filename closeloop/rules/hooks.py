"""Where rules plug into the rest, all installed by RulesConfig.ready:

- workorders.lifecycle effects (inside the event's transaction): create → "created";
  update → "updated" / "field_changed"; each action → "status_changed";
- workorders.services.comment_listeners → "comment_added";
- sla.hooks state listeners (a target turns warning / breached) → "sla_warning" / "sla_breach";
- the worker: core.jobs step "rules.schedule" (rules.schedule) → "schedule";
- the webhook action posts through notify.webhooks (runner._webhook); the old outbox kind
  "rules.webhook" only hands rows queued before that change over to it.
"""

import logging

from django.utils.translation import gettext as _

from closeloop.workorders.lifecycle import ACTIONS, register_effect

log = logging.getLogger(__name__)
_installed = False


def on_create(ctx) -> None:
    from .runner import run

    run(ctx.wo, trigger="created", actor=ctx.actor, event={"action": "create", "to": ctx.wo.status})


def on_update(ctx) -> None:
    from .runner import run

    changed = sorted((ctx.data or {}).get("changes", {}))
    if "custom" in changed:
        changes = ctx.data["changes"]["custom"]
        old, new = (changes[0] or {}), (changes[1] or {})
        changed += [f"custom.{k}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    run(ctx.wo, trigger="updated", actor=ctx.actor, event={"action": "update", "changed": changed})


def on_transition(ctx) -> None:
    from .runner import run

    run(ctx.wo, trigger="status_changed", actor=ctx.actor,
        event={"action": ctx.transition.action, "from": ctx.from_state, "to": ctx.to_state})


def on_comment(actor, wo, ev) -> None:
    from .runner import run

    run(wo, trigger="comment_added", actor=actor,
        event={"action": "comment", "author": getattr(actor, "username", ""), "public": bool(ev.public),
               "body": (ev.data or {}).get("body", "")[:2000]})


def on_sla_state(wo, milestone: str, old: str | None, new: str, due_at, at) -> None:
    """A target of the SLA ledger changed state: warning → sla_warning, breached → sla_breach."""
    from .runner import run

    trigger = {"warning": "sla_warning", "breached": "sla_breach"}.get(new)
    if trigger is None:
        return
    run(wo, trigger=trigger, actor=None,
        event={"action": trigger, "milestone": milestone, "from": old or "", "to": new,
               "due_at": due_at.isoformat() if due_at else ""})


def requeue_old_webhook(msg) -> None:
    """Outbox rows of the kind webhooks had before they went through notify (queued before
    an upgrade): each becomes the same notify webhook (same key, so the same delivery id)."""
    from closeloop.notify import webhooks
    from closeloop.workorders.models import WorkOrder

    p = msg.payload or {}
    body = p.get("body") or {}
    rule = (body.get("rule") or {}).get("name", "")
    webhooks.do_queue_webhook(key=msg.key, url=p.get("url") or "", secret=p.get("secret") or "", body=body,
                              event=body.get("event") or "rule.webhook",
                              work_order=WorkOrder.objects.filter(code=p.get("work_order") or "").first(),
                              label=_("rule %(r)s") % {"r": rule}, outbox_key=f"{msg.key}#notify")


def install() -> None:
    global _installed
    if _installed:
        return
    register_effect("create", on_create, phase="automation")
    register_effect("update", on_update, phase="automation")
    for action in ACTIONS:
        register_effect(action, on_transition, phase="automation")
    from closeloop.core import jobs
    from closeloop.outbox import services as outbox
    from closeloop.sla import hooks as sla_hooks
    from closeloop.workorders import services as wo_services

    from . import schedule
    from .runner import WEBHOOK_KIND

    wo_services.comment_listeners.append(on_comment)
    sla_hooks.state_listeners.append(on_sla_state)
    outbox.register(WEBHOOK_KIND, requeue_old_webhook)
    jobs.register("rules.schedule", step=schedule.run_due_schedules, next_at=schedule.next_schedule_at, order=40)
    _installed = True
