from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Recompute the analytics tables from the whole timeline (the worker keeps them current)."

    def handle(self, *args, **options):
        from closeloop.analytics.refresh import rebuild

        out = rebuild()
        self.stdout.write(f"analytics rebuilt: {out['work_orders']} work orders, timeline up to event "
                          f"{out['last_event_id']}")
