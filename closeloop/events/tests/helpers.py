from closeloop.outbox.models import OutboxMessage
from closeloop.outbox.services import handle_one_outbox


def run_worker(at=None, limit=200) -> int:
    n = 0
    while n < limit and handle_one_outbox("test", at=at):
        n += 1
    return n


def pending(kind: str) -> int:
    return OutboxMessage.objects.filter(kind=kind, done_at__isnull=True).count()
