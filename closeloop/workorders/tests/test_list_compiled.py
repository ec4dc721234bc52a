"""The API's list runs SQL compiled once per filter shape and visibility (selectors._ListSQL): it must
return exactly the rows the ORM builds for the same filter, for every persona, filter shape, value
and page, including after the same shape was compiled with other values."""

import pytest

from closeloop.workorders import selectors
from closeloop.workorders.lifecycle import S
from closeloop.workorders.selectors import ROW_FIELDS, WorkOrderFilter

from .factories import make_wo


def _orm_page(user, f, cursor, limit):
    """The reference: the ORM, every time."""
    qs = selectors.filter_work_orders(user, f).values_list(*ROW_FIELDS).order_by("-id")
    if cursor:
        qs = qs.filter(id__lt=selectors.decode_cursor(cursor))
    rows = list(qs[: limit + 1])
    nxt = selectors.encode_cursor(rows[limit - 1][0]) if len(rows) > limit else None
    return rows[:limit], nxt


FILTERS = [
    {},
    {"status": [S.ASSIGNED]},
    {"status": [S.NEW, S.ASSIGNED]},
    {"status": [S.ASSIGNED, S.ASSIGNED]},
    {"priority": ["urgent"]},
    {"priority": ["low", "urgent"], "status": [S.NEW]},
    {"team": "team-x"},
    {"team": "team-y"},
    {"team": "nope"},
    {"status": [S.ASSIGNED], "team": "team-x"},
    {"status": [S.ASSIGNED], "team": "team-y"},
    {"type": "repair"},
    {"type": "production"},
    {"assignee": "eng_x"},
    {"assignee": "eng_y"},
    {"assignee": "none"},
    {"customer": "org-a"},
    {"customer": "org-b", "site": "site-b"},
    {"site": "site-a"},
    {"asset": "SN-A-1"},
    # Not compiled (the ORM each time), listed to show both paths agree on shape changes:
    {"q": "制冷"},
    {"tag": ["vip"]},
    {"breached": False},
]


def _world_orders(world):
    wos = []
    for i in range(7):
        wos.append(make_wo(world, org="a", status=S.ASSIGNED if i % 2 else S.NEW, priority="urgent" if i % 3 == 0
                           else "low", asset=world.asset_a if i % 2 else None, tags=["vip"] if i == 3 else []))
        wos.append(make_wo(world, org="b", status=S.ASSIGNED if i % 3 else S.IN_PROGRESS, title="电梯 困人",
                           custom={"shift": "早"}))
    wos.append(make_wo(world, org="a", team=None, site=None, customer=None, title="无团队"))
    return wos


@pytest.mark.parametrize("limit", [3, 25])
def test_compiled_list_equals_the_orm(world, limit):
    _world_orders(world)
    personas = [world.admin, world.dispatcher, world.manager, world.finance, world.eng_x, world.eng_x2,
                world.eng_y, world.cust_a, world.cust_b]
    for _round in range(2):  # the second round runs every shape from the per-process cache
        for user in personas:
            for values in FILTERS:
                if "tag" in values and user.role == "customer":
                    continue  # tags are internal (a 403)
                f = WorkOrderFilter(**values)
                cursor, pages = None, 0
                while True:
                    page = selectors.page_work_order_rows(user, f, cursor=cursor, limit=limit)
                    ref_rows, ref_next = _orm_page(user, f, cursor, limit)
                    assert [tuple(r) for r in page.items] == [tuple(r) for r in ref_rows], (user.username, values)
                    assert page.next_cursor == ref_next
                    pages += 1
                    if not page.next_cursor:
                        break
                    cursor = page.next_cursor
                assert pages <= 20


def test_shapes_are_compiled_once_and_values_go_in_at_run_time(world):
    _world_orders(world)
    selectors._list_cache.clear()
    a = selectors.page_work_order_rows(world.dispatcher, WorkOrderFilter(team="team-x"))
    b = selectors.page_work_order_rows(world.dispatcher, WorkOrderFilter(team="team-y"))
    assert len(selectors._list_cache) == 1 and None not in selectors._list_cache.values()
    assert a.items and b.items and {r[ROW_FIELDS.index("team__code")] for r in a.items} == {"team-x"}
    assert {r[ROW_FIELDS.index("team__code")] for r in b.items} == {"team-y"}
    # The customer's visibility is its own key: the dispatcher's SQL never serves it.
    c = selectors.page_work_order_rows(world.cust_a, WorkOrderFilter(team="team-y"))
    assert c.items == [] and len(selectors._list_cache) == 2 and None not in selectors._list_cache.values()
    # Every filter the list page and the API's queues use compiles (none is left to the ORM).
    for values in FILTERS[:20]:
        selectors.page_work_order_rows(world.eng_x, WorkOrderFilter(**values), cursor=a.next_cursor or "aWQ6OTk")
        selectors.page_work_order_rows(world.eng_x, WorkOrderFilter(**values))
    assert None not in selectors._list_cache.values()
    # A search is the ORM's each time (no entry).
    n = len(selectors._list_cache)
    selectors.page_work_order_rows(world.dispatcher, WorkOrderFilter(q="电梯"))
    assert len(selectors._list_cache) == n


def test_a_users_visibility_change_is_seen_at_once(world):
    wo = make_wo(world, org="b", team=world.team_y)
    f = WorkOrderFilter()
    assert wo.pk not in [r[0] for r in selectors.page_work_order_rows(world.eng_x, f).items]
    world.eng_x.team = world.team_y
    world.eng_x.save()
    assert wo.pk in [r[0] for r in selectors.page_work_order_rows(world.eng_x, f).items]
    world.eng_x.is_active = False
    assert selectors.page_work_order_rows(world.eng_x, f).items == []


def test_a_bad_cursor_is_a_field_error(world):
    from closeloop.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        selectors.page_work_order_rows(world.dispatcher, WorkOrderFilter(), cursor="nope")


def test_each_reference_filter_matches_the_work_orders_pointing_at_that_key(world):
    """The type, team, assignee, customer, site and asset filters match a reference by its key
    through a subquery for its id (selectors._id_of): the same work orders as reading the key off
    each work order, none for a key that does not exist, and the assignee `none` for unassigned."""
    from closeloop.workorders.models import WorkOrder

    _world_orders(world)
    everything = list(WorkOrder.objects.select_related("wo_type", "team", "assignee", "customer", "site", "asset"))
    keys = {
        "type": lambda wo: wo.wo_type.key,
        "team": lambda wo: wo.team and wo.team.code,
        "assignee": lambda wo: wo.assignee and wo.assignee.username,
        "customer": lambda wo: wo.customer and wo.customer.code,
        "site": lambda wo: wo.site and wo.site.code,
        "asset": lambda wo: wo.asset and wo.asset.serial_number,
    }
    for name, key_of in keys.items():
        values = {key_of(wo) for wo in everything} - {None}
        assert values, name
        for value in [*values, "nope"]:
            expected = sorted((wo.pk for wo in everything if key_of(wo) == value), reverse=True)
            f = WorkOrderFilter(**{name: value})
            assert [r[0] for r in selectors.page_work_order_rows(world.admin, f, limit=100).items] == expected
            assert [wo.pk for wo in selectors.page_work_orders(world.admin, f, limit=100).items] == expected
    unassigned = sorted((wo.pk for wo in everything if wo.assignee_id is None), reverse=True)
    f = WorkOrderFilter(assignee="none")
    assert [r[0] for r in selectors.page_work_order_rows(world.admin, f, limit=100).items] == unassigned


def test_a_team_queue_is_read_from_the_team_index_in_order(world):
    """SQLite's plan for a team's queue: the (team, status, id) index, newest first, no sort (on
    PostgreSQL the plan depends on statistics; at 1M work orders it is the same index,
    docs/performance.md)."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's plans do not depend on statistics")
    from closeloop.accounts.models import User

    user = User(username="plan", is_superuser=True, is_active=True)
    qs = selectors.filter_work_orders(user, WorkOrderFilter(status=[S.ASSIGNED], team="team-x")).order_by("-id")
    plan = qs.explain()
    assert "wo_team_status_id" in plan and "TEMP B-TREE" not in plan, plan
