"""Who is calling the API: a bearer token (hashed, scoped) or the console's own session.

`AUTH` is what the NinjaAPI (closeloop/api.py) authenticates with; each leaves the
caller's scopes in `request.api_scopes`, which `core.apikit.require_scope` checks.
"""

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.errors import HttpError
from ninja.security import APIKeyCookie, HttpBearer

from closeloop.core import ratelimit

from .models import Role, Scope
from .services import authenticate_token

QUERY_TOKEN_PARAMS = ("access_token", "token", "api_key", "apikey", "key")


class QueryStringToken(HttpError):
    pass


def _refuse_query_tokens(request: HttpRequest) -> None:
    if any(p in request.GET for p in QUERY_TOKEN_PARAMS):
        raise QueryStringToken(400, "Tokens are never accepted in the query string; "
                                    "send Authorization: Bearer <token>.")


def _organisation(user) -> str:
    """A customer's contacts share their organisation's limit; the company's own staff are one."""
    return f"customer:{user.customer_id}" if user.role == Role.CUSTOMER and user.customer_id else "staff"


def _limit_calls(request, user, api_token) -> None:
    """Per token, then per organisation (settings.API_RATE_LIMIT_*): 429 with Retry-After when
    over; the tightest window's RateLimit-* headers go on every answer (core.edges)."""
    tightest = None
    for bucket, rate_text, what in ((f"token:{api_token.pk}", settings.API_RATE_LIMIT_PER_TOKEN, _("this token")),
                                    (f"org:{_organisation(user)}", settings.API_RATE_LIMIT_PER_ORG,
                                     _("your organisation"))):
        rate = ratelimit.parse_rate(rate_text)
        if rate is None:
            continue
        decision = ratelimit.hit(bucket, rate)
        if not decision.allowed:
            raise ratelimit.RateLimited(
                _("Too many requests for %(what)s: at most %(n)d in %(s)d seconds. Try again in %(r)d seconds.")
                % {"what": what, "n": decision.limit, "s": decision.window, "r": decision.reset}, decision)
        if tightest is None or decision.remaining < tightest.remaining:
            tightest = decision
    request.rate_limit = tightest


class BearerToken(HttpBearer):
    def authenticate(self, request, token):
        _refuse_query_tokens(request)
        bad_rate = ratelimit.parse_rate(settings.API_BAD_TOKEN_LIMIT)
        address = ratelimit.client_address(request)
        if bad_rate is not None:
            refused = ratelimit.over(f"badtoken:{address}", bad_rate)
            if refused is not None:
                raise ratelimit.RateLimited(
                    _("Too many requests with an invalid token from your address. Try again in %(r)d seconds.")
                    % {"r": refused.reset}, refused)
        found = authenticate_token(token)
        if found is None:
            if bad_rate is not None:
                ratelimit.hit(f"badtoken:{address}", bad_rate)
            return None
        user, api_token = found
        _limit_calls(request, user, api_token)
        request.user = user
        request.api_scopes = set(api_token.scopes)
        return user


class SessionCookie(APIKeyCookie):
    """The console's own session (with CSRF on writes), so JS islands can call the API."""

    param_name = "sessionid"

    def __init__(self):
        super().__init__(csrf=True)

    def authenticate(self, request, key):
        _refuse_query_tokens(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            request.api_scopes = {Scope.READ, Scope.WRITE} | ({Scope.ADMIN} if user.role == Role.ADMIN else set())
            return user
        return None


AUTH = [BearerToken(), SessionCookie()]
