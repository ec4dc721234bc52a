"""Keyword search index over WorkOrder.search_document (see core.text).

SQLite: an external-content FTS5 table kept in sync by triggers.
PostgreSQL: a GIN index over the token array as a tsvector.
"""

from django.db import migrations

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE workorders_search USING fts5(search_document, content='workorders_workorder', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER workorders_search_ai AFTER INSERT ON workorders_workorder BEGIN "
    "INSERT INTO workorders_search(rowid, search_document) VALUES (new.id, new.search_document); END",
    "CREATE TRIGGER workorders_search_ad AFTER DELETE ON workorders_workorder BEGIN "
    "INSERT INTO workorders_search(workorders_search, rowid, search_document) "
    "VALUES ('delete', old.id, old.search_document); END",
    "CREATE TRIGGER workorders_search_au AFTER UPDATE OF search_document ON workorders_workorder BEGIN "
    "INSERT INTO workorders_search(workorders_search, rowid, search_document) "
    "VALUES ('delete', old.id, old.search_document); "
    "INSERT INTO workorders_search(rowid, search_document) VALUES (new.id, new.search_document); END",
    "INSERT INTO workorders_search(workorders_search) VALUES ('rebuild')",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS workorders_search_au",
    "DROP TRIGGER IF EXISTS workorders_search_ad",
    "DROP TRIGGER IF EXISTS workorders_search_ai",
    "DROP TABLE IF EXISTS workorders_search",
]
PG_FORWARD = [
    "CREATE INDEX workorders_search_gin ON workorders_workorder "
    "USING gin (array_to_tsvector(string_to_array(search_document, ' ')))",
]
PG_BACKWARD = ["DROP INDEX IF EXISTS workorders_search_gin"]


def forward(apps, schema_editor):
    statements = SQLITE_FORWARD if schema_editor.connection.vendor == "sqlite" else PG_FORWARD
    for sql in statements:
        schema_editor.execute(sql)


def backward(apps, schema_editor):
    statements = SQLITE_BACKWARD if schema_editor.connection.vendor == "sqlite" else PG_BACKWARD
    for sql in statements:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("workorders", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
