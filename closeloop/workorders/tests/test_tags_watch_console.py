"""Tags and watching from the work order page."""

from django.test import Client

from closeloop.workorders.models import WorkOrder, WorkOrderWatcher

from .factories import make_wo


def _c(user):
    c = Client()
    c.force_login(user)
    return c


def test_editor_sets_tags_and_watches(world):
    wo = make_wo(world)
    c = _c(world.dispatcher)
    page = c.get(f"/work-orders/{wo.code}/").content.decode()
    assert 'data-testid="tags-form"' in page and 'data-testid="watch"' in page
    r = c.post(f"/work-orders/{wo.code}/tags", {"tags": "冷机, 夜班  vip"})
    assert r.status_code == 302
    assert WorkOrder.objects.get(pk=wo.pk).tags == ["冷机", "夜班", "vip"]
    c.post(f"/work-orders/{wo.code}/watch", {"watch": "1"})
    assert WorkOrderWatcher.objects.filter(work_order=wo, user=world.dispatcher).exists()
    assert 'data-testid="unwatch"' in c.get(f"/work-orders/{wo.code}/").content.decode()
    c.post(f"/work-orders/{wo.code}/watch", {"watch": "0"})
    assert not WorkOrderWatcher.objects.filter(work_order=wo).exists()


def test_bad_tags_are_refused_whole_and_named(world):
    wo = make_wo(world, )
    c = _c(world.dispatcher)
    r = c.post(f"/work-orders/{wo.code}/tags", {"tags": "ok, <bad>"}, follow=True)
    assert WorkOrder.objects.get(pk=wo.pk).tags in ([], None)
    assert "tags" in r.content.decode()


def test_engineer_of_another_team_and_customer_cannot(world):
    wo = make_wo(world)
    assert _c(world.eng_y).post(f"/work-orders/{wo.code}/watch", {"watch": "1"}).status_code == 404
    assert _c(world.cust_a).post(f"/work-orders/{wo.code}/tags", {"tags": "x"}).status_code == 302  # back, with a message
    assert WorkOrder.objects.get(pk=wo.pk).tags in ([], None)
    assert _c(world.cust_a).post(f"/work-orders/{wo.code}/watch", {"watch": "1"}).status_code == 302
    assert not WorkOrderWatcher.objects.exists()
