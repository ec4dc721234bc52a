from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AdministrationConfig(AppConfig):
    name = "closeloop.administration"
    label = "administration"
    verbose_name = "administration"

    def ready(self):
        from closeloop.core import nav, site

        from .selectors import company_language, company_site_url, may_administer_data, may_see_setup

        site.register_fallback(company_site_url)
        site.register_language_fallback(company_language)

        nav.register("setup", _("Set-up checklist"), "administration:checklist", icon="checklist", order=10,
                     visible=may_see_setup, group="settings",
                     namespace="administration:checklist")
        nav.register("admin_data", _("Customers and assets"), "administration:customers", icon="tool", order=20,
                     visible=may_administer_data, group="settings", namespace="administration:list")
        nav.register("admin_people", _("Users, teams and skills"), "administration:users", icon="user", order=21,
                     visible=may_see_setup, group="settings", namespace="administration:users")
        from closeloop.workorders.types_services import may_manage_types

        nav.register("admin_types", _("Work order types"), "administration:types", icon="forms", order=22,
                     visible=may_manage_types, group="settings", namespace="administration:types")
        nav.register("admin_sla", _("SLA and calendars"), "administration:sla", icon="clock", order=23,
                     visible=may_see_setup, group="settings", namespace="administration:sla")
