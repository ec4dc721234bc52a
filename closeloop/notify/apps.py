from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotifyConfig(AppConfig):
    name = "closeloop.notify"
    label = "notify"
    verbose_name = "Notifications"

    def ready(self):
        from django.core import checks

        from closeloop.core import nav
        from closeloop.outbox import services as outbox
        from closeloop.workorders import lifecycle, panels

        from . import ack, services, views
        from .channels.base import check_allowlist

        checks.register(check_allowlist)

        outbox.register("notify", services.fan_out)
        outbox.register("notify.deliver", services.deliver_message)
        outbox.register("notify.ack_step", ack.run_step)
        from closeloop.core import jobs

        jobs.register("notify.fan_out", step=services.fan_out_batch, order=30)
        jobs.register("notify.deliver", step=services.deliver_batch, order=31)
        lifecycle.register_effect("assign", ack.on_assign, phase="notifications")
        lifecycle.register_effect("create", ack.on_create, phase="notifications")
        lifecycle.register_effect("accept", ack.on_accept, phase="notifications")
        from . import events

        lifecycle.register_effect("assign", events.on_assign, phase="notifications")
        for action in lifecycle.ACTIONS:
            lifecycle.register_effect(action, events.on_transition, phase="notifications")
        nav.register("inbox", _("Inbox"), "notify:inbox", icon="bell", order=90, badge=views.nav_badge)
        nav.register("notify-admin", _("Channels"), "notify:channels", icon="broadcast", order=95,
                     visible=lambda u: u.is_superuser or u.role in ("admin", "manager"), namespace="notify-admin", group="settings")
        panels.register("notifications", "notify/_panel.html", context=views.panel_context, order=60)
        panels.register_event("notification", "notify/_timeline_event.html")  # deliveries, in the reader's language
        from .demo import file_urgent_work_order

        outbox.register("notify.demo", file_urgent_work_order)  # the demo's urgent work order, filed by the worker
