"""The SLA ledger follows every work order write: create, each transition, each
field update (priority, type, customer... may select another policy). Installed by
SLAConfig.ready through workorders.lifecycle.register_effect in the "sla" phase (after the
rules and the dispatch setting, once per outermost change: see lifecycle.PHASES); runs
inside the work order's transaction, so the ledger never disagrees with the timeline."""

from closeloop.workorders.lifecycle import register_effect

_installed = False


def on_change(ctx) -> None:
    from .services import recompute

    # The create's own pass (the `once` phase runs after every nested change of the create, and
    # nothing before it writes ledger rows or fires levels): no rows to read.
    recompute(ctx.wo, at=ctx.at, actor=ctx.actor, created=ctx.created)


def install() -> None:
    global _installed
    if _installed:
        return
    register_effect(None, on_change, phase="sla")  # "*": create, update and every action
    _installed = True


#: fn(wo, milestone, old_state, new_state, due_at, at), called by services._sync inside the
#: work order's transaction after the ledger rows are written, when a target turns
#: "warning" or "breached" (the rules app's sla_warning / sla_breach triggers).
state_listeners: list = []


def state_changed(wo, milestone: str, old: str | None, new: str, due_at, at) -> None:
    for fn in state_listeners:
        fn(wo, milestone, old, new, due_at, at)
