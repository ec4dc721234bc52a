"""Planner settings for the one query that needs them, never for a whole connection.

The work order list and get join 8-10 tables through foreign keys; PostgreSQL spent 6-15 ms
planning join orders for a 0.5 ms query (docs/performance.md). Inside `fixed_join_order()` the
planner keeps the order the query is written in (base table first, then foreign keys to primary
keys), which is the right plan there; everything else (reports, analytics, imports) keeps the
planner's freedom. On PostgreSQL it is one `SET LOCAL` pair in a transaction (one statement,
reset by the transaction's end); on SQLite nothing.
"""

from contextlib import contextmanager

from django.db import connection, transaction

_SET = "SELECT set_config('join_collapse_limit', '1', true), set_config('from_collapse_limit', '1', true)"


@contextmanager
def fixed_join_order():
    if connection.vendor != "postgresql":
        yield
        return
    if connection.in_atomic_block:
        # Inside a caller's transaction: the settings last until it ends (no savepoint round
        # trips, and an error raised in the block is the caller's to handle as usual).
        with connection.cursor() as cur:
            cur.execute(_SET)
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(_SET)
        yield
