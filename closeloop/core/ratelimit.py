"""Rate limits and who the client is.

- `client_address(request)`: the caller's address. `X-Forwarded-For` is honoured only when
  the connection comes from one of `TRUSTED_PROXIES` (addresses or networks); then the
  rightmost address in it that is not itself a trusted proxy is the client. Without a
  trusted proxy the header is ignored, so nobody can pick their own address, and with one
  every client behind it keeps its own limits (one proxy does not lock everyone out).
- Login failures are kept in the database (`LoginFailure`) so every web process agrees.
- API limits (`hit`, `over`) count in the Django cache, in fixed windows: with Redis
  (`REDIS_URL`) every process shares the counts; with the default local-memory cache each
  process counts on its own, so the effective limit is the setting times the number of
  web processes (docs/configuration.md "Rate limits").
"""

import ipaddress
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q

from .clock import now
from .errors import DomainError
from .models import LoginFailure

# --- the client's address ----------------------------------------------------------------


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())


def _parse(addr: str):
    addr = addr.strip()
    if addr.startswith("[") and "]" in addr:  # [v6]:port
        addr = addr[1:addr.index("]")]
    elif addr.count(":") == 1:  # v4:port
        addr = addr.split(":", 1)[0]
    try:
        return ipaddress.ip_address(addr)
    except ValueError:
        return None


def _trusted(ip, nets) -> bool:
    return ip is not None and any(ip in n for n in nets)


def client_address(request) -> str:
    remote = request.META.get("REMOTE_ADDR", "")[:64]
    nets = _networks(tuple(settings.TRUSTED_PROXIES))
    if not nets or not _trusted(_parse(remote), nets):
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [h for h in (p.strip() for p in forwarded.split(",")) if h]
    client = remote
    for hop in reversed(hops):
        ip = _parse(hop)
        if ip is None:  # garbage in the chain: trust nothing further left
            break
        client = str(ip)
        if not _trusted(ip, nets):
            break
    return client[:64]


# --- login failures (database) -------------------------------------------------------------

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


# --- API limits (cache, fixed windows) --------------------------------------------------------

def parse_rate(text: str) -> tuple[int, int] | None:
    """"600/60" → (600, 60): at most 600 in 60 seconds. "0" or "" → None (no limit)."""
    text = (text or "").strip()
    if text in ("", "0", "off", "none"):
        return None
    count, _, seconds = text.partition("/")
    limit, window = int(count), int(seconds or 60)
    if limit <= 0 or window <= 0:
        return None
    return limit, window


@dataclass
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # seconds until the window ends
    window: int

    def headers(self) -> dict[str, str]:
        h = {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": str(self.remaining),
             "RateLimit-Reset": str(self.reset), "RateLimit-Policy": f"{self.limit};w={self.window}"}
        if not self.allowed:
            h["Retry-After"] = str(self.reset)
        return h


def _window(bucket: str, window: int) -> tuple[str, int]:
    t = int(now().timestamp())
    start = t - t % window
    return f"rl:{bucket}:{window}:{start}", start + window - t


def hit(bucket: str, rate: tuple[int, int]) -> Decision:
    """Count one request against `bucket` and say whether it is within `rate`."""
    limit, window = rate
    key, reset = _window(bucket, window)
    try:
        n = cache.incr(key)  # one cache call for every request of a window but its first
    except ValueError:  # the window's first request (or its key expired): start it at 1
        n = 1 if cache.add(key, 1, timeout=window + 1) else cache.incr(key)
    return Decision(n <= limit, limit, max(0, limit - n), max(1, reset), window)


def over(bucket: str, rate: tuple[int, int]) -> Decision | None:
    """The refusal if `bucket` has already used up `rate` in this window, without counting."""
    limit, window = rate
    key, reset = _window(bucket, window)
    n = cache.get(key, 0)
    return Decision(False, limit, 0, max(1, reset), window) if n >= limit else None


class RateLimited(DomainError):
    """429 with Retry-After and the RateLimit headers of the limit that was hit."""

    def __init__(self, message: str, decision: Decision, **extra):
        super().__init__(message, 429, "rate_limited", extra={"limit": decision.limit, "window": decision.window,
                                                             **extra})
        self.headers = decision.headers()
