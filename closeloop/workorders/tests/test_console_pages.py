"""The staff console pages render for each role and show what that role may do.

Through Django's test client: the real views, templates, services and database.
The journey in a real browser is tests/browser/test_journey.py.
"""

import re

import pytest
from django.test import Client
from django.urls import reverse

from closeloop.workorders import services

pytestmark = pytest.mark.django_db


def _wo(world, **kw):
    data = {"type": "repair", "title": "呼吸机报警 无法开机", "site": "site-a", "priority": "high", **kw}
    return services.do_create_work_order(actor=world.dispatcher, data=data)


def test_login_page_renders_and_logs_in(world, client):
    r = client.get(reverse("login"))
    assert r.status_code == 200
    assert b'name="username"' in r.content and b'name="password"' in r.content
    r = client.post(reverse("login"), {"username": "dispatcher", "password": "pw-dispatcher-123"})
    assert r.status_code == 302 and r.url == reverse("workorders:list")


def test_login_lock_out_message_is_shown(world, client, settings):
    settings.LOGIN_MAX_FAILURES = 2
    for _ in range(2):
        client.post(reverse("login"), {"username": "dispatcher", "password": "wrong"})
    r = client.post(reverse("login"), {"username": "dispatcher", "password": "pw-dispatcher-123"},
                    headers={"Accept-Language": "en"})
    assert r.status_code == 429
    assert b"Too many failed attempts" in r.content


def test_list_shows_rows_filters_and_badges(world):
    wo = _wo(world)
    c = world.browser_client(world.dispatcher)
    r = c.get(reverse("workorders:list"))
    html = r.content.decode()
    assert r.status_code == 200
    assert wo.code in html and "呼吸机报警" in html
    assert 'id="wo-rows"' in html and 'name="status"' in html and 'name="q"' in html
    assert 'name="team"' in html and 'name="assignee"' in html


def test_list_htmx_returns_only_rows_and_search_finds_two_chinese_characters(world):
    wo = _wo(world)
    other = _wo(world, title="监护仪 屏幕闪烁", site="site-b")
    c = world.browser_client(world.dispatcher)
    r = c.get(reverse("workorders:list"), {"q": "报警"}, headers={"HX-Request": "true", "HX-Target": "wo-rows"})
    html = r.content.decode()
    assert "<html" not in html and "wo-table" in html
    assert wo.code in html and other.code not in html


def test_list_next_page_link_uses_the_cursor_and_keeps_filters(world):
    for i in range(27):
        _wo(world, title=f"批量 {i}")
    c = world.browser_client(world.dispatcher)
    r = c.get(reverse("workorders:list"), {"priority": "high"})
    html = r.content.decode()
    assert html.count('data-testid="wo-row"') == 25
    m = re.search(r'data-testid="next-page"[^>]*href="([^"]+)"', html)
    assert m and "priority=high" in m.group(1) and "cursor=" in m.group(1)
    r2 = c.get(reverse("workorders:list") + m.group(1).replace("&amp;", "&"))
    assert r2.content.decode().count('data-testid="wo-row"') == 2


def test_create_form_swaps_custom_fields_and_shows_field_errors(world):
    c = world.browser_client(world.dispatcher)
    r = c.get(reverse("workorders:create_fields"), {"type": "production"})
    assert 'name="custom__temperature"' in r.content.decode()
    r = c.post(reverse("workorders:create"), {"type": "production", "title": "", "priority": "normal"})
    assert 'data-testid="error-title"' in r.content.decode()
    # The form is fine, the service refuses: its problems land on the fields they name.
    r = c.post(reverse("workorders:create"), {"type": "production", "title": "注塑", "priority": "normal",
                                              "custom__temperature": "999"})
    html = r.content.decode()
    assert r.status_code == 200
    assert 'data-testid="error-custom__temperature"' in html and "is-invalid" in html
    assert 'name="custom__temperature"' in html  # the type's fields are still there


def test_create_then_detail_shows_only_allowed_actions(world):
    c = world.browser_client(world.dispatcher)
    r = c.post(reverse("workorders:create"), {"type": "repair", "title": "空调漏水", "priority": "normal",
                                              "site": "site-a"})
    assert r.status_code == 302
    detail = c.get(r.url).content.decode()
    assert 'data-testid="action-assign"' in detail and 'data-testid="action-cancel"' in detail
    assert 'data-testid="action-accept"' not in detail
    assert "eng_x" in detail  # the engineer select
    eng = world.browser_client(world.eng_x).get(r.url)
    assert eng.status_code == 404  # not assigned to them, not their team's


def test_detail_timeline_shows_internal_comments_and_attachments(world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    wo = _wo(world)
    c = world.browser_client(world.dispatcher)
    c.post(reverse("workorders:comment", args=[wo.code]), {"body": "内部备注"})
    c.post(reverse("workorders:upload", args=[wo.code]),
           {"file": SimpleUploadedFile("现场.txt", b"hello", content_type="text/plain")})
    html = c.get(reverse("workorders:detail", args=[wo.code])).content.decode()
    assert "内部备注" in html and 'data-testid="internal"' in html
    att = wo.attachments.get()
    assert reverse("workorders:attachment", args=[wo.code, att.pk]) in html
    assert "现场.txt" in html


def test_tokens_page_shows_new_token_once(world):
    c = world.browser_client(world.dispatcher)
    r = c.post(reverse("accounts:tokens"), {"name": "CRM", "scopes": ["read"]})
    html = r.content.decode()
    m = re.search(r'id="new-token-value"[^>]*value="(cl_[^"]+)"', html)
    assert m
    again = c.get(reverse("accounts:tokens")).content.decode()
    assert m.group(1) not in again and "CRM" in again


def test_pages_have_no_inline_styles_or_handlers(world):
    wo = _wo(world)
    c = world.browser_client(world.dispatcher)
    pages = [reverse("workorders:list"), reverse("workorders:create"), reverse("accounts:tokens"),
             reverse("workorders:detail", args=[wo.code])]
    for url in pages:
        html = c.get(url).content.decode()
        assert not re.search(r"\sstyle=", html), url
        assert not re.search(r"\son[a-z]+=", html), url
        assert "hx-on" not in html, url


def test_demo_badge_only_in_demo_mode(world, settings):
    c = world.browser_client(world.dispatcher)
    settings.DEMO_MODE = False
    assert b'data-testid="demo-badge"' not in c.get(reverse("workorders:list")).content
    settings.DEMO_MODE = True
    assert b'data-testid="demo-badge"' in c.get(reverse("workorders:list")).content
    assert b'data-testid="demo-badge"' in Client().get(reverse("login")).content


def test_language_from_the_profile_follows_the_user_to_a_new_browser(world):
    world.dispatcher.language = "en"
    world.dispatcher.save()
    c = Client()
    r = c.post(reverse("login"), {"username": "dispatcher", "password": "pw-dispatcher-123"})
    assert r.cookies["django_language"].value == "en"
    assert b"Work orders" in c.get(reverse("workorders:list")).content
    c.post(reverse("set_language"), {"language": "zh-hans", "next": "/work-orders/"})
    world.dispatcher.refresh_from_db()
    assert world.dispatcher.language == "zh-hans"
    assert "工单".encode() in c.get(reverse("workorders:list")).content


def test_detail_renders_in_every_state_for_every_role(world):
    """Walk one work order through the loop and its side states; every role's page renders."""
    wo = _wo(world, title="全流程")
    steps = [
        (world.dispatcher, "assign", {"assignee": "eng_x"}), (world.eng_x, "accept", {}),
        (world.eng_x, "wait", {"reason": "parts"}), (world.eng_x, "resume", {}), (world.eng_x, "depart", {}),
        (world.eng_x, "arrive", {}), (world.eng_x, "start", {}),
        (world.eng_x, "complete", {"resolution": "换板"}), (world.cust_a, "confirm", {"rating": 4}),
        (world.finance, "invoice", {"invoice_number": "FP-1"}), (world.dispatcher, "close", {}),
        (world.dispatcher, "reopen", {"reason": "复发"}), (world.dispatcher, "cancel", {"reason": "重复"}),
    ]
    clients = {u.username: world.browser_client(u)
               for u in (world.dispatcher, world.eng_x, world.finance, world.cust_a, world.manager)}
    url = reverse("workorders:detail", args=[wo.code])
    for actor, action, data in [(None, None, None), *steps]:
        if actor is not None:
            wo.refresh_from_db()
            services.do_transition(actor=actor, wo=wo, action=action, data=data)
        wo.refresh_from_db()
        for name, c in clients.items():
            r = c.get(url)
            if name == "eng_x" and wo.assignee_id is None:
                assert r.status_code == 404  # not theirs yet
                continue
            assert r.status_code == 200, (name, wo.status)
            assert f'data-status="{wo.status}"' in r.content.decode(), (name, wo.status)
    html = clients["cust_a"].get(url).content.decode()
    assert 'data-testid="comment-public"' not in html  # a customer's comments are always public
