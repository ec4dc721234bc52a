from django.apps import AppConfig


class PartsConfig(AppConfig):
    name = "closeloop.parts"
    label = "parts"
    verbose_name = "Parts and stock"

    def ready(self):
        from . import hooks

        hooks.install()
