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

        panels.register("portal", "console/_portal_panel.html", context=services.panel_context, order=80)
        panels.register_event("portal", "portal/_timeline_event.html")
        staff = lambda user: user.role in ("admin", "manager", "dispatcher") or user.is_superuser  # noqa: E731
        nav.register("dashboard", _("Dashboard"), "workorders:dashboard", icon="layout-dashboard", visible=staff,
                     order=5)
        nav.register("board", _("Board"), "workorders:board", icon="layout-kanban",
                     visible=lambda user: user.role != "customer", order=6)
        nav.register("portal", _("My requests"), "portal:home", icon="message-report",
                     visible=lambda user: user.role == "customer", order=5)
        try:
            from closeloop.demo import extras
            from closeloop.demo.portal import seed_portal_demo

            extras.register("portal", seed_portal_demo, order=60)
        except ImportError:  # pragma: no cover
            pass
