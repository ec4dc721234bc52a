"""Dispatch's lifecycle effects (registered from DispatchConfig.ready):

- `arrive` with coordinates: the engineer is now there; dispatch measures their next
  distance from it (rather than from home);
- `create`, and `reopen` back to new without an assignee: the dispatch setting acts on
  its own (auto assigns the best, round_robin the next in the team, suggest waits for
  the dispatcher).

Order: the "dispatch" phase runs after the rules' "automation" phase (workorders.lifecycle
PHASES): a rule may set the team or the priority, or assign the work already.
"""

from decimal import Decimal

from closeloop.workorders.lifecycle import S, register_effect

_installed = False


def on_arrive(ctx) -> None:
    from .models import EngineerProfile

    lat, lng = ctx.data.get("latitude"), ctx.data.get("longitude")
    user = ctx.wo.assignee
    if lat is None or lng is None or user is None:
        return
    EngineerProfile.objects.update_or_create(
        user=user, defaults={"latitude": Decimal(str(round(lat, 6))), "longitude": Decimal(str(round(lng, 6))),
                             "located_at": ctx.at})


def on_create(ctx) -> None:
    from .services import dispatch_on_arrival

    if (ctx.data or {}).get("assignee"):
        return  # the creator assigns it themselves, right after the create effects
    dispatch_on_arrival(actor=ctx.actor, wo=ctx.wo, at=ctx.at, trigger="create")


def on_reopen(ctx) -> None:
    from .services import dispatch_on_arrival

    if ctx.to_state == S.NEW:
        dispatch_on_arrival(actor=ctx.actor, wo=ctx.wo, at=ctx.at, trigger="reopen")


def install() -> None:
    global _installed
    if _installed:
        return
    register_effect("arrive", on_arrive, phase="record")
    register_effect("create", on_create, phase="dispatch")
    register_effect("reopen", on_reopen, phase="dispatch")
    _installed = True
