"""Dead ends people understand: a page their role may not open says who may (403), a page that
is not there says so (404), both inside the usual layout with a way back; a server error page
that needs neither the database nor the context processors (500)."""

import pytest
from django.test import Client, RequestFactory


def _client(user, lang="zh-hans"):
    c = Client(headers={"accept-language": lang})
    c.force_login(user)
    return c


@pytest.mark.parametrize("who, path, reason", [
    ("dispatcher", "/dispatch/settings/", "只有经理和管理员可以打开此页面。"),
    ("dispatcher", "/fieldwork/gates/", "只有经理和管理员可以打开此页面。"),
    ("eng_x", "/dashboard/", "只有调度员、经理和管理员可以打开此页面。"),
    ("manager", "/settings/audit/", "只有管理员可以打开此页面。"),
])
def test_a_page_not_for_ones_role_says_who_may_open_it(world, who, path, reason):
    user = getattr(world, who)
    r = _client(user).get(path)
    html = r.content.decode()
    assert r.status_code == 403
    assert reason in html and 'data-testid="navbar"' in html
    back = "/work-orders/" if who == "dispatcher" else ("/m/" if who == "eng_x" else "/dashboard/")
    assert f'href="{back}" class="btn btn-primary" data-testid="error-back"' in html


def test_in_english_too(world):
    html = _client(world.dispatcher, "en").get("/dispatch/settings/").content.decode()
    assert "Only managers and administrators may open this page." in html


def test_a_missing_page_is_a_friendly_404_in_the_layout(world):
    r = _client(world.dispatcher).get("/no-such-page/")
    html = r.content.decode()
    assert r.status_code == 404 and 'data-testid="error-404"' in html and 'data-testid="navbar"' in html
    r = Client().get("/no-such-page/")
    assert r.status_code == 404 and 'href="/login/"' in r.content.decode()


def test_the_500_page_needs_no_database_and_no_context(settings):
    """No `db` fixture here: pytest-django fails the test if the page touches the database."""
    from django.views.defaults import server_error

    r = server_error(RequestFactory().get("/"))
    html = r.content.decode()
    assert r.status_code == 500 and 'data-testid="error-500"' in html and "Something went wrong" in html
