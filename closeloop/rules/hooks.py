"""Where rules plug into the rest, all installed by RulesConfig.ready:

- workorders.lifecycle effects (inside the event's transaction): create → "created";
  update → "updated" / "field_changed"; each action → "status_changed";
- workorders.services.comment_listeners → "comment_added";
- sla.hooks state listeners (a target turns warning / breached) → "sla_warning" / "sla_breach";
- the worker: core.jobs step "rules.schedule" (rules.schedule) → "schedule";
- the outbox kind "rules.webhook": the webhook action's POST, through notify's guarded transport.
"""

import json
import logging
import time

from closeloop.workorders.lifecycle import ACTIONS, register_effect

log = logging.getLogger(__name__)
_installed = False
#: A webhook that still fails after this many attempts is given up (as notify does).
WEBHOOK_MAX_ATTEMPTS = 10


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


def deliver_webhook(msg) -> None:
    """Outbox handler of the webhook action: POST the stored body, signed like notify's
    webhook channel (X-Closeloop-Signature, Standard Webhooks), through notify's guarded
    client (SSRF guard at connect time, no redirects, timeouts, 64 KiB responses)."""
    from urllib.parse import urlsplit

    from django.utils.translation import gettext as _

    from closeloop.notify.channels import base
    from closeloop.notify.channels.webhook import headers
    from closeloop.outbox.services import PermanentError, RetryableError
    from closeloop.workorders import timeline
    from closeloop.workorders.models import TimelineEvent, WorkOrder

    p = msg.payload or {}
    body = json.dumps(p.get("body") or {}, ensure_ascii=False, separators=(",", ":")).encode()
    wo = WorkOrder.objects.filter(code=p.get("work_order") or "").first()
    host = urlsplit(str(p.get("url") or "")).hostname or "-"
    rule = ((p.get("body") or {}).get("rule") or {}).get("name", "")

    def log_outcome(status: str, text: str) -> None:
        if wo is not None:
            timeline.append_event(wo, TimelineEvent.Kind.NOTIFICATION, data={
                "status": status, "text": text[:500], "rule": rule, "webhook": host, "delivery": msg.key})

    try:
        base.request("POST", p.get("url") or "", content=body,
                     headers=headers(p.get("secret") or "", msg.key, body, int(time.time())))
    except base.Permanent as exc:
        log_outcome("permanent", _("Webhook of rule %(r)s to %(h)s failed: %(e)s") % {"r": rule, "h": host, "e": exc})
        raise PermanentError(str(exc)) from exc
    except base.Retryable as exc:
        if msg.attempts >= WEBHOOK_MAX_ATTEMPTS:
            log_outcome("permanent", _("Webhook of rule %(r)s to %(h)s given up after %(n)d attempts: %(e)s")
                        % {"r": rule, "h": host, "n": msg.attempts, "e": exc})
            raise PermanentError(str(exc)) from exc
        raise RetryableError(str(exc), retry_after=exc.retry_after) from exc
    log_outcome("delivered", _("Webhook of rule %(r)s to %(h)s delivered") % {"r": rule, "h": host})


def install() -> None:
    global _installed
    if _installed:
        return
    register_effect("create", on_create)
    register_effect("update", on_update)
    for action in ACTIONS:
        register_effect(action, on_transition)
    from closeloop.core import jobs
    from closeloop.outbox import services as outbox
    from closeloop.sla import hooks as sla_hooks
    from closeloop.workorders import services as wo_services

    from . import schedule
    from .runner import WEBHOOK_KIND

    wo_services.comment_listeners.append(on_comment)
    sla_hooks.state_listeners.append(on_sla_state)
    outbox.register(WEBHOOK_KIND, deliver_webhook)
    jobs.register("rules.schedule", step=schedule.run_due_schedules, next_at=schedule.next_schedule_at)
    _installed = True
