"""On an empty installation every page leads to the first-run form (administration:first_run)."""

from django.conf import settings
from django.shortcuts import redirect

from . import selectors

# Paths that keep working before the first run: the form itself, static files, the API (it answers
# 401 in JSON, not a redirect), the health check and the language switch.
EXEMPT_PREFIXES = ("/setup/", "/static/", "/api/", "/healthz", "/livez", "/readyz", "/metrics", "/i18n/", "/favicon")

# Once a user exists the installation never goes back to empty in this process: remember it and
# skip the query on every later request. Tests reset it (administration.tests).
_installed = False


def reset() -> None:
    global _installed
    _installed = False


class FirstRunMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        global _installed
        if (_installed or not getattr(settings, "CLOSELOOP_FIRST_RUN_REDIRECT", True)
                or request.path.startswith(EXEMPT_PREFIXES)):
            return self.get_response(request)
        if selectors.needs_first_run():
            return redirect("administration:first_run")
        _installed = True
        return self.get_response(request)
