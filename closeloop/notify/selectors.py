"""Permission-checked reads for notifications."""

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from closeloop.core.errors import NotFound

from .models import AckChain, Channel, Delivery, InboxItem

ADMIN_ROLES = ("admin", "manager")


def is_notify_admin(user) -> bool:
    return bool(user.is_superuser or user.role in ADMIN_ROLES)


def inbox(user) -> QuerySet:
    return InboxItem.objects.filter(user=user).select_related("work_order", "chain").order_by("-id")


def channels(user) -> QuerySet:
    if not is_notify_admin(user):
        return Channel.objects.none()
    return Channel.objects.select_related("team", "owner").order_by("name")


def channel(user, pk) -> Channel:
    ch = channels(user).filter(pk=pk).first() if str(pk).isdigit() else None
    if ch is None:
        raise NotFound(_("No such channel."))
    return ch


def deliveries(user, *, status=None, medium=None, work_order=None, channel=None, event=None, q=None) -> QuerySet:
    if not is_notify_admin(user):
        return Delivery.objects.none()
    qs = Delivery.objects.select_related("channel", "work_order").order_by("-id")
    if status:
        qs = qs.filter(status=status)
    if medium:
        qs = qs.filter(medium=medium)
    if work_order:
        qs = qs.filter(work_order__code=work_order)
    if channel:
        qs = qs.filter(channel_id=channel) if str(channel).isdigit() else qs.none()
    if event:
        qs = qs.filter(event=event)
    if q:
        qs = qs.filter(recipient__icontains=q)
    return qs


def delivery(user, pk) -> Delivery:
    d = deliveries(user).filter(pk=pk).first() if str(pk).isdigit() else None
    if d is None:
        raise NotFound(_("No such delivery."))
    return d


def work_order_deliveries(user, wo) -> QuerySet:
    """A work order's delivery log, for staff who see the work order (never for customers)."""
    if user.is_customer:
        return Delivery.objects.none()
    return Delivery.objects.filter(work_order=wo).select_related("channel").order_by("-id")


def chain(user, pk) -> AckChain:
    from closeloop.workorders.selectors import visible_work_orders

    c = AckChain.objects.select_related("work_order", "target").filter(pk=pk).first() if str(pk).isdigit() else None
    if c is None or not visible_work_orders(user).filter(pk=c.work_order_id).exists():
        raise NotFound(_("No such acknowledgement request."))
    return c


# ---- the weekly digest (sent by analytics.digest; the choice is a notification preference) -------

#: Roles offered the weekly digest, and whether it is on when the person has not chosen.
DIGEST_DEFAULTS = {"manager": True, "admin": False}


def digest_offered(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.role in DIGEST_DEFAULTS)


def wants_digest(user) -> bool:
    """Whether `user` gets the weekly digest: their own choice, else on for managers and off for
    administrators; never for other roles."""
    if not digest_offered(user) or not user.is_active:
        return False
    from .models import UserSettings

    chosen = UserSettings.objects.filter(user=user).values_list("digest", flat=True).first()
    return DIGEST_DEFAULTS[user.role] if chosen is None else chosen


def digest_recipients() -> QuerySet:
    """Active users who get the weekly digest (the same rule as wants_digest, as one query)."""
    from django.db.models import Q

    from closeloop.accounts.models import User

    on_by_default = [r for r, on in DIGEST_DEFAULTS.items() if on]
    off_by_default = [r for r, on in DIGEST_DEFAULTS.items() if not on]
    return User.objects.filter(is_active=True).filter(
        (Q(role__in=on_by_default) & ~Q(notify_settings__digest=False))
        | Q(role__in=off_by_default, notify_settings__digest=True)).order_by("id")
