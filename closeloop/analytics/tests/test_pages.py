"""The analytics pages: who sees them, the drill-down to the list, the exports."""

import io
import re

import pytest
import time_machine

from closeloop.analytics import refresh

from .test_measures import T0, story  # noqa: F401 - the scripted work orders

PARAMS = "?from=2026-11-01&to=2026-11-07"


def get(world, who, url):
    return world.browser_client(who).get(url)


def links(body: str) -> list[str]:
    return [u.replace("&amp;", "&") for u in re.findall(r'href="(/work-orders/\?drill=[^"]+)"', body)]


def codes_on_list(world, who, url) -> set[str]:
    body = get(world, who, url).content.decode()
    return set(re.findall(r'data-code="([A-Z]+\d+)"', body)) or set(re.findall(r">([A-Z]{2}\d{13})<", body))


@pytest.mark.django_db
def test_manager_sees_figures_and_every_number_leads_to_its_work_orders(story):  # noqa: F811
    w = story["w"]
    with time_machine.travel(T0.replace(day=5), tick=False):
        r = get(w, w.manager, "/analytics/" + PARAMS)
        assert r.status_code == 200
        body = r.content.decode()
        assert "data-testid=\"kpi-handover3\"" in body and "dist/analytics." in body
        assert 'data-testid="analytics-fresh"' in body
        # the "3 or more hand-overs" figure lists exactly b
        url = next(u for u in links(body) if "handover3" in u)
        assert codes_on_list(w, w.manager, url) == {story["b"].code}
        heat = get(w, w.manager, "/analytics/heatmap/" + PARAMS)
        assert heat.status_code == 200
        hb = heat.content.decode()
        assert 'data-testid="top5-item"' in hb
        first = next(u for u in links(hb) if "m%3Dcell" in u)  # the worst cell comes first
        assert codes_on_list(w, w.manager, first) == {story["a"].code}


@pytest.mark.django_db
def test_who_sees_analytics(story):  # noqa: F811
    w = story["w"]
    assert get(w, w.dispatcher, "/analytics/" + PARAMS).status_code == 200
    assert get(w, w.finance, "/analytics/" + PARAMS).status_code == 403
    assert get(w, w.cust_a, "/analytics/heatmap/" + PARAMS).status_code == 403
    from django.test import Client

    assert Client().get("/analytics/").status_code == 302  # to the login page
    # an engineer sees their own team's figures only, whatever the query string says
    r = get(w, w.eng_y, "/analytics/" + PARAMS + "&team=team-x")
    assert r.status_code == 200
    assert 'name="team"' not in r.content.decode()
    assert r.context["values"]["team"] == "team-y"


@pytest.mark.django_db
def test_exports(story):  # noqa: F811
    from openpyxl import load_workbook

    w = story["w"]
    r = get(w, w.manager, "/analytics/export/kpis.csv" + PARAMS)
    text = b"".join(r.streaming_content).decode("utf-8-sig")
    assert r.status_code == 200
    assert "新建工单,3,0," in text or "Work orders created,3,0," in text  # this period, the previous one
    r = get(w, w.manager, "/analytics/export/heatmap.xlsx" + PARAMS)
    wb = load_workbook(io.BytesIO(b"".join(r.streaming_content)))
    rows = list(wb.active.values)
    assert len(rows) > 3
    assert get(w, w.manager, "/analytics/export/nothing.csv").status_code == 404


@pytest.mark.django_db
def test_bad_drill_is_a_message_not_a_500(story):  # noqa: F811
    w = story["w"]
    r = get(w, w.manager, "/work-orders/?drill=m%3Dcell%26state%3Dnope")
    assert r.status_code == 200
    r = get(w, w.manager, "/work-orders/?drill=m%3Dwo%26from%3Dxx")
    assert r.status_code == 200
    refresh.catch_up()
