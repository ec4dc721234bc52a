from django.apps import AppConfig


class SLAConfig(AppConfig):
    name = "closeloop.sla"
    label = "sla"
    verbose_name = "SLA"

    def ready(self):
        # Plug the ledger into the work order lifecycle (create, every transition, update).
        from . import hooks

        hooks.install()
