"""Folded day rows ("D": one day with type and priority folded together) in each rollup table,
built here from the day rows once; the worker step and the rebuild keep them from now on
(refresh.write_folded_days). Pages read them for the days outside a period's whole months."""

from django.db import migrations

KEYS = {
    "DailyRollup": ("team_id",),
    "BreakdownRollup": ("dim", "key", "team_id"),
    "StateRollup": ("state", "team_id", "assignee_id"),
    "OpenStayRollup": ("state", "team_id", "assignee_id"),
}


def build(apps, schema_editor):
    qn = schema_editor.connection.ops.quote_name
    with schema_editor.connection.cursor() as cur:
        for name, keys in KEYS.items():
            model = apps.get_model("analytics", name)
            sums = [f.column for f in model._meta.concrete_fields
                    if f.column not in ("id", "span", "day", "wo_type_id", "priority", *keys)]
            table = qn(model._meta.db_table)
            cols = ", ".join(qn(c) for c in ("span", "day", "wo_type_id", "priority", *keys, *sums))
            group = ", ".join(qn(c) for c in ("day", *keys))
            sums_sql = ", ".join(f"SUM({qn(c)})" for c in sums)
            cur.execute(f"DELETE FROM {table} WHERE {qn('span')} = 'D'")
            cur.execute(f"INSERT INTO {table} ({cols}) SELECT 'D', {qn('day')}, 0, '', "
                        f"{', '.join(qn(c) for c in keys)}, {sums_sql} FROM {table} "
                        f"WHERE {qn('span')} = 'd' GROUP BY {group}")


def unbuild(apps, schema_editor):
    for name in KEYS:
        apps.get_model("analytics", name).objects.filter(span="D").delete()


class Migration(migrations.Migration):
    dependencies = [("analytics", "0007_running_facts_index")]

    operations = [migrations.RunPython(build, unbuild)]
