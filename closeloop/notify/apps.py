from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "closeloop.notify"
    label = "notify"
    verbose_name = "Notifications"
