"""The worker folds new events into the analytics at most every ANALYTICS_INTERVAL seconds while
it keeps up (each step holds SQLite's write lock), back to back while a whole batch waits."""

import pytest

from closeloop.analytics import refresh
from closeloop.analytics.models import Cursor, WorkOrderFact
from closeloop.workorders import services as wo


def _create(world, title="空调不制冷"):
    return wo.do_create_work_order(actor=world.dispatcher, data={
        "type": "repair", "title": title, "priority": "normal", "site": "site-a", "team": "team-x"})


def _cursor():
    return Cursor.objects.get(name=refresh.CURSOR).last_event_id


@pytest.fixture
def fresh(monkeypatch, settings):
    settings.ANALYTICS_INTERVAL = 10
    monkeypatch.setattr(refresh, "_last_run", [])
    clock = [1000.0]
    monkeypatch.setattr(refresh.time, "monotonic", lambda: clock[0])
    return clock


@pytest.mark.django_db
def test_a_step_waits_for_the_interval_while_the_worker_keeps_up(world, fresh):
    a = _create(world)
    assert refresh.next_at() <= refresh.now()  # never ran in this process: due now
    refresh.worker_step("w")
    assert WorkOrderFact.objects.filter(work_order=a).exists()
    folded = _cursor()
    b = _create(world, "电梯异响")
    fresh[0] += 3
    assert refresh.worker_step("w") is False  # 3 s after the last step: not yet
    assert _cursor() == folded and not WorkOrderFact.objects.filter(work_order=b).exists()
    wait = (refresh.next_at() - refresh.now()).total_seconds()
    assert 6 < wait <= 7  # the worker sleeps until the interval has passed, not a busy loop
    fresh[0] += 7
    refresh.worker_step("w")
    assert _cursor() > folded and WorkOrderFact.objects.filter(work_order=b).exists()
    assert (refresh.next_at() - refresh.now()).total_seconds() > 50  # nothing pending: in a minute


@pytest.mark.django_db
def test_a_whole_batch_waiting_is_folded_in_at_once(world, fresh, monkeypatch):
    _create(world)
    refresh.worker_step("w")
    folded = _cursor()
    monkeypatch.setattr(refresh, "BATCH", 2)
    assert refresh.worker_step("w") is False  # 0 s after: nothing waits
    _create(world, "电梯异响")
    fresh[0] += 1
    assert refresh.worker_step("w") is False and _cursor() == folded  # one event: it waits
    _create(world, "监护仪黑屏")  # now a whole batch (2) waits: folded in within the interval
    fresh[0] += 1
    refresh.worker_step("w")
    assert _cursor() > folded


@pytest.mark.django_db
def test_no_interval_runs_every_time(world, fresh, settings):
    settings.ANALYTICS_INTERVAL = 0
    _create(world)
    refresh.worker_step("w")
    folded = _cursor()
    _create(world, "电梯异响")
    refresh.worker_step("w")
    assert _cursor() > folded
