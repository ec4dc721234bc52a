from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "closeloop.portal"
    label = "portal"
    verbose_name = "Customer portal"

    def ready(self):
        from django.utils.translation import gettext_lazy as _

        from closeloop.core import nav

        from . import services

        services.register_hooks()
        from closeloop.workorders import panels

        panels.register("portal", "portal/_staff_panel.html", context=services.panel_context, order=80)
        panels.register_event("portal", "portal/_timeline_event.html")
        is_customer = lambda user: user.role == "customer"  # noqa: E731
        nav.register("portal", _("My requests"), "portal:home", icon="message-report", visible=is_customer, order=5)
        # The portal's own tabs (portal/base.html shows the "portal" group; other apps add theirs).
        nav.register("portal-home", _("My requests"), "portal:home", icon="message-report", visible=is_customer,
                     order=10, group="portal")
        nav.register_landing("portal:home", when=is_customer, order=20)
