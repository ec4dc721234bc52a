"""Scheduled rules with real concurrent workers (threads, each with its own connection) on the
database under test: each work order fires once per period, and a run is claimed once."""

from datetime import UTC, datetime

import pytest

from closeloop.core.testing import run_at_once
from closeloop.rules import schedule
from closeloop.rules.models import Rule, ScheduleFiring
from closeloop.rules.services import do_create_rule
from closeloop.workorders.models import TimelineEvent
from closeloop.workorders.tests.factories import make_wo

pytestmark = pytest.mark.django_db(transaction=True)
_threads = run_at_once
AT = datetime(2026, 3, 2, 2, 7, tzinfo=UTC)


def test_concurrent_runs_fire_each_work_order_once(world):
    wos = [make_wo(world, title=f"w{i}") for i in range(12)]
    rule = do_create_rule(actor=world.manager, data={"name": "tick", "trigger": "schedule", "schedule_minutes": 60,
                                                     "actions": [{"type": "comment", "body": "tick"}]})

    def run(i):
        return schedule.run_rule(Rule.objects.select_related("owner").get(pk=rule.pk), AT)

    _results, errors = _threads(3, run)
    assert not errors, errors
    assert ScheduleFiring.objects.filter(rule=rule).count() == len(wos)
    assert TimelineEvent.objects.filter(kind="comment").count() == len(wos)
    assert TimelineEvent.objects.filter(kind="rule").count() == len(wos)


def test_a_due_rule_is_claimed_by_one_worker(world):
    make_wo(world, title="w")
    rule = do_create_rule(actor=world.manager, data={"name": "tick", "trigger": "schedule", "schedule_minutes": 60,
                                                     "actions": [{"type": "comment", "body": "tick"}]})
    Rule.objects.filter(pk=rule.pk).update(next_run_at=AT)
    _results, errors = _threads(3, lambda i: schedule.run_due_schedules(f"w{i}", AT))
    assert not errors, errors
    rule.refresh_from_db()
    assert rule.last_run_at == AT and rule.next_run_at == datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
    assert TimelineEvent.objects.filter(kind="comment").count() == 1
