"""Shared pieces of the REST API: scopes, problem+json errors, If-Match parsing, strict
input schemas. Used by every domain's api.py. Who the caller is (bearer token or console
session) is accounts.auth; core knows only the scopes it left on the request."""

from django.utils.translation import gettext as _
from ninja import Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from pydantic import ConfigDict

from .errors import DomainError, FieldProblem, PreconditionFailed
from .problems import problem_body, problem_response


class StrictSchema(Schema):
    """Input schema: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


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
