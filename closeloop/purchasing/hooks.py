"""What purchasing plugs into (called from PurchasingConfig.ready)."""

from django.utils.translation import gettext_lazy as _


def install() -> None:
    from closeloop.core import jobs, nav
    from closeloop.workorders import panels

    from . import services, views

    jobs.register("purchasing.consolidate", step=services.step, next_at=services.next_step_at, order=70)
    panels.register("purchase", "purchasing/_card.html", context=views.card_context, order=5)
    nav.register("purchasing", _("Purchasing"), "purchasing:list", icon="receipt", visible=services.may_read,
                 order=49)
