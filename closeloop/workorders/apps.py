from django.apps import AppConfig


class WorkOrdersConfig(AppConfig):
    name = "closeloop.workorders"
    label = "workorders"
    verbose_name = "work orders"

    def ready(self):
        from . import panels, views

        # Tags and watchers are work order data (services.do_set_tags, do_watch): their card is ours.
        panels.register("tags", "workorders/_tags_panel.html", context=views.tags_panel_context, order=15)
