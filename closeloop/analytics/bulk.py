"""Writing the analytics tables fast: rows as tuples in the table's column order, inserted with
`executemany` (SQLite) or `COPY` (PostgreSQL), and rollups as one `INSERT … SELECT` of a grouped
queryset. No model instances: at a million work orders building them was most of the rebuild.

Values go through the same conversions Django's backends apply (`adapt_datetimefield_value`,
`adapt_datefield_value`), so a row written here reads back exactly as one `bulk_create` wrote."""

from functools import cache
from operator import itemgetter

from django.db import connection, models

BATCH = 5000


@cache
def _columns(model) -> tuple[list[str], list]:
    """(columns, fields) of a model's table, the auto primary key left out."""
    fields = [f for f in model._meta.concrete_fields if not isinstance(f, models.AutoField)]
    return [f.column for f in fields], fields


def row_maker(model):
    """A function turning a dict keyed by column (`work_order_id`, `day`, ...) into the row tuple."""
    columns, _fields = _columns(model)
    return itemgetter(*columns)


def _adapters(model):
    """Per column, the conversion the backend needs (None: none)."""
    _columns_, fields = _columns(model)
    ops = connection.ops
    out = []
    for f in fields:
        t = f.get_internal_type()
        if connection.vendor == "sqlite" and t == "DateTimeField":
            out.append(ops.adapt_datetimefield_value)
        elif connection.vendor == "sqlite" and t == "DateField":
            out.append(ops.adapt_datefield_value)
        else:
            out.append(None)
    return out


def insert(model, rows: list[tuple]) -> None:
    """Insert these row tuples (in `row_maker`'s column order) into the model's table."""
    if not rows:
        return
    columns, _f = _columns(model)
    table = connection.ops.quote_name(model._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            with cur.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
            return
        adapt = [(i, a) for i, a in enumerate(_adapters(model)) if a is not None]
        if adapt:
            conv = []
            for r in rows:
                r = list(r)
                for i, a in adapt:
                    if r[i] is not None:
                        r[i] = a(r[i])
                conv.append(r)
            rows = conv
        marks = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {table} ({cols}) VALUES ({marks})"
        for i in range(0, len(rows), BATCH):
            cur.executemany(sql, rows[i:i + BATCH])


def insert_select(model, qs, group, aggs: dict, *, rename: dict | None = None) -> None:
    """`INSERT INTO model (…) SELECT …` of `qs` grouped by `group` with `aggs` (the same
    aggregates the incremental path's `grouped` computes); `rename` maps a selected annotation
    to the model field it fills. The column list follows the order Django selects in."""
    aliased = {f"agg__{k}": v for k, v in aggs.items()}
    q = qs.values(*group).annotate(**aliased).order_by()
    sql, params = q.query.sql_with_params()
    selected = list(q.query.selected)  # the SELECT's columns, in order (Django ≥ 5.2)
    assert sorted(selected) == sorted(list(group) + list(aliased)), selected
    rename = rename or {}
    names = [rename.get(n, n[5:] if n.startswith("agg__") else n) for n in selected]
    table = connection.ops.quote_name(model._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(model._meta.get_field(n).column) for n in names)
    with connection.cursor() as cur:
        cur.execute(f"INSERT INTO {table} ({cols}) {sql}", params)
