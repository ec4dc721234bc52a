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


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
@pytest.mark.parametrize("bulk", [True, False])
def test_the_list_page_row_from_columns_equals_the_template_of_the_work_order(world, lang, bulk):
    """The list page renders workorders.rows.ListRow (the compiled list query's columns), not work
    orders: each row, SLA slot included (listing row_html), is what the template gives for the
    work order itself, for every relation present or missing and names that need escaping."""
    from django.template import engines

    from closeloop.console.selectors import decorate
    from closeloop.workorders import listing
    from closeloop.workorders.rows import list_rows

    world.eng_y.display_name = ""
    world.eng_y.first_name, world.eng_y.last_name = "Ann", "<Lee>"
    world.eng_y.save()
    world.eng_x.display_name = "王工"
    world.eng_x.save()
    make_wo(world, title='<b>"呼吸机" & \'x\'</b>', priority="urgent", fault_code="E<1>")
    make_wo(world, org="b", status=S.ASSIGNED, priority="low", assignee=world.eng_y)
    make_wo(world, status=S.IN_PROGRESS, priority="high", site=None, team=None)
    make_wo(world, status=S.NEW, site=None, customer=None, priority="normal")
    make_wo(world, org="b", status=S.ASSIGNED, customer=None)
    wos = {wo.code: wo for wo in selectors.visible_work_orders(world.dispatcher).select_related(*selectors.LIST_RELATED)}
    rows = list_rows(selectors.page_work_order_rows(world.dispatcher, selectors.WorkOrderFilter(), limit=50).items)
    assert len(rows) == len(wos) >= 5
    # Real SLA targets would come from the SLA app; the badge reads only `sla_due`, which decorate sets.
    decorate(rows)
    decorate(list(wos.values()))
    rows[0].sla_due = wos[rows[0].code].sla_due = now() + timedelta(minutes=30)
    rows[1].sla_due = wos[rows[1].code].sla_due = now() - timedelta(hours=2)
    tag = engines["django"].from_string("{% load workorders_rows %}{% list_row wo %}")
    with translation.override(lang):
        for row in rows:
            ctx = {"bulk": bulk, "list_slots": listing.list_slots()}
            assert (tag.render({**ctx, "wo": row})
                    == render_to_string("workorders/_list_row.html", {**ctx, "wo": wos[row.code]})), row.code
