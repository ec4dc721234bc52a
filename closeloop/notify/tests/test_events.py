"""Work order events that notify by themselves: "assigned to you" and watchers."""

import pytest

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
    wo = make_wo(world)
    wo_services.do_add_watcher(actor=world.manager, wo=wo, user=world.manager)
    wo_services.do_add_watcher(actor=world.dispatcher, wo=wo, user=world.dispatcher)
    wo_services.do_transition(actor=world.dispatcher, wo=wo, action="assign", data={"assignee": "eng_x"})
    drain()
    got = list(InboxItem.objects.filter(event="work_order.watched"))
    assert [i.user for i in got] == [world.manager]
    assert wo.code in got[0].subject


def test_without_watchers_a_transition_queues_nothing_for_them(world):
    from closeloop.outbox.models import OutboxMessage

    wo = make_wo(world)
    wo_services.do_transition(actor=world.dispatcher, wo=wo, action="assign", data={"assignee": "eng_x"})
    assert not OutboxMessage.objects.filter(key__startswith="wo.watched:").exists()
