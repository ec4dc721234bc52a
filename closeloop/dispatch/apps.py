from django.apps import AppConfig


class DispatchConfig(AppConfig):
    name = "closeloop.dispatch"
    label = "dispatch"
    verbose_name = "Dispatch"

    def ready(self):
        # Where an engineer is: their last check-in on site (arrive with coordinates).
        from . import hooks

        hooks.install()
