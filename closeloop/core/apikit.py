"""Shared pieces of the REST API: authentication, scopes, problem+json errors,
If-Match parsing, cursor pages. Used by every domain's api.py."""

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyCookie, HttpBearer
from pydantic import ConfigDict

from closeloop.accounts.models import Role, Scope
from closeloop.accounts.services import authenticate_token

from .errors import DomainError, FieldProblem, PreconditionFailed
from .problems import problem_body, problem_response

QUERY_TOKEN_PARAMS = ("access_token", "token", "api_key", "apikey", "key")


class StrictSchema(Schema):
    """Input schema: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


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


def require_scope(request, scope: str) -> None:
    if scope not in getattr(request, "api_scopes", set()):
        raise DomainError(_("This token lacks the %(s)s scope.") % {"s": scope}, 403, "insufficient_scope")


def require_role(request, *roles: str) -> None:
    user = request.auth
    if not (user.is_superuser or user.role in roles):
        raise DomainError(_("Your role may not do this."), 403, "forbidden")


def parse_if_match(request) -> int | None:
    raw = request.headers.get("If-Match")
    if raw is None:
        return None
    raw = raw.strip()
    if raw.startswith("W/"):
        raw = raw[2:]
    raw = raw.strip('"')
    if raw.startswith("v") and raw[1:].isdigit():
        return int(raw[1:])
    raise PreconditionFailed(_("If-Match must be an ETag this API gave out, like \"v3\"."))


def _field_name(loc) -> str:
    parts = [str(p) for p in loc if p not in ("body", "payload", "query", "path", "form", "file", "filters")]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or "body"


def install_handlers(api) -> None:
    @api.exception_handler(DomainError)
    def domain_error(request, exc: DomainError):
        body = problem_body(exc.status, str(exc.message), code=exc.code,
                            errors=[p.as_dict() for p in exc.problems] or None, **exc.extra)
        resp = api.create_response(request, body, status=exc.status)
        resp["Content-Type"] = "application/problem+json"
        return resp

    @api.exception_handler(NinjaValidationError)
    def validation_error(request, exc: NinjaValidationError):
        problems = []
        for err in exc.errors:
            msg = err.get("msg", "invalid")
            if err.get("type") == "extra_forbidden":
                msg = "Unknown field."
            problems.append(FieldProblem(_field_name(err.get("loc", ())), msg, err.get("type", "invalid")).as_dict())
        body = problem_body(422, "Invalid input", "; ".join(f"{p['field']}: {p['message']}" for p in problems),
                            code="validation", errors=problems)
        resp = api.create_response(request, body, status=422)
        resp["Content-Type"] = "application/problem+json"
        return resp

    @api.exception_handler(AuthenticationError)
    def auth_error(request, exc):
        resp = problem_response(401, "Not authenticated", "Send Authorization: Bearer <token>.", code="unauthorized")
        resp["WWW-Authenticate"] = 'Bearer realm="closeloop"'
        return resp

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        return problem_response(exc.status_code, str(exc), code=str(exc.status_code))
