from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "closeloop.demo"
    label = "demo"
    verbose_name = "demo company"

    def ready(self):
        from closeloop.core import demo_database

        from .selectors import marker_exists

        demo_database.register_marker(marker_exists)  # core.demo_database.is_demo_database asks it
