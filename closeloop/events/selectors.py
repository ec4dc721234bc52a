"""Reads of the events app (administrators only)."""

from closeloop.core.errors import NotFound

from .models import ConnectedSystem, Delivery, Subscription


def may_manage(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active
                and (user.is_superuser or getattr(user, "role", "") == "admin"))


def subscriptions():
    return Subscription.objects.select_related("owner").all()


def get_subscription(pk: int) -> Subscription:
    sub = Subscription.objects.select_related("owner").filter(pk=pk).first()
    if sub is None:
        raise NotFound()
    return sub


def deliveries(sub: Subscription | None = None, status: str | None = None, limit: int = 50):
    qs = Delivery.objects.select_related("subscription")
    if sub is not None:
        qs = qs.filter(subscription=sub)
    if status:
        qs = qs.filter(status=status)
    return list(qs.order_by("-id")[:limit])


def get_delivery(pk: int) -> Delivery:
    d = Delivery.objects.select_related("subscription").filter(pk=pk).first()
    if d is None:
        raise NotFound()
    return d


def systems():
    return ConnectedSystem.objects.select_related("acts_as").all()


def get_system(pk: int) -> ConnectedSystem:
    s = ConnectedSystem.objects.select_related("acts_as").filter(pk=pk).first()
    if s is None:
        raise NotFound()
    return s


def recent_messages(system: ConnectedSystem, limit: int = 20):
    return list(system.messages.order_by("-id")[:limit])
