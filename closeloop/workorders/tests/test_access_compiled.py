"""access_work_order_by_code runs a query compiled once per visibility (core.compiled): it must
find exactly what the plain queryset finds, for every persona and work order, with the same
field values and related objects."""

import contextlib

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from closeloop.core.errors import NotFound
from closeloop.sla.models import SLATarget
from closeloop.sla.selectors import ledger_for
from closeloop.workorders import selectors
from closeloop.workorders.models import WorkOrder

from .factories import make_wo

RELATED = ("wo_type", "customer", "site", "assignee", "team", "asset", "contact", "created_by")


def _fields(obj):
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def _snapshot(wo):
    out = {"self": _fields(wo)}
    for name in RELATED:
        rel = getattr(wo, name)
        out[name] = _fields(rel) if rel is not None else None
    return out


def test_every_persona_finds_what_the_queryset_finds(world):
    a1 = make_wo(world, org="a")
    a2 = make_wo(world, org="a", assignee=world.eng_x, team=world.team_x)
    b1 = make_wo(world, org="b", team=world.team_y)
    personas = [world.admin, world.manager, world.dispatcher, world.finance, world.eng_x, world.eng_x2,
                world.eng_y, world.cust_a, world.cust_b]
    for user in personas:
        for wo in (a1, a2, b1):
            plain = selectors.visible_work_orders(user).select_related(*RELATED).filter(code=wo.code).first()
            for code in (wo.code, wo.code.lower(), f" {wo.code} "):
                if plain is None:
                    with pytest.raises(NotFound):
                        selectors.access_work_order_by_code(user, code)
                    continue
                # One query (PostgreSQL: a prepared statement, with the planner's SET LOCAL while
                # the server still plans it on this connection: core.compiled.fetch).
                with CaptureQueriesContext(connection) as ctx:
                    got = selectors.access_work_order_by_code(user, code)
                assert _snapshot(got) == _snapshot(plain), (user.username, wo.code)
                sqls = [q["sql"] for q in ctx.captured_queries]
                assert len([q for q in sqls if "join_collapse_limit" not in q]) == 1, sqls
    with pytest.raises(NotFound):
        selectors.access_work_order_by_code(world.admin, "WD000")


def test_a_users_visibility_change_is_seen_at_once(world):
    wo = make_wo(world, org="b", team=world.team_y)
    with pytest.raises(NotFound):
        selectors.access_work_order_by_code(world.eng_x, wo.code)
    world.eng_x.team = world.team_y  # moved to the other team: the key changes with it
    world.eng_x.save()
    assert selectors.access_work_order_by_code(world.eng_x, wo.code).pk == wo.pk
    world.eng_x.is_active = False
    with pytest.raises(NotFound):
        selectors.access_work_order_by_code(world.eng_x, wo.code)


def test_the_compiled_sla_ledger_equals_the_queryset(world):
    from closeloop.sla.tests.helpers import calendars, policy
    from closeloop.workorders import services

    china, _always = calendars()
    policy("std", china)
    wos = [services.do_create_work_order(actor=world.dispatcher, data={
        "type": "repair", "title": f"呼吸机报警 {i}", "customer": "org-a", "site": "site-a"}) for i in range(2)]
    for wo in wos:
        plain = {t.pk: t for t in SLATarget.objects.filter(work_order=wo).select_related("policy", "calendar")}
        got = ledger_for(wo)
        assert len(got) == 4 and {t.pk for t in got} == set(plain)
        assert [t.milestone for t in got] == ["response", "arrival", "resolution", "closure"]
        for t in got:
            assert _fields(t) == _fields(plain[t.pk])
            assert _fields(t.policy) == _fields(plain[t.pk].policy)
            assert _fields(t.calendar) == _fields(plain[t.pk].calendar)



@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_postgresql_prepares_the_get_once_and_then_reuses_a_generic_plan(world):
    wo = make_wo(world, org="a")
    _roll_back()  # nothing prepared on the connection
    for _ in range(8):
        assert selectors.access_work_order_by_code(world.admin, wo.code).pk == wo.pk
    compiled = selectors._by_code[(connection.vendor, "all")]
    # psycopg sends the SQL with $n placeholders; PostgreSQL keeps it as sent.
    with connection.cursor() as cur:
        cur.execute("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
        rows = {r[0]: r[1:] for r in cur.fetchall()}
    sql = compiled.sql.replace("%s", "$1")
    assert sql in rows, list(rows)
    generic, custom = rows[sql]
    assert custom <= 5 and generic >= 3  # five custom plans at most, then the generic one each time


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_the_joins_keep_their_order_only_while_postgresql_plans_the_get(world, django_assert_num_queries):
    wo = make_wo(world, org="a")

    def planner_settings(times: int) -> list[int]:
        seen = []
        for _ in range(times):
            with CaptureQueriesContext(connection) as ctx:
                selectors.access_work_order_by_code(world.admin, wo.code)
            seen.append(sum("join_collapse_limit" in q["sql"] for q in ctx.captured_queries))
        return seen

    _roll_back()  # psycopg deallocates every prepared statement on a rollback
    assert planner_settings(9) == [1] * 6 + [0] * 3
    _roll_back()  # and the server plans the statement afresh once it is prepared again
    assert planner_settings(8) == [1] * 6 + [0] * 2


def _roll_back():
    with contextlib.suppress(RuntimeError), transaction.atomic():
        WorkOrder.objects.update(title="x")
        raise RuntimeError


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_without_prepared_statements_the_joins_keep_their_order(world, settings, django_assert_num_queries):
    settings.CLOSELOOP_PG_PREPARE = False
    wo = make_wo(world, org="a")
    with django_assert_num_queries(2) as ctx:  # the planner's SET LOCAL (core.planner), then the select
        assert selectors.access_work_order_by_code(world.admin, wo.code).pk == wo.pk
    assert "join_collapse_limit" in ctx.captured_queries[0]["sql"]
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cur.fetchone()[0] == 0
