from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "closeloop.outbox"
    label = "outbox"
    verbose_name = "outbox"

    def ready(self):
        from closeloop.core import jobs

        from .services import handle_one_outbox, next_outbox_at

        jobs.register("outbox", step=handle_one_outbox, next_at=next_outbox_at, order=20)
