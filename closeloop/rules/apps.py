from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "closeloop.rules"
    label = "rules"
    verbose_name = "Rules"

    def ready(self):
        # Run the rules on every work order event (create, update, each action).
        from . import hooks

        hooks.install()
        from .console import register_nav  # the console's "Rules" navigation entry

        register_nav()
