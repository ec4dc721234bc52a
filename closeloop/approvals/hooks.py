"""Where approvals plug into the rest: lifecycle guards/effects, outbox timers, the rules
action, the navigation entry, the work order card and the demo scenario."""

from django.utils.translation import gettext_lazy as _

_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    from closeloop.outbox import services as outbox
    from closeloop.workorders import lifecycle

    from . import handoffs, services

    # Every action: a published flow for (type, action) refuses it until approved;
    # handoff requirements refuse it until the fields are there.
    lifecycle.register_guard(None, services.guard)
    lifecycle.register_guard(None, handoffs.handoff_guard)
    lifecycle.register_effect(None, services.consume, phase="record")
    lifecycle.register_effect(None, handoffs.handoff_effect, phase="record")
    lifecycle.register_effect("cancel", services.cancel_with_work_order, phase="record")
    outbox.register(services.TIMER_KIND, services.on_timer)
    outbox.register(services.JUSTIFY_KIND, services.on_justification_due)
    _install_rule_action()
    _install_ui()


def _install_rule_action() -> None:
    from closeloop.rules.runner import register_action

    from . import services

    register_action("require_approval", services.rule_require_approval)


def _install_ui() -> None:
    from closeloop.core import nav
    from closeloop.workorders import panels

    from . import selectors

    nav.register("approvals", _("Approvals"), "approvals:inbox", icon="checklist",
                 visible=lambda user: user.role != "customer", order=40,
                 badge=lambda request: selectors.inbox_count(request.user))
    panels.register("approvals", "approvals/_card.html", context=selectors.card_context, order=30)
    panels.register_event("approval", "approvals/_timeline_event.html")
    panels.register_event("handoff", "approvals/_timeline_event.html")
