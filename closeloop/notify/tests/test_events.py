"""Work order events that notify by themselves: "assigned to you" and watchers."""

import pytest
from django.apps import apps

from closeloop.notify.conftest import drain
from closeloop.notify.models import InboxItem
from closeloop.workorders import services as wo_services
from closeloop.workorders.tests.factories import make_wo

pytestmark = pytest.mark.django_db


def test_the_new_assignee_hears_it_once(world):
    wo = make_wo(world)
    wo_services.do_transition(actor=world.dispatcher, wo=wo, action="assign", data={"assignee": "eng_x"})
    drain()
    drain()
    items = list(InboxItem.objects.filter(user=world.eng_x, event="work_order.assigned"))
    assert len(items) == 1 and wo.code in items[0].subject
    assert not InboxItem.objects.filter(user=world.dispatcher).exists()


def test_reassigning_tells_the_next_engineer(world):
    wo = make_wo(world)
    wo_services.do_transition(actor=world.dispatcher, wo=wo, action="assign", data={"assignee": "eng_x"})
    wo_services.do_transition(actor=world.dispatcher, wo=wo, action="assign", data={"assignee": "eng_x2"})
    drain()
    assert InboxItem.objects.filter(user=world.eng_x2, event="work_order.assigned").count() == 1
    assert InboxItem.objects.filter(user=world.eng_x, event="work_order.assigned").count() == 1


def test_watchers_hear_status_changes_but_not_their_own(world):
    try:
        watcher = apps.get_model("workorders", "WorkOrderWatcher")
    except LookupError:
        pytest.skip("no watcher model")
    wo = make_wo(world)
    fields = {f.name for f in watcher._meta.get_fields()}
    extra = {"added_at": wo.created_at} if "added_at" in fields else {}
    watcher.objects.create(work_order=wo, user=world.manager, **extra)
    watcher.objects.create(work_order=wo, user=world.dispatcher, **extra)
    wo_services.do_transition(actor=world.dispatcher, wo=wo, action="assign", data={"assignee": "eng_x"})
    drain()
    got = list(InboxItem.objects.filter(event="work_order.watched"))
    assert [i.user for i in got] == [world.manager]
    assert wo.code in got[0].subject
