"""Real concurrent connections (threads, each with its own DB connection) on the
database under test: SQLite file or PostgreSQL."""

import re

import pytest
from django.db import connection

from closeloop.core.errors import Conflict
from closeloop.core.testing import run_at_once
from closeloop.workorders import services
from closeloop.workorders.lifecycle import S
from closeloop.workorders.models import TimelineEvent, WorkOrder

pytestmark = pytest.mark.django_db(transaction=True)
_run_in_threads = run_at_once


def test_codes_are_unique_and_gapless_under_concurrent_creation(world):
    per_thread, n = 8, 6

    def create(i):
        return [services.do_create_work_order(actor=world.dispatcher, data={
            "type": "repair", "title": f"并发 {i}-{k}", "site": "site-a"}).code for k in range(per_thread)]

    results, errors = _run_in_threads(n, create)
    assert not errors, errors
    codes = [c for r in results for c in r]
    assert len(codes) == len(set(codes)) == n * per_thread
    assert all(re.fullmatch(r"WD\d{8}\d{5}", c) for c in codes)
    assert sorted(int(c[-5:]) for c in codes) == list(range(1, n * per_thread + 1))
    assert WorkOrder.objects.count() == n * per_thread


def test_two_people_acting_at_once_one_wins_the_other_gets_409(world):
    wo = services.do_create_work_order(actor=world.dispatcher, data={"type": "repair", "title": "抢单",
                                                                     "site": "site-a", "assignee": "eng_x"})
    assert wo.status == S.ASSIGNED

    def act(i):
        mine = WorkOrder.objects.get(pk=wo.pk)  # both load the same version
        if i == 0:
            return services.do_transition(actor=world.eng_x, wo=mine, action="accept").status
        return services.do_transition(actor=world.dispatcher, wo=mine, action="cancel",
                                      data={"reason": "重复"}).status

    results, _ = _run_in_threads(2, act)
    wins = [r for r in results if isinstance(r, str)]
    losses = [r for r in results if isinstance(r, Conflict)]
    assert len(wins) == 1 and len(losses) == 1, results
    final = WorkOrder.objects.get(pk=wo.pk)
    assert final.status == wins[0]
    assert losses[0].extra["current_state"] == final.status
    assert TimelineEvent.objects.filter(work_order=wo, kind="transition").count() == 2  # assign + the winner


def test_the_same_action_twice_at_once_happens_once(world):
    wo = services.do_create_work_order(actor=world.dispatcher, data={"type": "repair", "title": "双击",
                                                                     "site": "site-a", "assignee": "eng_x"})

    def accept(i):
        return services.do_transition(actor=world.eng_x, wo=WorkOrder.objects.get(pk=wo.pk), action="accept").status

    results, _ = _run_in_threads(4, accept)
    assert sum(1 for r in results if r == S.ACCEPTED) == 1
    assert all(isinstance(r, Conflict) for r in results if r != S.ACCEPTED)
    assert TimelineEvent.objects.filter(work_order=wo, action="accept").count() == 1


def test_idempotent_retries_in_flight_at_once_create_one_work_order(world):
    from closeloop.accounts.services import do_create_token

    _, token = do_create_token(user=world.dispatcher)

    def post(i):
        from django.test import Client

        return Client().post("/api/v1/work-orders", {"type": "repair", "title": "重试", "site": "site-a"},
                             content_type="application/json",
                             headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "same"}).status_code

    results, errors = _run_in_threads(4, post)
    assert not errors
    assert results.count(201) >= 1 and set(results) <= {201, 409}
    assert WorkOrder.objects.count() == 1
    assert connection.vendor in ("sqlite", "postgresql")
