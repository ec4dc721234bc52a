"""An ORM query compiled once and run many times with another value.

Compiling a queryset with a handful of `select_related` joins costs more CPU than running it
(bench/api_inprocess.py: about two thirds of a get by code). `Compiled(qs, sentinel)` compiles
`qs` once — `sentinel` stands for the one parameter that changes — and `first(value)` or
`all(value)` runs the same SQL with `value` in its place, building the model instance and its related objects
exactly as the queryset would (Django's own converters and related populators).

Only for queries whose every other parameter is fixed for the cache key the caller chooses
(e.g. the user's visibility filter: `workorders.selectors.access_work_order_by_code`).
"""

from django.db import connections
from django.db.models.query import get_related_populators


class Compiled:
    def __init__(self, qs, sentinel):
        compiler = qs.query.get_compiler(using=qs.db)
        sql, params = compiler.as_sql()
        slots = [i for i, p in enumerate(params) if p == sentinel]
        if len(slots) != 1:
            raise ValueError(f"the sentinel must be exactly one parameter of the query (found {len(slots)})")
        self.sql, self.params, self.slot, self.db, self.model = sql, list(params), slots[0], qs.db, qs.model
        self.compiler = compiler
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
        with connections[self.db].cursor() as cur:
            cur.execute(self.sql, params)
            rows = cur.fetchmany(1) if one else cur.fetchall()
        if self.converters:
            rows = self.compiler.apply_converters(rows, self.converters)
        out = []
        for row in rows:
            obj = self.model.from_db(self.db, self.init_list, row[self.start:self.end], fetch_mode=self.fetch_mode)
            for populator in self.populators:
                populator.populate(row, obj)
            out.append(obj)
        return out
