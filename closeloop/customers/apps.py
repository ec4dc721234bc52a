from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "closeloop.customers"
    label = "customers"
    verbose_name = "customers, sites and assets"
