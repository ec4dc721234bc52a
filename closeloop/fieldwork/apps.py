from django.apps import AppConfig


class FieldworkConfig(AppConfig):
    name = "closeloop.fieldwork"
    label = "fieldwork"
    verbose_name = "Field work and closure gates"

    def ready(self):
        from . import hooks

        hooks.register()
        from closeloop.workorders import panels

        from .panels import gates_panel

        panels.register("gates", "fieldwork/_gates_card.html", context=gates_panel, order=20)
        for kind in ("checkin", "evidence", "gate", "signature"):
            panels.register_event(kind, "fieldwork/_timeline_event.html")
        from django.utils.translation import gettext_lazy as _

        from closeloop.core import nav

        from .panels import phone_badge

        nav.register("fieldwork-phone", _("My field work"), "fieldwork:phone", icon="device-mobile", order=15,
                     visible=lambda user: user.role == "engineer", badge=phone_badge)
        # Engineers work from the phone pages.
        nav.register_landing("fieldwork:phone", when=lambda user: user.role == "engineer", order=15)
        nav.register("fieldwork-gates", _("Closure gates"), "fieldwork:gate_policies", icon="checklist", order=85,
                     visible=lambda user: user.is_superuser or user.role in ("admin", "manager"),
                     namespace="fieldwork-gates", group="settings")
