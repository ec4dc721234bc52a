"""Stock never goes negative when engineers draw the last bottles at the same instant, and a
replayed operation id draws once, on real concurrent connections (SQLite file or PostgreSQL)."""

from decimal import Decimal

import pytest

from closeloop.core.testing import run_at_once
from closeloop.parts import services
from closeloop.parts.models import Movement
from closeloop.workorders.lifecycle import S
from closeloop.workorders.tests.factories import make_wo

from .helpers import level, stock_world

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_issues_never_go_negative(world):
    s = stock_world(world, bottles=3)
    wo = make_wo(world, status=S.IN_PROGRESS)
    results, errors = run_at_once(6, lambda i: services.issue_to_work_order(
        actor=world.eng_x, part=s["r410"], location=s["van_x"], qty=Decimal(1), work_order=wo))
    assert level(s["r410"], s["van_x"]) == 0
    assert Movement.objects.filter(kind="issue").count() == 3
    assert len(errors) == 3 and all(getattr(e, "status", None) == 409 for e in errors), errors
    assert all("R410A-10" in str(e) for e in errors)


def test_concurrent_replays_of_one_operation_draw_once(world):
    s = stock_world(world, bottles=3)
    wo = make_wo(world, status=S.IN_PROGRESS)
    results, errors = run_at_once(5, lambda i: services.issue_to_work_order(
        actor=world.eng_x, part=s["r410"], location=s["van_x"], qty=Decimal(1), work_order=wo, key="phone-op-7"))
    assert not errors, errors
    assert len({m.pk for m in results}) == 1
    assert level(s["r410"], s["van_x"]) == 2


def test_phone_replays_at_the_same_instant_record_and_draw_once(world):
    from closeloop.fieldwork import services as fieldwork
    from closeloop.fieldwork.models import PartUsed

    s = stock_world(world, bottles=3)
    wo = make_wo(world, status=S.IN_PROGRESS)
    results, errors = run_at_once(4, lambda i: fieldwork.do_add_part(
        actor=world.eng_x, wo=wo, name="", part_number="R410A-10", quantity=1, key="phone-op-9"))
    assert not errors, errors
    assert PartUsed.objects.filter(work_order=wo).count() == 1
    assert level(s["r410"], s["van_x"]) == 2
