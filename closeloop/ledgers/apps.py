from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LedgersConfig(AppConfig):
    name = "closeloop.ledgers"
    label = "ledgers"
    verbose_name = "Excel ledgers"

    def ready(self):
        from closeloop.core import jobs, nav

        from . import services
        from .selectors import may_import

        jobs.register("ledgers.work", step=services.handle_one_ledger_step, next_at=services.next_ledger_at)
        nav.register("ledgers", _("Import ledgers"), "ledgers:list", icon="upload", order=95, visible=may_import,
                     group="settings")
