"""Exactly once per plan occurrence: concurrent workers (threads with their own connections on
the database under test, SQLite or PostgreSQL) and a crash between the occurrence row and the
work order."""

from datetime import UTC, datetime

import pytest
import time_machine

from closeloop.core.testing import run_at_once
from closeloop.maintenance import engine
from closeloop.maintenance.models import Occurrence, Plan
from closeloop.workorders import services as wo_services
from closeloop.workorders.models import TimelineEvent, WorkOrder

pytestmark = pytest.mark.django_db(transaction=True)
AT = datetime(2026, 3, 2, 2, 7, tzinfo=UTC)


def _model_plan(pm, **kw):
    with time_machine.travel(datetime(2026, 1, 1, tzinfo=UTC), tick=False):
        return pm.plan(
            scope="model", asset="", model="LX-9", start_date="2026-03-02", every=1, unit="month", **kw
        )


def test_concurrent_workers_generate_each_occurrence_once(pm):
    plan = _model_plan(pm)
    Plan.objects.filter(pk=plan.pk).update(next_check_at=AT)

    def step(i):
        with time_machine.travel(AT, tick=False):
            return engine.run_due_plans(f"w{i}", AT)

    _results, errors = run_at_once(4, step)
    assert not errors, errors
    assert WorkOrder.objects.count() == 3
    assert Occurrence.objects.filter(plan=plan).count() == 3
    assert TimelineEvent.objects.filter(kind="created").count() == 3


def test_concurrent_evaluations_of_one_plan_insert_one_row_per_occurrence(pm):
    """Even without the plan's lease (two workers evaluating it at once, e.g. after a lease
    expired), the unique occurrence row lets one work order through per occurrence."""
    plan = _model_plan(pm)

    def evaluate(i):
        with time_machine.travel(AT, tick=False):
            p = Plan.objects.select_related("owner", "wo_type", "team", "assignee").get(pk=plan.pk)
            return engine.run_plan(p, AT)[0]

    results, errors = run_at_once(3, evaluate)
    assert not errors, errors
    assert sum(results) == 3  # acted on 3 occurrences in total, whoever did
    assert WorkOrder.objects.count() == 3 and Occurrence.objects.count() == 3


def test_a_crash_after_the_occurrence_row_leaves_neither(pm, monkeypatch):
    plan = _model_plan(pm)
    real = wo_services.do_create_work_order
    calls = {"n": 0}

    def crashing(**kw):
        calls["n"] += 1
        if calls["n"] == 2:
            real(**kw)  # the work order is written, then the process "dies"
            raise SystemExit("killed")
        return real(**kw)

    monkeypatch.setattr(wo_services, "do_create_work_order", crashing)
    Plan.objects.filter(pk=plan.pk).update(next_check_at=AT)
    with time_machine.travel(AT, tick=False), pytest.raises(SystemExit):
        engine.run_due_plans("w", AT)
    # the first asset's work is committed; the second's occurrence and work order rolled back together
    assert Occurrence.objects.count() == WorkOrder.objects.count() == 1
    monkeypatch.setattr(wo_services, "do_create_work_order", real)
    later = AT + engine.LEASE + engine.POLL[plan.trigger]
    with time_machine.travel(later, tick=False):
        Plan.objects.filter(pk=plan.pk).update(next_check_at=later)
        engine.run_due_plans("w2", later)  # the lease ran out: another worker redoes the rest
    assert Occurrence.objects.count() == WorkOrder.objects.count() == 3
    assert set(Occurrence.objects.values_list("key", flat=True)) == {"d2026-03-02"}
