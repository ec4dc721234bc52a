from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "closeloop.approvals"
    label = "approvals"
    verbose_name = "Approvals"

    def ready(self):
        from . import hooks

        hooks.install()
