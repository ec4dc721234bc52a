from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "closeloop.events"
    label = "events"
    verbose_name = "Events"

    def ready(self):
        from django.utils.translation import gettext_lazy as _

        from closeloop.core import nav
        from closeloop.outbox import services as outbox
        from closeloop.workorders import panels

        from . import delivery, producer, selectors

        producer.install()
        panels.register_event("integration", "events/_timeline_event.html")
        outbox.register(delivery.FAN_OUT_KIND, delivery.fan_out)
        outbox.register(delivery.DELIVER_KIND, delivery.deliver)
        nav.register("events", _("Event subscriptions"), "events:subscriptions", icon="send", order=90,
                     visible=selectors.may_manage, group="settings")
        nav.register("connected_systems", _("Connected systems"), "events:systems", icon="link",
                     order=91, visible=selectors.may_manage, group="settings")
