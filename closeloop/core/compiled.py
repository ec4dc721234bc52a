"""An ORM query compiled once and run many times with another value.

Compiling a queryset with a handful of `select_related` joins costs more CPU than running it
(bench/api_inprocess.py: about two thirds of a get by code). `Compiled(qs, sentinel)` compiles
`qs` once — `sentinel` stands for the one parameter that changes — and `first(value)` or
`all(value)` runs the same SQL with `value` in its place, building the model instance and its related objects
exactly as the queryset would (Django's own converters and related populators).

Only for queries whose every other parameter is fixed for the cache key the caller chooses
(e.g. the user's visibility filter: `workorders.selectors.access_work_order_by_code`).

On PostgreSQL their SQL runs as a prepared statement (`prepared_cursor`, `fetch`): parsed and
planned on a connection's first few calls, then run from the plan PostgreSQL keeps. At 1M work
orders the get's 8-join select spent 0.6 ms planning in a fixed join order (4.7 ms without one,
the list's 10 joins 50 ms) to run in 0.1 ms.
"""

from weakref import WeakKeyDictionary

from django.conf import settings
from django.db import connections
from django.db.models.query import get_related_populators

from .planner import fixed_join_order

_prepared_cursor_class = None
# PostgreSQL plans a prepared statement afresh for its first five executions (custom plans), builds
# a generic plan on the sixth and keeps it when it costs no more (plan_cache_mode auto).
_PLANNED_AFTER = 6
# Per psycopg connection: how often each SQL of fetch(fixed_order=True) ran, up to _PLANNED_AFTER.
_runs: WeakKeyDictionary = WeakKeyDictionary()


def prepares(db: str = "default") -> bool:
    """Whether `prepared_cursor(db)` prepares its statements: PostgreSQL, unless the settings say
    not to (CLOSELOOP_PG_PREPARE=0: a connection pooler in transaction mode that keeps no prepared
    statements between transactions)."""
    return connections[db].vendor == "postgresql" and getattr(settings, "CLOSELOOP_PG_PREPARE", True)


def prepared_cursor(db: str = "default"):
    """A cursor for SQL that is the same on every call (only its parameters change). On PostgreSQL
    each statement it executes is prepared on the connection the first time (psycopg keeps up to
    100 per connection, by SQL text and parameter types) and executed by name after that; the
    server plans it once it has seen five custom plans, and then reuses a generic plan. Elsewhere,
    and with CLOSELOOP_PG_PREPARE=0, the connection's usual cursor. Queries it runs are logged and
    counted as any other (Django's cursor wrapper)."""
    conn = connections[db]
    if not prepares(db):
        return conn.cursor()
    global _prepared_cursor_class
    if _prepared_cursor_class is None:
        from django.db.backends.postgresql.base import ServerBindingCursor
        from psycopg import adapt
        from psycopg._preparing import Prepare

        class PreparedCursor(ServerBindingCursor):
            def execute(self, query, params=None, *, prepare=True, binary=None):
                return super().execute(query, params, prepare=prepare, binary=binary)

            def is_prepared(self, query, params) -> bool:
                """Whether the connection has `query` prepared already. psycopg deallocates every
                statement on a rollback (of a transaction or to a savepoint) and on DROP/ALTER;
                its prepare manager says what it will do (pinned below psycopg 4; the tests of
                core.compiled fail if this changes)."""
                pgq = self._query_cls(adapt.Transformer(self))
                pgq.convert(query, params)
                return self._conn._prepared.get(pgq, True)[0] is Prepare.YES

        _prepared_cursor_class = PreparedCursor
    conn.close_if_health_check_failed()
    conn.ensure_connection()
    with conn.wrap_database_errors:
        return conn._prepare_cursor(_prepared_cursor_class(conn.connection))


def fetch(db: str, sql: str, params, *, one: bool = False, fixed_order: bool = False) -> list:
    """The rows of constant SQL (`prepared_cursor`): all of them, or at most one.

    `fixed_order`: the joins keep their written order whenever PostgreSQL plans the statement
    (core.planner): without prepared statements on every call; with them only for the calls on
    which the server still plans it (the first six on each connection), so later calls need no
    transaction and no settings."""
    if fixed_order and connections[db].vendor == "postgresql":
        if not prepares(db):
            with fixed_join_order():
                return _fetch(db, sql, params, one)
        with prepared_cursor(db) as cur:
            raw = cur.cursor
            runs = _runs.get(raw.connection)
            if runs is None:
                runs = _runs[raw.connection] = {}
            n = runs.get(sql, 0) if raw.is_prepared(sql, params) else 0
            if n < _PLANNED_AFTER:
                runs[sql] = n + 1
                with fixed_join_order():
                    return _rows(cur, sql, params, one)
            return _rows(cur, sql, params, one)
    return _fetch(db, sql, params, one)


def _fetch(db: str, sql: str, params, one: bool) -> list:
    with prepared_cursor(db) as cur:
        return _rows(cur, sql, params, one)


def _rows(cur, sql: str, params, one: bool) -> list:
    cur.execute(sql, params)
    return cur.fetchmany(1) if one else cur.fetchall()


def _slot(params, sentinel) -> int:
    slots = [i for i, p in enumerate(params) if p == sentinel]
    if len(slots) != 1:
        raise ValueError(f"the sentinel must be exactly one parameter of the query (found {len(slots)})")
    return slots[0]


class CompiledRows:
    """`qs` compiled once, `sentinel` standing for its one changing parameter: `rows(value)` gives
    its rows as the database returns them (no field converters: for columns that need none, such
    as ids, text and integers), `count(value)` how many rows it has (a sliced `qs` bounds the count).
    Prepared on PostgreSQL as `fetch` is. The console's board: one query per page, run per column."""

    def __init__(self, qs, sentinel):
        sql, params = qs.query.get_compiler(using=qs.db).as_sql()
        self.sql, self.params, self.slot, self.db = sql, list(params), _slot(params, sentinel), qs.db
        self.count_sql = f"SELECT COUNT(*) FROM ({sql}) counted"

    def _params(self, value) -> list:
        params = list(self.params)
        params[self.slot] = value
        return params

    def rows(self, value) -> list:
        return fetch(self.db, self.sql, self._params(value))

    def count(self, value) -> int:
        return fetch(self.db, self.count_sql, self._params(value))[0][0]


class Compiled:
    def __init__(self, qs, sentinel, *, fixed_order: bool = False):
        compiler = qs.query.get_compiler(using=qs.db)
        sql, params = compiler.as_sql()
        self.sql, self.params, self.slot, self.db, self.model = sql, list(params), _slot(params, sentinel), qs.db, qs.model
        self.compiler, self.fixed_order = compiler, fixed_order
        select, klass_info = compiler.select, compiler.klass_info
        self.converters = compiler.get_converters([s[0] for s in select[:compiler.col_count]])
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.init_list = [f[0].target.attname for f in select[self.start:self.end]]
        # Django 6.1's fetch modes (the queryset's, FETCH_ONE unless set) reach the instances as in
        # ModelIterable; pinned below 6.2 in pyproject.toml, and the tests compare with the queryset.
        self.fetch_mode = qs._fetch_mode
        self.populators = get_related_populators(klass_info, select, self.db, self.fetch_mode)

    def first(self, value):
        """The first row for `value` as a model instance (with its select_related objects), or None."""
        rows = self._run(value, one=True)
        return rows[0] if rows else None

    def all(self, value) -> list:
        """Every row for `value`, as model instances."""
        return self._run(value, one=False)

    def _run(self, value, *, one: bool) -> list:
        params = list(self.params)
        params[self.slot] = value
        rows = fetch(self.db, self.sql, params, one=one, fixed_order=self.fixed_order)
        if self.converters:
            rows = self.compiler.apply_converters(rows, self.converters)
        out = []
        for row in rows:
            obj = self.model.from_db(self.db, self.init_list, row[self.start:self.end], fetch_mode=self.fetch_mode)
            for populator in self.populators:
                populator.populate(row, obj)
            out.append(obj)
        return out
