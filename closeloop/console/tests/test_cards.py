"""`{% board_card wo %}` (Python) renders exactly what the card template renders, for every kind of
card: with and without an assignee, site, customer, SLA due time and moves, text that needs escaping,
in both languages."""

from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.utils import translation

from closeloop.console.templatetags.console_cards import card_html
from closeloop.core.clock import now
from closeloop.workorders import selectors
from closeloop.workorders.lifecycle import S
from closeloop.workorders.tests.factories import make_wo


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_python_card_equals_the_template(world, lang):
    world.eng_y.display_name = ""
    world.eng_y.first_name, world.eng_y.last_name = "Ann", "Lee"
    world.eng_y.save()
    world.eng_x.display_name = "王工"
    world.eng_x.save()
    make_wo(world, title='<b>"呼吸机" & \'x\'</b>', priority="urgent")
    make_wo(world, org="b", status=S.ASSIGNED, priority="low")
    make_wo(world, status=S.IN_PROGRESS, priority="high", site=None)
    make_wo(world, status=S.NEW, site=None, customer=None, priority="normal")
    make_wo(world, org="b", status=S.ASSIGNED, assignee=world.eng_y)
    wos = list(selectors.visible_work_orders(world.dispatcher).select_related(*selectors.LIST_RELATED)
               .order_by("id"))
    wos[0].moves = {"assigned": "assign", "cancelled": "cancel"}
    wos[1].moves = {}
    wos[1].sla_due = now() + timedelta(minutes=30)
    wos[2].sla_due = now() - timedelta(hours=2)
    wos[3].moves = {"x&y": "<a>"}
    with translation.override(lang):
        for wo in wos:
            assert card_html(wo) == render_to_string("console/_card.html", {"wo": wo}), wo.code


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
@pytest.mark.parametrize("bulk", [True, False])
def test_python_list_row_equals_the_template(world, lang, bulk):
    from django.template import engines

    from closeloop.workorders import listing

    world.eng_x.display_name = "王工"
    world.eng_x.save()
    make_wo(world, title='<b>"呼吸机" & \'x\'</b>', priority="urgent", fault_code="E<1>")
    make_wo(world, org="b", status=S.ASSIGNED, priority="low")
    make_wo(world, status=S.IN_PROGRESS, priority="high", site=None, team=None)
    make_wo(world, status=S.NEW, site=None, customer=None, priority="normal")
    make_wo(world, org="b", status=S.ASSIGNED, customer=None)
    wos = list(selectors.visible_work_orders(world.dispatcher).select_related(*selectors.LIST_RELATED)
               .order_by("id"))
    wos[1].sla_due = now() + timedelta(minutes=30)
    wos[2].sla_due = now() - timedelta(hours=2)
    tag = engines["django"].from_string("{% load workorders_rows %}{% list_row wo %}")
    with translation.override(lang):
        for wo in wos:
            ctx = {"wo": wo, "bulk": bulk, "list_slots": listing.list_slots()}
            assert tag.render(ctx) == render_to_string("workorders/_list_row.html", ctx), wo.code
