"""An engineer who arrives on site with coordinates is now there: dispatch measures
their next distance from it (rather than from home)."""

from decimal import Decimal

from closeloop.workorders.lifecycle import register_effect

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


def install() -> None:
    global _installed
    if _installed:
        return
    register_effect("arrive", on_arrive)
    _installed = True
