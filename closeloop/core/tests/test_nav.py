"""The top bar's entries: exactly one lights up, the one for the page in hand."""

import re

import pytest

from closeloop.core import nav


def _active(client, path) -> list[str]:
    html = client.get(path, headers={"accept-language": "en"}).content.decode()
    bar = html[html.index("data-nav-bar"):html.index('id="navbar-more"')]
    return re.findall(r'<li class="nav-item active" data-nav-item="([^"]+)"', bar)


@pytest.mark.parametrize("path, key", [
    ("/work-orders/", "workorders"), ("/dashboard/", "dashboard"), ("/board/", "board"),
    ("/dispatch/roster/", "dispatch-roster"), ("/notifications/", "inbox"), ("/notifications/preferences", "inbox"), ("/approvals/", "approvals"),
])
def test_one_entry_is_active_the_one_for_this_page(world, path, key):
    assert _active(world.browser_client(world.admin), path) == [key]


def test_an_app_with_two_entries_lights_only_the_page_in_hand(world, rf):
    from django.urls import resolve

    request = rf.get("/dispatch/settings/")
    request.user = world.admin
    request.resolver_match = resolve("/dispatch/settings/")
    active = [e["key"] for e in nav.entries_for(request) if e["active"]]
    assert active == ["dispatch-settings"]


@pytest.mark.parametrize("path, tab", [
    ("/portal/", "portal-home"), ("/portal/new", "portal-home"), ("/portal/w/WD2026120100001/", "portal-home"),
    ("/portal/figures/", "portal-figures"),
])
def test_the_portal_tab_of_the_page_in_hand_is_active(world, rf, path, tab):
    """The portal's tabs are a group of their own: a work order's page lights 'My requests'."""
    from django.urls import resolve

    request = rf.get(path)
    request.user = world.cust_a
    request.resolver_match = resolve(path)
    tabs = [e["key"] for e in nav.entries_for(request) if e["group"] == "portal" and e["active"]]
    assert tabs == [tab]
