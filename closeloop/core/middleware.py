"""Idempotency-Key handling for API writes.

Placed after authentication so the key is scoped to the caller: the same key from
two tokens are two keys. A replay of the same key and body returns the stored
first response (with `Idempotent-Replayed: true`); the same key with a different
body is a 422; a retry that arrives while the first is still running is a 409.
Server errors are not stored, so a client can retry after one.

The request runs in one transaction with the record of its response, so a create that
committed is always found again by its key (a retry after a lost connection replays it),
and one that did not commit left nothing behind (a 5xx rolls the whole request back). A
record left pending by a process that died is taken over by a retry after
`IDEMPOTENCY_LEASE_SECONDS`.
"""

import hashlib
import os
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, IntegrityError, transaction
from django.http import HttpResponse
from django.middleware.csp import ContentSecurityPolicyMiddleware as _DjangoCSP
from django.utils.csp import CSP, build_policy
from whitenoise.middleware import WhiteNoiseMiddleware

from .clock import now
from .models import IdempotencyRecord
from .problems import problem_response

HEADER = "HTTP_IDEMPOTENCY_KEY"
MAX_KEY = 200


def _scope(request) -> str | None:
    auth = request.META.get("HTTP_AUTHORIZATION", "")
    if auth.lower().startswith("bearer "):
        return hashlib.sha256(auth[7:].strip().encode()).hexdigest()
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return hashlib.sha256(f"user:{user.pk}".encode()).hexdigest()
    return None


def _request_hash(request) -> str:
    """What a retry must repeat: method, path and body. A multipart body (photos) is
    hashed from its parsed fields and files, read in chunks from where Django spooled
    them, so uploads above DATA_UPLOAD_MAX_MEMORY_SIZE are never read into memory."""
    h = hashlib.sha256(request.method.encode() + request.path.encode() + b"\0")
    if request.content_type == "multipart/form-data":
        for name, values in sorted(request.POST.lists()):
            for v in values:
                h.update(b"f\0" + name.encode() + b"\0" + v.encode() + b"\0")
        for name, files in sorted(request.FILES.lists()):
            for f in files:
                h.update(b"u\0" + name.encode() + b"\0" + (f.name or "").encode() + b"\0")
                for chunk in f.chunks():
                    h.update(chunk)
                f.seek(0)
    else:
        h.update(request.body)
    return h.hexdigest()


class IdempotencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        key = request.META.get(HEADER)
        if key is None or request.method != "POST" or not request.path.startswith("/api/"):
            return self.get_response(request)
        if not key or len(key) > MAX_KEY:
            return problem_response(422, "Invalid Idempotency-Key",
                                    f"The Idempotency-Key header must be 1 to {MAX_KEY} characters.",
                                    errors=[{"field": "Idempotency-Key", "message": "1 to 200 characters",
                                             "code": "invalid"}])
        scope = _scope(request)
        if scope is None:  # unauthenticated: let the API answer 401 as usual
            return self.get_response(request)
        try:
            body_hash = _request_hash(request)
        except RequestDataTooBig:  # too large for a JSON body: the API answers it as usual
            return self.get_response(request)
        self._purge_expired()
        for attempt in (1, 2):
            try:
                with transaction.atomic():
                    IdempotencyRecord.objects.create(scope=scope, key=key, method=request.method, path=request.path,
                                                     request_hash=body_hash, created_at=now())
                break
            except IntegrityError:
                rec = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
                if rec is None:  # expired between the insert and the read
                    return self.get_response(request)
                abandoned = now() - timedelta(seconds=settings.IDEMPOTENCY_LEASE_SECONDS)
                if attempt == 1 and not rec.completed and rec.created_at < abandoned and rec.request_hash == body_hash:
                    # Its process died (or lost the database) before finishing: nothing of it committed.
                    IdempotencyRecord.objects.filter(pk=rec.pk, completed=False).delete()
                    continue
                return self._replay(rec, body_hash)
        try:
            with transaction.atomic():
                response = self.get_response(request)
                if response.status_code >= 500:
                    transaction.set_rollback(True)  # nothing half-written
                elif not getattr(response, "streaming", False):
                    headers = {h: response[h] for h in ("Location", "ETag") if h in response}
                    IdempotencyRecord.objects.filter(scope=scope, key=key).update(
                        completed=True, status_code=response.status_code,
                        content_type=response.get("Content-Type", ""), response_body=response.content,
                        response_headers=headers)
        except Exception:
            self._forget(scope, key)
            raise
        if response.status_code >= 500 or getattr(response, "streaming", False):
            self._forget(scope, key)
        return response

    @staticmethod
    def _forget(scope, key):
        """Drop a pending record so a retry runs again; if the database is gone, the lease
        lets a retry take the record over later."""
        try:
            IdempotencyRecord.objects.filter(scope=scope, key=key, completed=False).delete()
        except DatabaseError:
            pass

    @staticmethod
    def _replay(rec, body_hash):
        if rec.request_hash != body_hash:
            return problem_response(422, "Idempotency-Key reused",
                                    "This Idempotency-Key was used with a different request.",
                                    errors=[{"field": "Idempotency-Key", "message": "used with another body",
                                             "code": "reused"}])
        if not rec.completed:
            return problem_response(409, "Request in progress",
                                    "A request with this Idempotency-Key is still being processed.")
        resp = HttpResponse(bytes(rec.response_body or b""), status=rec.status_code,
                            content_type=rec.content_type or None)
        for h, v in (rec.response_headers or {}).items():
            resp[h] = v
        resp["Idempotent-Replayed"] = "true"
        return resp

    _last_purge = None

    def _purge_expired(self):
        t = now()
        if self._last_purge and (t - self._last_purge).total_seconds() < 300:
            return
        IdempotencyMiddleware._last_purge = t
        IdempotencyRecord.objects.filter(created_at__lt=t - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)).delete()


class UserTimezoneMiddleware:
    """Show times in the user's own zone (profile `time_zone`); stored times stay UTC."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        import zoneinfo

        from django.utils import timezone

        user = getattr(request, "user", None)
        tz_name = getattr(user, "time_zone", "") if user is not None and user.is_authenticated else ""
        if tz_name:
            try:
                timezone.activate(zoneinfo.ZoneInfo(tz_name))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            # The zone is this request's: nothing after it in the same thread (the next request,
            # a test, a worker step) may inherit it.
            timezone.deactivate()


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, serving the collected files; it scans STATIC_ROOT once per process.

    WhiteNoise stats every collected file (and its compressed variants) when the middleware
    is built. A web process builds it once, but every test client builds it again, so the
    scan is kept per (root, prefix, manifest mtime): a new `collectstatic` is seen anew.
    """

    _scans: dict = {}

    def update_files_dictionary(self, root, prefix):
        manifest = os.path.join(root, "staticfiles.json")
        key = (root, prefix, os.path.getmtime(manifest) if os.path.exists(manifest) else None)
        scanned = self._scans.get(key)
        if scanned is None:
            before = set(self.files)
            super().update_files_dictionary(root, prefix)
            scanned = self._scans[key] = {url: f for url, f in self.files.items() if url not in before}
        self.files.update(scanned)


# ---- the bearer-token API path ------------------------------------------------------------------
# A request to /api/ with `Authorization: Bearer …` and no session cookie never uses a session,
# messages or htmx. (CsrfViewMiddleware stays as it is: `check --deploy` looks for it by name,
# and for API views, which are csrf_exempt, it does next to nothing.) The wrappers below step around those middlewares for it
# (bench/: ~0.4 ms per request) and run them for everything else. A request with a session
# cookie (the console's own JS calling the API) takes the full path, so cookie authentication
# and its CSRF check are unchanged.

def is_bearer_api(request) -> bool:
    v = getattr(request, "_closeloop_bearer_api", None)
    if v is None:
        v = request._closeloop_bearer_api = (
            request.path_info.startswith("/api/")
            and request.META.get("HTTP_AUTHORIZATION", "")[:7].lower() == "bearer "
            and settings.SESSION_COOKIE_NAME not in request.COOKIES)
    return v


class _UnlessBearerAPI:
    inner_path = ""

    def __init__(self, get_response):
        from django.utils.module_loading import import_string

        self.get_response = get_response
        self.inner = import_string(self.inner_path)(get_response)
        # Django collects these hooks from the instance: expose the inner middleware's, guarded.
        for name in ("process_view", "process_exception", "process_template_response"):
            fn = getattr(self.inner, name, None)
            if fn is not None:
                setattr(self, name, self._guard(name, fn))

    @staticmethod
    def _guard(name, fn):
        if name == "process_template_response":
            return lambda request, response: response if is_bearer_api(request) else fn(request, response)
        return lambda request, *args: None if is_bearer_api(request) else fn(request, *args)

    def __call__(self, request):
        if is_bearer_api(request):
            return self.bearer(request)
        return self.inner(request)

    def bearer(self, request):
        return self.get_response(request)


class SessionUnlessBearerAPI(_UnlessBearerAPI):
    inner_path = "django.contrib.sessions.middleware.SessionMiddleware"

    def bearer(self, request):
        from django.utils.cache import patch_vary_headers

        response = self.get_response(request)
        # As on the full path, where reading request.user (timezone middleware) touches the
        # session: the same Vary header, whichever path answered.
        patch_vary_headers(response, ("Cookie",))
        return response


class AuthenticationUnlessBearerAPI(_UnlessBearerAPI):
    inner_path = "django.contrib.auth.middleware.AuthenticationMiddleware"

    def bearer(self, request):
        from django.contrib.auth.models import AnonymousUser

        request.user = AnonymousUser()  # until the API's bearer authentication sets the caller
        return self.get_response(request)


class MessagesUnlessBearerAPI(_UnlessBearerAPI):
    inner_path = "django.contrib.messages.middleware.MessageMiddleware"


class HtmxUnlessBearerAPI(_UnlessBearerAPI):
    inner_path = "django_htmx.middleware.HtmxMiddleware"


class ContentSecurityPolicyMiddleware(_DjangoCSP):
    """Django's CSP middleware, its header built once per policy when the response used no nonce.

    Django builds the header from `SECURE_CSP` on every response (~50 µs, a twentieth of an API get).
    Without a nonce (every API answer, and any page that rendered no script or style tag) the
    header is the same string each time, so it is kept beside the config it came from (the same
    object: `override_settings` gives a new one); with a nonce it is built as Django does.
    """

    _built: dict = {}

    def process_response(self, request, response):
        nonce = getattr(request, "_csp_nonce", None)
        if nonce:  # generated for this response: Django builds the header with it
            return super().process_response(request, response)
        for header, config in ((CSP.HEADER_ENFORCE, getattr(response, "_csp_config", settings.SECURE_CSP)),
                               (CSP.HEADER_REPORT_ONLY,
                                getattr(response, "_csp_ro_config", settings.SECURE_CSP_REPORT_ONLY))):
            if config and header not in response:
                built = self._built.get(header)
                if built is None or built[0] is not config:
                    built = self._built[header] = (config, build_policy(config, None))
                response.headers[str(header)] = built[1]
        return response
