from django.apps import AppConfig


class WorkOrdersConfig(AppConfig):
    name = "closeloop.workorders"
    label = "workorders"
    verbose_name = "work orders"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from . import mainline, panels, views
        from .models import WorkOrderType

        # A type's main line is cached per process for pages listing many work orders (mainline.wo_uses).
        post_save.connect(mainline.forget, sender=WorkOrderType, dispatch_uid="workorders.mainline.save")
        post_delete.connect(mainline.forget, sender=WorkOrderType, dispatch_uid="workorders.mainline.delete")

        # Tags and watchers are work order data (services.do_set_tags, do_watch): their card is ours.
        panels.register("tags", "workorders/_tags_panel.html", context=views.tags_panel_context, order=15)
