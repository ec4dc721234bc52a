"""What every transport shares: its errors, the guarded HTTP client (SSRF guard checked
when connecting, no redirects, timeouts, a response size cap, a total deadline) and
config validation helpers."""

import ipaddress
import os
import socket
import time
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings
from django.utils.translation import gettext as _

from closeloop.core.errors import FieldProblem, ValidationFailed

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
#: Whole request (connect + send + read body) must finish in this many seconds.
DEADLINE = 20.0
MAX_RESPONSE_BYTES = 64 * 1024


class Permanent(Exception):  # noqa: N818
    """Retrying cannot help (bad address, rejected credentials, 4xx other than 408/429)."""

    def __init__(self, message: str, *, address: bool = False):
        super().__init__(message)
        #: The recipient's address is bad (flag the address, not the channel).
        self.address = address


class Retryable(Exception):  # noqa: N818
    """A retry may succeed (network, timeout, 5xx, 408, 429)."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Refused(Permanent):
    """The URL points at an address we may not reach."""


def allow_private() -> bool:
    """Every private and loopback address allowed: settings.CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS,
    else the environment variable of that name ("1"). Off by default, whatever the
    database holds (the demo allows only its sink, through the allow-list below)."""
    value = getattr(settings, "CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS", None)
    if value is None:
        return os.environ.get("CLOSELOOP_NOTIFY_ALLOW_PRIVATE_URLS", "") == "1"
    return bool(value)


def _allowlist_entry(entry: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, int | None]:
    """"127.0.0.1", "10.0.0.0/8", "127.0.0.1:8025", "[::1]:8025" → (network, port or None)."""
    entry = entry.strip()
    port = None
    if entry.startswith("["):
        host, _sep, rest = entry[1:].partition("]")
        if rest.startswith(":"):
            port = int(rest[1:])
    elif entry.count(":") == 1:
        host, _sep, p = entry.partition(":")
        port = int(p)
    else:
        host = entry
    return ipaddress.ip_network(host, strict=False), port


def private_allowlist() -> list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, int | None]]:
    """settings.CLOSELOOP_NOTIFY_PRIVATE_ALLOWLIST (from the environment variable of that
    name, comma-separated): the private addresses (optionally with a port) channels may
    reach while the rest stay refused. `make demo` sets it to notify_sink's ports."""
    return [_allowlist_entry(e) for e in getattr(settings, "CLOSELOOP_NOTIFY_PRIVATE_ALLOWLIST", []) if e.strip()]


def check_allowlist(app_configs=None, **kwargs) -> list:
    """System check (registered by NotifyConfig): a malformed CLOSELOOP_NOTIFY_PRIVATE_ALLOWLIST
    entry stops `closeloop serve` / `worker` at start, rather than failing every send."""
    from django.core import checks

    errors = []
    for entry in getattr(settings, "CLOSELOOP_NOTIFY_PRIVATE_ALLOWLIST", []):
        try:
            _allowlist_entry(entry)
        except ValueError as e:
            errors.append(checks.Error(f"CLOSELOOP_NOTIFY_PRIVATE_ALLOWLIST: {entry!r} is not an address or network "
                                       f"with an optional port ({e}).", id="notify.E001"))
    return errors


def _allowed(addr, port: int | None) -> bool:
    return any(addr.version == net.version and addr in net and (p is None or p == port)
               for net, p in private_allowlist())


def check_ip(ip: str, port: int | None = None) -> None:
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if getattr(addr, "ipv4_mapped", None):
        addr = addr.ipv4_mapped
    if allow_private():
        return
    if (addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_multicast or addr.is_reserved
            or addr.is_unspecified or (addr.version == 4 and addr in ipaddress.ip_network("100.64.0.0/10"))):
        if _allowed(addr, port):
            return
        raise Refused(_("Refused to connect to a private or loopback address (%(ip)s).") % {"ip": ip})


def resolve_checked(host: str, port: int) -> str:
    """Resolve `host` now and refuse if any address is private; return the address to use."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise Retryable(_("Cannot resolve %(h)s: %(e)s") % {"h": host, "e": e}) from e
    ips = [i[4][0] for i in infos]
    for ip in ips:
        check_ip(ip, port)
    return ips[0]


class _GuardedBackend(httpcore.SyncBackend):
    """Checks the address at connect time (no DNS rebinding between check and use)."""

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        ip = resolve_checked(host, port)
        return super().connect_tcp(ip, port, timeout=timeout, local_address=local_address,
                                   socket_options=socket_options)


def client() -> httpx.Client:
    transport = httpx.HTTPTransport(retries=0)
    transport._pool._network_backend = _GuardedBackend()
    return httpx.Client(transport=transport, timeout=TIMEOUT, follow_redirects=False, trust_env=False)


_client: httpx.Client | None = None


def shared_client() -> httpx.Client:
    global _client
    if _client is None:
        _client = client()
    return _client


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            from closeloop.core.clock import now

            return max(0.0, (parsedate_to_datetime(value) - now()).total_seconds())
        except (TypeError, ValueError):
            return None


class Response:
    def __init__(self, status: int, headers: httpx.Headers, body: bytes):
        self.status_code = status
        self.headers = headers
        self.content = body

    def json(self):
        import json

        try:
            return json.loads(self.content or b"null")
        except ValueError:
            return None

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


def request(method: str, url: str, *, check: bool = True, **kw) -> Response:
    """One HTTP request through the guard. Network trouble → Retryable; 3xx (no redirects)
    and 4xx other than 408/429 → Permanent; 5xx/408/429 → Retryable (with Retry-After)."""
    deadline = time.monotonic() + DEADLINE
    try:
        with shared_client().stream(method, url, **kw) as r:
            body = b""
            for chunk in r.iter_raw():
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    body = body[:MAX_RESPONSE_BYTES]
                    break
                if time.monotonic() > deadline:
                    raise Retryable(_("The response took too long."))
            resp = Response(r.status_code, r.headers, body)
    except (Permanent, Retryable):
        raise
    except httpx.TimeoutException as e:
        raise Retryable(_("Timed out: %(e)s") % {"e": type(e).__name__}) from e
    except httpx.HTTPError as e:
        raise Retryable(_("Network error: %(e)s") % {"e": str(e) or type(e).__name__}) from e
    status = resp.status_code
    if not check and not 300 <= status < 400:
        return resp
    if status in (408, 429) or status >= 500:
        raise Retryable(f"HTTP {status}: {resp.text[:200]}",
                        retry_after=retry_after_seconds(resp.headers.get("retry-after")))
    if 300 <= status < 400:
        raise Permanent(_("HTTP %(s)d redirect (not followed).") % {"s": status})
    if status >= 400:
        raise Permanent(f"HTTP {status}: {resp.text[:200]}")
    return resp


# ---- config validation helpers ---------------------------------------------------------------

def require(config: dict, fields: list, problems: list) -> dict:
    """Keep only known fields; required strings must be non-blank."""
    clean = {}
    known = {f[0] for f in fields}
    for k in sorted(set(config) - known):
        problems.append(FieldProblem(f"config.{k}", _("Unknown setting."), "unknown"))
    for name, _label, required, _secret in fields:
        v = config.get(name)
        if isinstance(v, str):
            v = v.strip()
        if v in (None, ""):
            if required:
                problems.append(FieldProblem(f"config.{name}", _("This field is required."), "required"))
            continue
        clean[name] = v
    return clean


def check_url(problems: list, name: str, url: str | None, *, hosts: tuple = ()) -> None:
    if not url:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(FieldProblem(f"config.{name}", _("An http(s) URL."), "invalid"))
        return
    if parts.username or parts.password:
        problems.append(FieldProblem(f"config.{name}", _("No credentials in the URL."), "invalid"))
        return
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        ipaddress.ip_address(host)
        try:
            check_ip(host, port)
        except Refused as e:
            problems.append(FieldProblem(f"config.{name}", str(e), "private_address"))
    except ValueError:
        if host in ("localhost",) and not allow_private() and not _allowed(ipaddress.ip_address("127.0.0.1"), port):
            problems.append(FieldProblem(f"config.{name}", _("Refused: a loopback host."), "private_address"))


def done(problems: list, clean: dict) -> dict:
    if problems:
        raise ValidationFailed(problems)
    return clean
