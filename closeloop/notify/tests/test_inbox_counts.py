"""The inbox badge (services.unread_count, one constant statement) counts each user's unread
messages as the ORM does, as messages arrive and are read."""

from closeloop.accounts.models import User
from closeloop.core.clock import now
from closeloop.notify import services
from closeloop.notify.models import InboxItem


def _check_everyone() -> dict[str, int]:
    counts = {}
    for user in User.objects.all():
        counts[user.username] = services.unread_count(user)
        assert counts[user.username] == InboxItem.objects.filter(user=user, read_at__isnull=True).count()
    return counts


def test_the_badge_counts_unread_messages_per_user(world):
    assert set(_check_everyone().values()) == {0}
    for user, n in ((world.eng_x, 3), (world.dispatcher, 1)):
        for i in range(n):
            InboxItem.objects.create(user=user, event="x", subject=f"s{i}", created_at=now())
    assert _check_everyone()[world.eng_x.username] == 3
    first = InboxItem.objects.filter(user=world.eng_x).order_by("id").first()
    assert services.do_mark_read(actor=world.eng_x, item_id=first.pk) == 1
    counts = _check_everyone()
    assert counts[world.eng_x.username] == 2 and counts[world.dispatcher.username] == 1
    services.do_mark_read(actor=world.dispatcher)
    assert _check_everyone()[world.dispatcher.username] == 0
