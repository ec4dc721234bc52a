"""Counts every request for /metrics: method, the matched route pattern (bounded: never the raw
path) and status, and how long it took. First in MIDDLEWARE, so it times all of them."""

import time

from . import metrics


class MetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        start = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = ("/" + match.route) if match is not None and match.route is not None else "(unmatched)"
        method = request.method if request.method in _METHODS else "OTHER"
        metrics.observe_request(method, route, response.status_code, time.perf_counter() - start)
        return response


_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
