"""The SLA card and the SLA / escalation events on the work order page."""

from datetime import UTC, datetime, timedelta

import time_machine

from closeloop.sla.worker import handle_one_sla_check
from closeloop.workorders import services as wo_services

from .helpers import calendars, policy

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def test_the_page_shows_the_ledger_countdown_and_escalations(world):
    policy("p", calendars()[1], targets={"response": 60, "resolution": 3600})
    with time_machine.travel(T0, tick=False):
        wo = wo_services.do_create_work_order(actor=world.dispatcher, data={
            "type": "repair", "title": "停线", "customer": "org-a", "assignee": "eng_x"})
    with time_machine.travel(T0 + timedelta(seconds=61), tick=False):
        while handle_one_sla_check("w"):
            pass
        html = world.browser_client(world.dispatcher).get(f"/work-orders/{wo.code}/").content.decode()
    assert 'data-testid="sla"' in html and 'hx-trigger="every 10s"' in html
    assert 'data-milestone="response" data-state="breached"' in html
    assert 'data-milestone="resolution" data-state="on_track"' in html
    assert 'data-countdown="2026-03-02T11:00:00+08:00"' in html  # resolution, in the business zone
    assert html.count('data-testid="escalation"') == 2  # response: 75 % and at breach
    assert 'data-testid="sla-policy-event"' in html
    assert "style=" not in html.split('id="sla-card"')[1].split("</div>\n</div>")[0]


def test_without_a_policy_the_card_says_so_and_does_not_poll(world):
    wo = wo_services.do_create_work_order(actor=world.dispatcher, data={"type": "repair", "title": "x",
                                                                         "customer": "org-a"})
    html = world.browser_client(world.dispatcher).get(f"/work-orders/{wo.code}/").content.decode()
    assert 'data-testid="sla"' in html and "every 10s" not in html
