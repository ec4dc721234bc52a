"""access_work_order_by_code runs a query compiled once per visibility (core.compiled): it must
find exactly what the plain queryset finds, for every persona and work order, with the same
field values and related objects."""

import pytest
from django.db import connection

from closeloop.core.errors import NotFound
from closeloop.sla.models import SLATarget
from closeloop.sla.selectors import ledger_for
from closeloop.workorders import selectors

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


def test_every_persona_finds_what_the_queryset_finds(world, django_assert_num_queries):
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
                # One query (PostgreSQL: and the planner's SET LOCAL of core.planner).
                with django_assert_num_queries(1 + (connection.vendor == "postgresql")):
                    got = selectors.access_work_order_by_code(user, code)
                    assert _snapshot(got) == _snapshot(plain), (user.username, wo.code)
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
