from django.apps import AppConfig


class MaintenanceConfig(AppConfig):
    name = "closeloop.maintenance"
    label = "maintenance"
    verbose_name = "Maintenance"

    def ready(self):
        from . import hooks

        hooks.install()
