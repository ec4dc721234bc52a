"""Shift and Leave moved from dispatch to roster (dispatch/0002, roster/0001-0002): the
rows written before the move are there after it, ids and all, on SQLite and PostgreSQL;
and back again."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("dispatch", "0001_initial"), ("roster", None)]
AFTER = [("dispatch", "0002_roster_moved"), ("roster", "0002_rename_tables")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    nodes = [t for t in targets if t[1] is not None]
    return MigrationExecutor(connection).loader.project_state(nodes).apps


def _leaf_targets():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_it_keeps_shifts_and_leave_through_the_move_and_back():
    leaves = _leaf_targets()
    try:
        old = _migrate(BEFORE)
        assert "dispatch_shift" in connection.introspection.table_names()
        User = old.get_model("accounts", "User")
        u = User.objects.create(username="eng_move", role="engineer")
        t = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)
        s1 = old.get_model("dispatch", "Shift").objects.create(user_id=u.pk, kind="on_call", starts_at=t,
                                                               ends_at=t + timedelta(hours=9))
        lv = old.get_model("dispatch", "Leave").objects.create(user_id=u.pk, starts_at=t, ends_at=t + timedelta(days=2),
                                                               reason="年假")

        new = _migrate(AFTER)
        tables = connection.introspection.table_names()
        assert "roster_shift" in tables and "roster_leave" in tables
        assert "dispatch_shift" not in tables and "dispatch_leave" not in tables
        Shift, Leave = new.get_model("roster", "Shift"), new.get_model("roster", "Leave")
        assert list(Shift.objects.values_list("pk", "user_id", "kind", "starts_at")) == [(s1.pk, u.pk, "on_call", t)]
        assert list(Leave.objects.values_list("pk", "reason")) == [(lv.pk, "年假")]
        # New rows continue the ids (the sequence came along with the table).
        s2 = Shift.objects.create(user_id=u.pk, kind="shift", starts_at=t, ends_at=t + timedelta(hours=8))
        assert s2.pk > s1.pk

        back = _migrate(BEFORE)
        assert back.get_model("dispatch", "Shift").objects.count() == 2
        assert back.get_model("dispatch", "Leave").objects.get().reason == "年假"
    finally:
        _migrate(leaves)
