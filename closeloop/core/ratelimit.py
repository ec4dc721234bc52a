"""Login rate limiting, kept in the database so every web process agrees."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q

from .clock import now
from .models import LoginFailure


def client_address(request) -> str:
    return request.META.get("REMOTE_ADDR", "")[:64]


def is_locked(username: str, address: str) -> bool:
    since = now() - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    recent = LoginFailure.objects.filter(at__gte=since)
    by_user = recent.filter(username=username.lower()).count()
    by_addr = recent.filter(address=address).count()
    # One address may try several accounts a little more, but not without bound.
    return by_user >= settings.LOGIN_MAX_FAILURES or by_addr >= settings.LOGIN_MAX_FAILURES * 4


def record_failure(username: str, address: str) -> None:
    LoginFailure.objects.create(username=username.lower()[:150], address=address, at=now())


def clear(username: str, address: str) -> None:
    LoginFailure.objects.filter(Q(username=username.lower()) & Q(address=address)).delete()
