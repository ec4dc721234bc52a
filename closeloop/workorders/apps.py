from django.apps import AppConfig


class WorkOrdersConfig(AppConfig):
    name = "closeloop.workorders"
    label = "workorders"
    verbose_name = "work orders"
