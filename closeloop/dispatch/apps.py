from django.apps import AppConfig


class DispatchConfig(AppConfig):
    name = "closeloop.dispatch"
    label = "dispatch"
    verbose_name = "Dispatch"

    def ready(self):
        # Lifecycle effects: location on arrive; the dispatch setting on new work (after the rules).
        from django.utils.translation import gettext_lazy as _

        from closeloop.core import nav
        from closeloop.roster.services import may_manage_roster

        from . import hooks, services

        hooks.install()
        nav.register("dispatch-roster", _("Roster"), "dispatch:roster", icon="calendar-user",
                     visible=may_manage_roster, order=46)
        nav.register("dispatch-settings", _("Dispatch"), "dispatch:settings", icon="route",
                     visible=services.may_manage_settings, order=47, group="settings")
