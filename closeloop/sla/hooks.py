"""The SLA ledger follows every work order write: create, each transition, each
field update (priority, type, customer... may select another policy). Installed by
SLAConfig.ready through workorders.lifecycle.register_effect; runs inside the
work order's transaction, so the ledger never disagrees with the timeline."""

from closeloop.workorders.lifecycle import register_effect

_installed = False


def on_change(ctx) -> None:
    from .services import recompute

    recompute(ctx.wo, at=ctx.at, actor=ctx.actor)


def install() -> None:
    global _installed
    if _installed:
        return
    register_effect(None, on_change)  # "*": create, update and every action
    _installed = True
