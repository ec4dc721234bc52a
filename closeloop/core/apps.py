from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "closeloop.core"
    label = "core"
    verbose_name = "closeloop core"

    def ready(self):
        from closeloop.core import staticfiles  # noqa: F401  (registers the static manifest check)
