from django.apps import AppConfig


class PurchasingConfig(AppConfig):
    name = "closeloop.purchasing"
    label = "purchasing"
    verbose_name = "Purchasing"

    def ready(self):
        from . import hooks

        hooks.install()
