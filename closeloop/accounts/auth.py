"""Who is calling the API: a bearer token (hashed, scoped) or the console's own session.

`AUTH` is what the NinjaAPI (closeloop/api.py) authenticates with; each leaves the
caller's scopes in `request.api_scopes`, which `core.apikit.require_scope` checks.
"""

from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import APIKeyCookie, HttpBearer

from .models import Role, Scope
from .services import authenticate_token

QUERY_TOKEN_PARAMS = ("access_token", "token", "api_key", "apikey", "key")


class QueryStringToken(HttpError):
    pass


def _refuse_query_tokens(request: HttpRequest) -> None:
    if any(p in request.GET for p in QUERY_TOKEN_PARAMS):
        raise QueryStringToken(400, "Tokens are never accepted in the query string; "
                                    "send Authorization: Bearer <token>.")


class BearerToken(HttpBearer):
    def authenticate(self, request, token):
        _refuse_query_tokens(request)
        found = authenticate_token(token)
        if found is None:
            return None
        user, api_token = found
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
