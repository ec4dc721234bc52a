"""Bearer-token API requests step around the session, authentication, messages and htmx
middleware (core.middleware.*UnlessBearerAPI). The answers must be exactly those of the full
stack: same status, headers and body, for reads, writes, refusals and bad tokens; and a
request carrying a session cookie still takes the full path (cookie auth with its CSRF check)."""

import json

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client, override_settings

from closeloop.accounts.services import do_create_token
from closeloop.workorders.tests.factories import make_wo

FULL_STACK = [
    m.replace("closeloop.core.middleware.SessionUnlessBearerAPI", "django.contrib.sessions.middleware.SessionMiddleware")
    .replace("closeloop.core.middleware.AuthenticationUnlessBearerAPI",
             "django.contrib.auth.middleware.AuthenticationMiddleware")
    .replace("closeloop.core.middleware.MessagesUnlessBearerAPI", "django.contrib.messages.middleware.MessageMiddleware")
    .replace("closeloop.core.middleware.HtmxUnlessBearerAPI", "django_htmx.middleware.HtmxMiddleware")
    for m in settings.MIDDLEWARE
]
IGNORED_HEADERS = {"X-Request-ID", "Date"}
CLOCK_HEADERS = {"RateLimit-Reset", "Retry-After"}  # seconds to the window's end: present on both, value by the clock


def _answer(method, path, token, body=None, **headers):
    c = Client()
    kw = {"headers": {"Authorization": f"Bearer {token}", "Accept-Language": "zh-hans", **headers}}
    if body is not None:
        kw.update(data=json.dumps(body), content_type="application/json")
    r = getattr(c, method)(path, **kw)
    return r.status_code, {k: "*" if k in CLOCK_HEADERS else v for k, v in r.headers.items()
                           if k not in IGNORED_HEADERS}, r.content


@pytest.mark.parametrize("method,path,body", [
    ("get", "/api/v1/me", None),
    ("get", "/api/v1/work-orders?status=new", None),
    ("get", "/api/v1/work-orders/{code}", None),
    ("get", "/api/v1/work-orders/{code}/timeline", None),
    ("get", "/api/v1/work-orders/NOPE-1", None),
    ("get", "/api/v1/work-orders?status=nonsense", None),
    ("post", "/api/v1/work-orders", {"type": "repair"}),  # 422 naming the fields, nothing written
    ("post", "/api/v1/work-orders/{code}/actions/fly", {}),
    ("post", "/api/v1/work-order-types", {"key": "x"}),  # 403 for a dispatcher
    ("get", "/api/v1/audit", None),
])
@pytest.mark.parametrize("token_kind", ["valid", "bad"])
def test_same_answer_as_the_full_stack(world, method, path, body, token_kind):
    path = path.replace("{code}", make_wo(world).code)
    def token():
        # Each stack its own token and empty rate-limit counters: the RateLimit-* headers count.
        cache.clear()
        return do_create_token(user=world.dispatcher)[1] if token_kind == "valid" else "cl_not-a-token"

    fast = _answer(method, path, token(), body)
    with override_settings(MIDDLEWARE=FULL_STACK):
        full = _answer(method, path, token(), body)
    assert fast == full


def test_a_session_cookie_takes_the_full_path(world):
    c = Client(enforce_csrf_checks=True)
    c.force_login(world.dispatcher)
    # Cookie-authenticated write without a CSRF token: refused, bearer header or not.
    r = c.post("/api/v1/work-orders", json.dumps({"type": "repair"}), content_type="application/json",
               headers={"Authorization": "Bearer cl_not-a-token"})
    assert r.status_code == 403
    assert c.get("/api/v1/me").json()["username"] == "dispatcher"
