"""Shared pieces of the REST API: scopes, problem+json errors, If-Match parsing, strict
input schemas. Used by every domain's api.py. Who the caller is (bearer token or console
session) is accounts.auth; core knows only the scopes it left on the request."""

import types
import typing
from decimal import Decimal
from functools import lru_cache

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import InterfaceError, OperationalError
from django.http.multipartparser import MultiPartParserError
from django.http.request import RawPostDataException
from django.utils.translation import gettext as _
from ninja import Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.renderers import JSONRenderer
from pydantic import ConfigDict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from . import edges
from .errors import DomainError, FieldProblem, PreconditionFailed
from .problems import problem_body, problem_response

_NUMBER_KINDS = {int: "int", float: "number", Decimal: "number", bool: "bool"}


@lru_cache(maxsize=512)
def _kinds(annotation) -> frozenset | None:
    """What JSON scalars a field of this annotation takes without coercion: a set of
    "int"/"number"/"bool"/"other", or None when the annotation leaves it to pydantic."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _kinds(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        out = set()
        for arg in typing.get_args(annotation):
            if arg is type(None):
                continue
            k = _kinds(arg)
            if k is None:
                return None
            out |= k
        return frozenset(out)
    if annotation in _NUMBER_KINDS:
        return frozenset({_NUMBER_KINDS[annotation]})
    return frozenset({"other"})


def _container(annotation):
    """(item annotation, "list"|"dict") for list[X] / dict[str, X] fields, else None."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _container(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        found = [c for c in (_container(a) for a in typing.get_args(annotation)) if c]
        return found[0] if len(found) == 1 else None
    if origin in (list, set, tuple, frozenset) and typing.get_args(annotation):
        return typing.get_args(annotation)[0], "list"
    if origin is dict and len(typing.get_args(annotation)) == 2:
        return typing.get_args(annotation)[1], "dict"
    return None


def _refuse_coercion(value, annotation) -> None:
    """A JSON string (or a number for a boolean, a boolean for a number) where the field
    takes a number or a boolean is an error, not something to convert."""
    kinds = _kinds(annotation)
    if kinds and "other" not in kinds and value is not None:
        if isinstance(value, bool):
            ok = "bool" in kinds
        elif isinstance(value, int):
            ok = "int" in kinds or "number" in kinds
        elif isinstance(value, float):
            ok = "number" in kinds
        else:
            ok = False
        if not ok:
            if kinds == {"bool"}:
                raise PydanticCustomError("bool_type", "Input should be true or false (JSON boolean)")
            if kinds == {"int"}:
                raise PydanticCustomError("int_type", "Input should be an integer (JSON number)")
            raise PydanticCustomError("number_type", "Input should be a JSON number")
        return
    inner = _container(annotation)
    if inner is None:
        return
    item, kind = inner
    if kind == "list" and isinstance(value, list):
        for v in value:
            _refuse_coercion(v, item)
    elif kind == "dict" and isinstance(value, dict):
        for v in value.values():
            _refuse_coercion(v, item)


class StrictSchema(Schema):
    """Input schema (JSON bodies): unknown fields are an error, not silently dropped, and
    values are never coerced (`"3"` for a number or `"true"` for a boolean is a 422)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_coercion(cls, value, info: ValidationInfo):
        field = cls.model_fields.get(info.field_name) if info.field_name else None
        if field is not None:
            _refuse_coercion(value, field.annotation)
        return value


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
        for h, v in getattr(exc, "headers", {}).items():  # RateLimited: Retry-After, RateLimit-*
            resp[h] = v
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

    def body_error(request, exc):
        return edges.body_error_response(exc)

    for exc_type in (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent, MultiPartParserError,
                     RawPostDataException):
        api.add_exception_handler(exc_type, body_error)

    def database_unavailable(request, exc):
        return edges.database_unavailable_response(exc)

    for exc_type in (OperationalError, InterfaceError):
        api.add_exception_handler(exc_type, database_unavailable)

_SHAPES: dict = {}


def shaped(schema, data: dict) -> dict:
    """`data` as ninja would dump it through the response `schema`: the schema's fields in its
    order, each absent one at its default. For hot read paths whose serializers already give
    the schema's types (no second validation of every item on the way out); a test proves the
    bytes equal to the validated ones (workorders/tests/test_representation.py)."""
    fields = _SHAPES.get(schema)
    if fields is None:
        fields = _SHAPES[schema] = [(name, f.get_default(call_default_factory=True))
                                    for name, f in schema.model_fields.items()]
    return {name: data[name] if name in data else default for name, default in fields}


class Utf8JSONRenderer(JSONRenderer):
    """The API's renderer (closeloop/api.py). Chinese text as itself, not \\uXXXX escapes
    (smaller, and readable in curl)."""

    json_dumps_params = {"ensure_ascii": False}


RENDERER = Utf8JSONRenderer()


def render(request, response, data, status: int = 200):
    """The HTTP response ninja would make of already-shaped `data`: the API's renderer into
    the handler's temporal response (its headers, ETag, Location, kept)."""
    response.status_code = status
    response.content = RENDERER.render(request, data, response_status=status)
    return response
