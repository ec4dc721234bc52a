"""The edges of every request, checked once before any view runs (docs/api.md, "Limits").

`EdgeMiddleware` sits after the locale is chosen and before CSRF, sessions' users and
views read anything. It answers with problem+json instead of letting a malformed or
hostile request reach code that would fail with a 500:

- a NUL character in the path, a query parameter (name or value), a form field or an
  uploaded file's name, or anywhere in a JSON body → 422 naming where (PostgreSQL cannot
  store NUL in text and SQLite would keep it);
- a body larger than the limits → 413 (`DATA_UPLOAD_MAX_MEMORY_SIZE` for JSON and form
  fields, `MAX_REQUEST_BYTES` for a whole upload, checked from Content-Length before
  anything is read);
- a multipart body without a boundary or with unreadable parts → 400; too many fields or
  files → 413; a file name longer than `MAX_FILE_NAME_LENGTH` → 422 naming the field;
- an API write whose body is not `application/json` (or `multipart/form-data` for the
  upload operations) → 415.

A multipart body is parsed here (as CSRF would do next for a console page), so every
limit is met in one place; an API operation that takes JSON and gets multipart anyway
answers 415 from the API's own handler (`core.apikit`).

`DatabaseUnavailable` answers 503 with Retry-After when the database connection is lost or
the database refuses to serve (`database_unavailable_response`); the API's exception
handler and the 500 handler use it too.
"""

import json
import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.files.uploadhandler import FileUploadHandler
from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.http import HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.http.request import RawPostDataException
from django.utils.translation import gettext as _

from .problems import problem_response

log = logging.getLogger("closeloop.edges")

BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
JSON = "application/json"
MULTIPART = "multipart/form-data"
FORM = "application/x-www-form-urlencoded"


def _nul_problem(where: str, field: str) -> HttpResponse:
    return problem_response(
        422, _("NUL characters are not allowed"),
        _("%(where)s contains a NUL character (\\u0000), which no text may contain.") % {"where": field},
        code="nul_character", errors=[{"field": field, "message": _("Contains a NUL character."), "code": "nul",
                                       "in": where}])


def too_large(limit: int, what: str) -> HttpResponse:
    return problem_response(
        413, _("Request body too large"),
        _("The %(what)s may be at most %(n)s bytes.") % {"what": what, "n": f"{limit:,}"},
        code="body_too_large", limit=limit)


def unsupported_media_type(given: str, accepted: list[str]) -> HttpResponse:
    resp = problem_response(
        415, _("Unsupported media type"),
        _("Send the body as %(accepted)s (got %(given)s).") % {"accepted": " or ".join(accepted),
                                                               "given": given or _("no Content-Type")},
        code="unsupported_media_type", accepted=accepted)
    resp["Accept-Post"] = ", ".join(accepted)
    return resp


def body_error_response(exc: Exception) -> HttpResponse | None:
    """The problem+json answer for an error Django raised while reading a request body,
    or None for anything else. Shared by the middleware and the API's handlers."""
    if isinstance(exc, RequestDataTooBig):
        return too_large(settings.DATA_UPLOAD_MAX_MEMORY_SIZE, _("request body (without files)"))
    if isinstance(exc, TooManyFieldsSent):
        return problem_response(413, _("Too many fields"),
                                _("A request may carry at most %(n)d fields.") % {
                                    "n": settings.DATA_UPLOAD_MAX_NUMBER_FIELDS},
                                code="too_many_fields", limit=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS)
    if isinstance(exc, TooManyFilesSent):
        return problem_response(413, _("Too many files"),
                                _("A request may carry at most %(n)d files.") % {
                                    "n": settings.DATA_UPLOAD_MAX_NUMBER_FILES},
                                code="too_many_files", limit=settings.DATA_UPLOAD_MAX_NUMBER_FILES)
    if isinstance(exc, FileNameRefused):
        if exc.reason == "nul":
            return _nul_problem("form", exc.field)
        n = settings.MAX_FILE_NAME_LENGTH
        return problem_response(422, _("File name too long"), _("A file name may have at most %(n)d characters.")
                                % {"n": n}, code="validation", errors=[{"field": exc.field, "message": _(
                                    "The file name is longer than %(n)d characters.") % {"n": n}, "code": "too_long"}])
    if isinstance(exc, MultiPartParserError):
        text = str(exc)
        if "boundary" in text.lower():
            detail = _("A multipart/form-data body needs a valid boundary in its Content-Type header.")
            code = "multipart_boundary"
        elif "header size" in text.lower():
            detail = _("A part's headers are too long; a file name may have at most %(n)d characters.") % {
                "n": settings.MAX_FILE_NAME_LENGTH}
            code = "multipart_headers_too_long"
        else:
            detail = _("The multipart/form-data body could not be read.")
            code = "multipart_invalid"
        return problem_response(400, _("Malformed multipart body"), detail, code=code)
    if isinstance(exc, RawPostDataException):
        # A multipart body sent to an operation that reads JSON.
        return unsupported_media_type(MULTIPART, [JSON])
    return None


class FileNameRefused(MultiPartParserError):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{reason}: {field}")
        self.field, self.reason = field, reason


class FileNameLimitHandler(FileUploadHandler):
    """First of FILE_UPLOAD_HANDLERS: sees each file's name as sent (Django cuts names to
    255 characters afterwards) and refuses one too long or with a NUL; passes data on."""

    def new_file(self, field_name, file_name, *args, **kwargs):
        if "\x00" in (file_name or ""):
            raise FileNameRefused(field_name, "nul")
        if len(file_name or "") > settings.MAX_FILE_NAME_LENGTH:
            raise FileNameRefused(field_name, "too_long")

    def receive_data_chunk(self, raw_data, start):
        return raw_data

    def file_complete(self, file_size):
        return None


def _content_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _find_nul_in_json(value, path: str = "") -> str | None:
    if isinstance(value, str):
        return path or "body" if "\x00" in value else None
    if isinstance(value, dict):
        for k, v in value.items():
            sub = f"{path}.{k}" if path else str(k)
            if "\x00" in str(k):
                return sub
            found = _find_nul_in_json(v, sub)
            if found:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = _find_nul_in_json(v, f"{path}[{i}]")
            if found:
                return found
    return None


def _check_pairs(lists, where: str) -> HttpResponse | None:
    for name, values in lists:
        if "\x00" in name:
            return _nul_problem(where, name.replace("\x00", "\\u0000"))
        for v in values:
            if isinstance(v, str) and "\x00" in v:
                return _nul_problem(where, name)
    return None


class EdgeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            problem = self.check(request)
        except (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent, MultiPartParserError) as exc:
            problem = body_error_response(exc)
        if problem is not None:
            return problem
        response = self.get_response(request)
        limit = getattr(request, "rate_limit", None)  # set by accounts.auth for a bearer token
        if limit is not None:
            for h, v in limit.headers().items():
                response.headers.setdefault(h, v)
        return response

    def process_exception(self, request, exc):
        """A view (console or API) that fails because the database went away, or reads a
        body it cannot: a clear answer instead of a 500."""
        return database_unavailable_response(exc, request) or body_error_response(exc)

    def check(self, request) -> HttpResponse | None:
        if "\x00" in request.path_info:
            return _nul_problem("path", "path")
        problem = _check_pairs(request.GET.lists(), "query")
        if problem or request.method not in BODY_METHODS:
            return problem
        length = _content_length(request)
        chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        if length <= 0 and not chunked:
            return None
        ctype = request.content_type or ""
        api = request.path_info.startswith("/api/")
        if api and ctype not in (JSON, MULTIPART):
            return unsupported_media_type(ctype, [JSON, MULTIPART])
        if ctype == MULTIPART:
            if length > settings.MAX_REQUEST_BYTES:
                return too_large(settings.MAX_REQUEST_BYTES, _("whole request"))
            if request.method != "POST":
                return None
            request.POST  # noqa: B018 - parse now, where every error has its answer
            problem = _check_pairs(request.POST.lists(), "form")
            if problem:
                return problem
            return None  # file names were checked as they arrived (FileNameLimitHandler)
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return too_large(settings.DATA_UPLOAD_MAX_MEMORY_SIZE, _("request body"))
        body = request.body
        if ctype == JSON:
            # A NUL can only be in JSON text as the escape \u0000: look before parsing.
            if b"\\u0000" in body:
                try:
                    data = json.loads(body)
                except ValueError:
                    return None  # the API's parser answers malformed JSON
                where = _find_nul_in_json(data)
                if where:
                    return _nul_problem("body", where)
            return None
        if ctype == FORM and request.method == "POST":
            return _check_pairs(request.POST.lists(), "form")
        return None


# --- the database went away --------------------------------------------------------

DB_ERRORS = (OperationalError, InterfaceError)


def _is_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, DB_ERRORS):
        return True
    # psycopg's own errors when Django did not wrap them (e.g. raised while closing)
    mod = type(exc).__module__ or ""
    return mod.startswith("psycopg") and type(exc).__name__ in ("OperationalError", "InterfaceError")


def database_unavailable_response(exc: BaseException | None, request=None) -> HttpResponse | None:
    """503 + Retry-After when `exc` says the database is unreachable, the connection was
    lost, or it refused to serve (locked, too many connections, shutting down). The
    broken connection is closed so the next request opens a new one."""
    if exc is None or not (_is_unavailable(exc) or isinstance(exc.__cause__, DB_ERRORS)):
        return None
    log.warning("database unavailable: %s", str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc))
    for conn in connections.all(initialized_only=True):
        try:
            if conn.connection is not None and not conn.is_usable():
                conn.close()
        except DatabaseError:
            pass
    retry = settings.DB_UNAVAILABLE_RETRY_AFTER
    if request is not None and not request.path_info.startswith("/api/") and "text/html" in request.headers.get(
            "Accept", ""):
        from django.template import loader

        # A person's page: a page (without the database or the context processors), not JSON.
        resp = HttpResponse(loader.get_template("503.html").render({"retry_after": retry}), status=503)
        resp["Retry-After"] = str(retry)
        return resp
    resp = problem_response(503, _("Database unavailable"),
                            _("The database could not be reached or the connection was lost. Try again in %(n)d "
                              "seconds; send a write again with the same Idempotency-Key, so that it is done "
                              "once.")
                            % {"n": retry}, code="database_unavailable")
    resp["Retry-After"] = str(retry)
    return resp



def server_error(request):
    """handler500: a failure outside a view (a middleware's query, the idempotency record)
    that is really the database going away, or an unreadable body, gets its own answer."""
    import sys

    from django.views import defaults

    exc = sys.exc_info()[1]
    if exc is not None:
        resp = database_unavailable_response(exc, request) or body_error_response(exc)
        if resp is not None:
            return resp
    return defaults.server_error(request)
