"""API rate limits (core.ratelimit, accounts.auth): per token and per organisation with 429,
Retry-After and RateLimit headers; repeated bad bearer tokens from one client refused; the
client's address from X-Forwarded-For only when the connection comes from a trusted proxy."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client, RequestFactory

from closeloop.accounts.models import Role
from closeloop.core import ratelimit
from closeloop.core.clock import now

pytestmark = pytest.mark.django_db

LIST = "/api/v1/work-orders"


@pytest.fixture
def frozen():
    with time_machine.travel(now().replace(second=0, microsecond=0), tick=False) as t:
        yield t


def _get(token, **meta):
    return Client().get(LIST, headers={"Authorization": f"Bearer {token}"}, **meta)


def _limited(r, message_part=""):
    assert r.status_code == 429, (r.status_code, r.content[:300])
    assert r["Content-Type"] == "application/problem+json"
    body = r.json()
    assert body["type"].endswith("/rate_limited") and message_part in body["title"]
    assert int(r["Retry-After"]) > 0 and r["RateLimit-Remaining"] == "0"
    return body


def test_defaults_are_generous_settings_and_can_be_turned_off(settings):
    assert ratelimit.parse_rate(settings.API_RATE_LIMIT_PER_TOKEN)[0] >= 600
    assert ratelimit.parse_rate(settings.API_RATE_LIMIT_PER_ORG)[0] >= ratelimit.parse_rate(
        settings.API_RATE_LIMIT_PER_TOKEN)[0]
    assert ratelimit.parse_rate("0") is None and ratelimit.parse_rate("30/10") == (30, 10)


def test_per_token_limit_answers_429_with_retry_after_and_ratelimit_headers(world, settings, frozen):
    settings.API_RATE_LIMIT_PER_TOKEN = "3/60"
    token = world.api(world.dispatcher).token
    seen = []
    for _ in range(3):
        r = _get(token)
        assert r.status_code == 200
        seen.append(r["RateLimit-Remaining"])
        assert r["RateLimit-Limit"] == "3" and r["RateLimit-Policy"] == "3;w=60" and r["RateLimit-Reset"] == "60"
    assert seen == ["2", "1", "0"]
    body = _limited(_get(token))
    assert body["limit"] == 3 and body["window"] == 60
    # Another token of the same person has its own count.
    assert _get(world.api(world.dispatcher).token).status_code == 200
    frozen.shift(timedelta(seconds=61))
    assert _get(token).status_code == 200


def test_per_organisation_limit_covers_every_token_of_the_organisation(world, settings, frozen):
    settings.API_RATE_LIMIT_PER_TOKEN = "0"
    settings.API_RATE_LIMIT_PER_ORG = "3/60"
    second = world._user("cust_a2", Role.CUSTOMER, customer=world.org_a)
    a1, a2 = world.api(world.cust_a).token, world.api(second).token
    assert [_get(t).status_code for t in (a1, a2, a1)] == [200, 200, 200]
    _limited(_get(a2))
    assert _get(world.api(world.cust_b).token).status_code == 200  # another organisation
    assert _get(world.api(world.dispatcher).token).status_code == 200  # the company's own staff


def test_repeated_bad_tokens_from_one_client_are_refused_even_with_a_good_one(world, settings, frozen):
    settings.API_BAD_TOKEN_LIMIT = "3/300"
    good = world.api(world.dispatcher).token
    for i in range(3):
        assert _get(f"cl_wrong{i}", REMOTE_ADDR="198.51.100.7").status_code == 401
    _limited(_get("cl_wrong9", REMOTE_ADDR="198.51.100.7"), "")
    _limited(_get(good, REMOTE_ADDR="198.51.100.7"))
    assert _get(good, REMOTE_ADDR="198.51.100.8").status_code == 200  # another client
    frozen.shift(timedelta(seconds=301))
    assert _get(good, REMOTE_ADDR="198.51.100.7").status_code == 200


def test_behind_a_trusted_proxy_each_client_keeps_its_own_count(world, settings, frozen):
    settings.API_BAD_TOKEN_LIMIT = "2/300"
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    good = world.api(world.dispatcher).token
    via_proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for _ in range(2):
        assert _get("cl_bad", HTTP_X_FORWARDED_FOR="203.0.113.5", **via_proxy).status_code == 401
    _limited(_get(good, HTTP_X_FORWARDED_FOR="203.0.113.5", **via_proxy))
    # Another client through the same proxy is not locked out ...
    assert _get(good, HTTP_X_FORWARDED_FOR="203.0.113.6", **via_proxy).status_code == 200
    # ... nor can the locked-out one escape by prepending an address of its choosing.
    _limited(_get(good, HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.5", **via_proxy))


def test_x_forwarded_for_is_ignored_from_an_untrusted_peer(settings):
    rf = RequestFactory()
    settings.TRUSTED_PROXIES = []
    req = rf.get("/", REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR="203.0.113.5")
    assert ratelimit.client_address(req) == "198.51.100.9"
    settings.TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]
    assert ratelimit.client_address(req) == "198.51.100.9"  # the peer is not a trusted proxy
    chain = rf.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.5, 10.1.2.3")
    assert ratelimit.client_address(chain) == "203.0.113.5"  # rightmost untrusted hop
    junk = rf.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="not-an-ip")
    assert ratelimit.client_address(junk) == "127.0.0.1"
    v6 = rf.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="[2001:db8::1]:4711")
    assert ratelimit.client_address(v6) == "2001:db8::1"


def test_login_lockout_behind_a_trusted_proxy_is_per_client(world, settings):
    """An address that failed too often is locked; another client behind the same proxy is not."""
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for i in range(settings.LOGIN_MAX_FAILURES * 4):
        Client().post("/login/", {"username": f"nobody{i}", "password": "wrong"}, HTTP_X_FORWARDED_FOR="203.0.113.5",
                      **proxy)
    good = {"username": "dispatcher", "password": "pw-dispatcher-123"}
    assert Client().post("/login/", good, HTTP_X_FORWARDED_FOR="203.0.113.5", **proxy).status_code == 429
    assert Client().post("/login/", good, HTTP_X_FORWARDED_FOR="203.0.113.6", **proxy).status_code == 302
