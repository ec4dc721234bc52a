"""The evaluation budget counts the evaluating thread's CPU time, not the wall clock."""

import itertools
import time

import pytest

from closeloop.core import conditions


def test_a_busy_machine_does_not_turn_a_true_condition_into_an_error(monkeypatch):
    # The wall clock jumps a whole second during the evaluation (another process had the CPU).
    wall = itertools.count(start=1000.0, step=1.0)
    monkeypatch.setattr(time, "perf_counter", lambda: next(wall))
    monkeypatch.setattr(time, "monotonic", lambda: next(wall))
    monkeypatch.setattr(time, "time", lambda: next(wall))
    assert conditions.evaluate('wo.priority == "urgent"', {"wo": {"priority": "urgent"}}) is True


def test_an_evaluation_that_uses_too_much_cpu_is_an_error(monkeypatch):
    cpu = itertools.count(start=5.0, step=conditions.EVAL_BUDGET_S * 2)
    monkeypatch.setattr(time, "thread_time", lambda: next(cpu))
    with pytest.raises(conditions.ConditionError) as err:
        conditions.evaluate('wo.priority == "urgent"', {"wo": {"priority": "urgent"}})
    assert err.value.kind == "limit"
