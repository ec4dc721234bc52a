from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "closeloop.audit"
    label = "audit"
    verbose_name = "configuration audit"

    def ready(self):
        from closeloop.core import nav

        from .selectors import may_read

        nav.register("audit", _("Audit log"), "audit:list", icon="history", order=99, visible=may_read,
                     group="settings")
