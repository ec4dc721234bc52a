"""Rules follow every work order event through workorders.lifecycle effects (inside
the event's transaction): create → "created"; update → "updated" / "field_changed";
each action → "status_changed"."""

from closeloop.workorders.lifecycle import ACTIONS, register_effect

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


def install() -> None:
    global _installed
    if _installed:
        return
    register_effect("create", on_create)
    register_effect("update", on_update)
    for action in ACTIONS:
        register_effect(action, on_transition)
    _installed = True
