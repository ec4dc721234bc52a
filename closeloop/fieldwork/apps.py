from django.apps import AppConfig


class FieldworkConfig(AppConfig):
    name = "closeloop.fieldwork"
    label = "fieldwork"
    verbose_name = "Field work and closure gates"
