from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "closeloop.approvals"
    label = "approvals"
    verbose_name = "Approvals"

    def ready(self):
        from closeloop.workorders import mainline

        from . import hooks, selectors

        hooks.install()
        mainline.register_points(selectors.main_line_points)
