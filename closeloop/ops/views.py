import hmac
import ipaddress

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from closeloop.core.problems import problem_response

from . import health


@never_cache
def livez(request):
    """The process is up and answers; nothing else is asked (no database)."""
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request):
    checks = health.readiness()
    failed = [c.name for c in checks if not c.ok]
    body = {"status": "fail" if failed else "ok", "failed": failed,
            "checks": {c.name: {"ok": c.ok, **c.detail} for c in checks}}
    return JsonResponse(body, status=503 if failed else 200)


def metrics_allowed(request) -> bool:
    """A scrape is allowed with `Authorization: Bearer <CLOSELOOP_METRICS_TOKEN>`, or from a
    peer address in CLOSELOOP_METRICS_ALLOW (networks) when the request did not come through a
    proxy (no X-Forwarded-For): a reverse proxy on the same host must not open it to everyone."""
    token = settings.METRICS_TOKEN
    auth = request.headers.get("Authorization", "")
    if token and auth.startswith("Bearer ") and hmac.compare_digest(auth[7:].strip().encode(), token.encode()):
        return True
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    try:
        peer = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(peer in net for net in settings.METRICS_ALLOW)


@never_cache
def metrics_view(request):
    from django.utils.translation import gettext as _

    if not metrics_allowed(request):
        return problem_response(403, _("Forbidden"), _("Metrics need the metrics token or an allowed network."))
    from . import metrics

    body, content_type = metrics.render()
    return HttpResponse(body, content_type=content_type)
