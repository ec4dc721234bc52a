from django.apps import AppConfig


class FieldworkConfig(AppConfig):
    name = "closeloop.fieldwork"
    label = "fieldwork"
    verbose_name = "Field work and closure gates"

    def ready(self):
        from . import hooks

        hooks.register()
        from closeloop.workorders import panels

        from .panels import gates_panel

        panels.register("gates", "fieldwork/_gates_card.html", context=gates_panel, order=20)
        try:
            from closeloop.demo import extras
            from closeloop.demo import fieldwork as demo_fieldwork

            extras.register("fieldwork", demo_fieldwork.seed)
        except ImportError:  # demo scenario not written yet
            pass
