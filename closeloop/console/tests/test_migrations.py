"""The saved queues moved from the portal app to the console with their rows (portal 0002
renames the table, console 0001 takes the model over in the state only): rows written
before the move are there after it, on SQLite and PostgreSQL, and the move reverses."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from closeloop.core.clock import now

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("portal", "0001_initial"), ("console", None)]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


def _latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


def _tables() -> set[str]:
    with connection.cursor() as cur:
        return set(connection.introspection.table_names(cur))


def test_queue_rows_survive_the_move_and_the_way_back():
    latest = _latest()
    try:
        old = _migrate(BEFORE)
        assert "portal_queue" in _tables() and "console_queue" not in _tables()
        team = old.get_model("accounts", "Team").objects.create(name="X 组", code="team-mig")
        OldQueue = old.get_model("portal", "Queue")
        shared = OldQueue.objects.create(name="X 队列", team=team, filters={"team": "team-mig"}, order=2,
                                         created_at=now())
        mine = OldQueue.objects.create(name="我的", filters={"status": ["new"], "q": "呼吸机"}, created_at=now())

        new = _migrate(latest)
        assert "console_queue" in _tables() and "portal_queue" not in _tables()
        from closeloop.console.models import Queue

        rows = {q.pk: q for q in Queue.objects.select_related("team")}
        assert set(rows) == {shared.pk, mine.pk}
        assert rows[shared.pk].name == "X 队列" and rows[shared.pk].team.code == "team-mig"
        assert rows[shared.pk].order == 2 and rows[shared.pk].filters == {"team": "team-mig"}
        assert rows[mine.pk].filters == {"status": ["new"], "q": "呼吸机"}
        # New rows get fresh ids after the moved ones (the id sequence moved with the table).
        added = Queue.objects.create(name="新", created_at=now())
        assert added.pk > max(rows)
        ct = new.get_model("contenttypes", "ContentType")
        assert ct.objects.filter(app_label="console", model="queue").exists()
        assert not ct.objects.filter(app_label="portal", model="queue").exists()

        back = _migrate(BEFORE)
        assert "portal_queue" in _tables() and "console_queue" not in _tables()
        assert set(back.get_model("portal", "Queue").objects.values_list("name", flat=True)) == {"X 队列", "我的", "新"}
    finally:
        _migrate(latest)
