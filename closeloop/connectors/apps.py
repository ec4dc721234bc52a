from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConnectorsConfig(AppConfig):
    name = "closeloop.connectors"
    label = "connectors"
    verbose_name = "context from other systems"

    def ready(self):
        from closeloop.console import lookup
        from closeloop.core import nav
        from closeloop.workorders import panels

        from . import selectors, views

        nav.register("connectors", _("Lookup connectors"), "connectors:list", icon="link", order=96,
                     visible=selectors.may_configure, group="settings")
        panels.register("connectors", "connectors/_panel.html", context=views.work_order_panel, order=15)
        lookup.register_panel("connectors", "connectors/_panel.html", context=views.lookup_panel, order=10)
