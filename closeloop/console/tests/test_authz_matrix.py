"""Authorization matrix over every page and endpoint of the staff console:
two customer organisations (cust_a/org-a, cust_b/org-b), two engineering teams
(eng_x/team-x, eng_y/team-y), dispatcher, manager, anonymous. Another organisation's or
team's work order is a 404 (never a 403 that confirms it exists) and never appears in
lists, board, lookups, counts or live updates."""

import pytest

from closeloop.console.models import Queue
from closeloop.workorders.models import WorkOrder
from closeloop.workorders.tests.factories import SEES, USERS, client, make_two, shown

pytestmark = pytest.mark.django_db

@pytest.fixture
def two(world):
    return make_two(world)


@pytest.mark.parametrize("who", USERS)
def test_lists_board_changes_and_lookup_show_only_visible(world, two, who):
    c = client(world, who)
    sees = SEES[who]
    pages = {
        "list": "/work-orders/",
        "board": "/board/",
        "changes-list": "/console/changes?since=0&view=list",
        "changes-board": "/console/changes?since=0&view=board",
    }
    for name, url in pages.items():
        r = c.get(url)
        if who == "anon":
            assert r.status_code == 302 and "/login/" in r["Location"], name
            continue
        if name == "board" and who.startswith("cust"):
            assert r.status_code == 404
            continue
        assert r.status_code == 200, (name, r.status_code)
        assert shown(r.content.decode(), two) == sees, name
    # Lookup by each kind of id: code, external reference, asset serial, phone.
    for key, q in [("a", two["a"].code), ("b", two["b"].code), ("a", "CRM-A-77"), ("b", "PO-B-88"),
                   ("a", "SN-A-1"), ("b", "SN-B-1"), ("a", world.contact_a.phone)]:
        r = c.get("/lookup/", {"q": q})
        if who == "anon":
            assert r.status_code == 302
            continue
        body = r.content.decode()
        # (the query itself is echoed in the search box: look at the results)
        assert (f'data-code="{two[key].code}"' in body) == (key in sees), (who, q)
        other = "b" if key == "a" else "a"
        assert f'data-code="{two[other].code}"' not in body
        if q.startswith("SN-"):
            # The asset card itself (name, serial) only for those who may see the asset.
            assert ('data-testid="lookup-asset"' in body) == (key in sees), (who, q)


@pytest.mark.parametrize("who", USERS)
def test_dashboard_only_for_dispatch_roles(world, two, who):
    r = client(world, who).get("/dashboard/")
    if who == "anon":
        assert r.status_code == 302
    elif who in ("dispatcher", "manager"):
        assert r.status_code == 200
        assert 'data-testid="kpi-backlog"' in r.content.decode()
    else:
        assert r.status_code == 403 and 'data-testid="kpi-backlog"' not in r.content.decode()


@pytest.mark.parametrize("who", USERS)
def test_bulk_actions_touch_only_what_the_user_may_change(world, two, who):
    c = client(world, who)
    r = c.post("/console/bulk", {"codes": [two["a"].code, two["b"].code], "action": "cancel", "reason": "重复"})
    states = {k: WorkOrder.objects.get(pk=wo.pk).status for k, wo in two.items()}
    if who == "anon":
        assert r.status_code == 302 and "/login/" in r["Location"]
    elif who.startswith("cust"):
        assert r.status_code == 404
    if who in ("dispatcher", "manager"):
        assert states == {"a": "cancelled", "b": "cancelled"}
    else:
        assert states == {"a": "assigned", "b": "assigned"}


@pytest.mark.parametrize("who", USERS)
def test_queues_are_per_team_or_personal(world, two, who):
    from closeloop.core.clock import now

    qx = Queue.objects.create(name="X 队列", team=world.team_x, filters={"team": "team-x"}, created_at=now())
    mine = Queue.objects.create(name="dispatcher 私有", owner=world.dispatcher, filters={}, created_at=now())
    c = client(world, who)
    r = c.get("/work-orders/")
    if who == "anon":
        assert r.status_code == 302
        return
    body = r.content.decode()
    assert ("X 队列" in body) == (who in ("eng_x", "dispatcher", "manager"))
    assert ("dispatcher 私有" in body) == (who == "dispatcher")
    # Someone else's personal queue cannot be applied or deleted.
    r = c.post(f"/console/queues/{mine.pk}/delete")
    if who == "dispatcher":
        assert r.status_code == 302 and not Queue.objects.filter(pk=mine.pk).exists()
    else:
        assert r.status_code == 404 and Queue.objects.filter(pk=mine.pk).exists()
    # Applying a queue never widens visibility.
    r = c.get(f"/work-orders/?queue={qx.pk}")
    assert shown(r.content.decode(), two) <= SEES[who]
