"""What parts plugs into (called from PartsConfig.ready)."""

from django.utils.translation import gettext_lazy as _


def install() -> None:
    from closeloop.core import nav
    from closeloop.workorders import lifecycle, panels

    from . import services, views

    lifecycle.register_effect("cancel", services.release_with_work_order, phase="record")
    panels.register("parts", "parts/_card.html", context=views.card_context, order=35)
    nav.register("parts", _("Parts"), "parts:catalogue", icon="tool", visible=services.may_read, order=48)
