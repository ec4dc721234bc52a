"""The per-process token cache (services.authenticate_token): a cached bearer request costs
no query, and revocation, deactivation and expiry are still honoured: at once for a change
saved in this process, within TOKEN_CACHE_SECONDS for one made elsewhere."""

from datetime import timedelta

import pytest
import time_machine

from closeloop.accounts import services
from closeloop.accounts.models import ApiToken
from closeloop.accounts.services import authenticate_token, do_create_token, do_revoke_token
from closeloop.core.clock import now


@pytest.fixture(autouse=True)
def _empty_cache():
    services.forget_cached_tokens()
    yield
    services.forget_cached_tokens()


class Clock:
    """services.time.monotonic, moved by hand (never the wall clock)."""

    def __init__(self, monkeypatch):
        self.t = 1000.0
        monkeypatch.setattr(services.time, "monotonic", lambda: self.t)


def test_a_cached_token_costs_no_query(world, django_assert_num_queries):
    _row, clear = do_create_token(user=world.dispatcher)
    assert authenticate_token(clear)[0] == world.dispatcher
    with django_assert_num_queries(0):
        user, token = authenticate_token(clear)
    assert (user.username, user.role, token.scopes) == ("dispatcher", world.dispatcher.role, ["read", "write"])
    # Each call its own copy: what one request sets on its user is not the next one's.
    user.display_name = "changed in one request"
    assert authenticate_token(clear)[0].display_name != "changed in one request"


def test_revoked_here_is_refused_at_once(world):
    row, clear = do_create_token(user=world.eng_x)
    assert authenticate_token(clear) is not None
    do_revoke_token(user=world.eng_x, token_id=row.pk)
    assert authenticate_token(clear) is None


def test_deactivated_here_is_refused_at_once(world):
    _row, clear = do_create_token(user=world.eng_x)
    assert authenticate_token(clear) is not None
    world.eng_x.is_active = False
    world.eng_x.save()
    assert authenticate_token(clear) is None


def test_revoked_elsewhere_is_refused_within_the_cache_time(world, monkeypatch):
    clock = Clock(monkeypatch)
    row, clear = do_create_token(user=world.eng_x)
    assert authenticate_token(clear) is not None
    # Another process revokes it: no signal reaches this one.
    ApiToken.objects.filter(pk=row.pk).update(revoked_at=now())
    clock.t += services.TOKEN_CACHE_SECONDS - 0.5
    assert authenticate_token(clear) is not None  # still cached, for at most the cache time
    clock.t += 1.0
    assert authenticate_token(clear) is None


def test_expiry_is_checked_on_every_request(world):
    _row, clear = do_create_token(user=world.eng_x, expires_at=now() + timedelta(minutes=10))
    assert authenticate_token(clear) is not None
    with time_machine.travel(now() + timedelta(minutes=11), tick=False):
        assert authenticate_token(clear) is None


def test_unknown_tokens_are_not_cached(world, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert authenticate_token("cl_nope") is None
    with django_assert_num_queries(1):
        assert authenticate_token("cl_nope") is None
