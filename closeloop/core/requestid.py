"""One id per HTTP request, for correlating what a request did: audit records, and the
timeline events, outbox rows and deliveries it causes (their `request_id` column defaults to
`current()`), and the log lines of the worker that handles them (it `bind`s the outbox row's id
while it works on it; core.logs puts the id on every log record).

`RequestIdMiddleware` takes the caller's `X-Request-ID` when it looks like an id
(1-64 characters of letters, digits, `-`, `_`, `.`; a proxy in front usually sets it),
else makes one (32 random hex digits), and returns it in the response's `X-Request-ID`. Code running inside
the request reads it with `current()`; outside a request (worker, command line) it
is "". Used by closeloop.audit.services.record_change.
"""

import os
import re
from contextlib import contextmanager
from contextvars import ContextVar

_current: ContextVar[str] = ContextVar("closeloop_request_id", default="")
_VALID = re.compile(r"^[A-Za-z0-9._-]{1,64}\Z")
HEADER = "X-Request-ID"


def current() -> str:
    return _current.get()


@contextmanager
def bind(rid: str):
    """Work done inside carries `rid` (the worker, handling what a request caused)."""
    token = _current.set(rid or "")
    try:
        yield
    finally:
        _current.reset(token)


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get(HEADER, "")
        rid = given if _VALID.match(given) else os.urandom(16).hex()  # uuid4().hex costs 5x more
        request.request_id = rid
        token = _current.set(rid)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response[HEADER] = rid
        return response
