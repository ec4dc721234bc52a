"""CSV export: the list's filters and its visibility, formulas neutralised, streamed."""

import csv
import io

import pytest
from django.test import Client

from .factories import make_wo


def _export(user, **params):
    c = Client()
    c.force_login(user)
    r = c.get("/work-orders/export.csv", params)
    body = b"".join(r.streaming_content).decode("utf-8") if r.status_code == 200 else r.content.decode()
    return r, body


def _codes(body):
    return {row[0] for row in list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))[1:]}


def test_export_has_a_header_and_the_visible_rows(world):
    a, b = make_wo(world), make_wo(world, org="b")
    r, body = _export(world.dispatcher)
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    assert "attachment" in r["Content-Disposition"] and body.startswith("\ufeff")
    assert _codes(body) == {a.code, b.code}
    assert "呼吸机报警" in body


@pytest.mark.parametrize("who,org", [("cust_a", "a"), ("cust_b", "b"), ("eng_x", "a"), ("eng_y", "b")])
def test_each_user_exports_only_what_they_may_see(world, who, org):
    a, b = make_wo(world), make_wo(world, org="b")
    _r, body = _export(getattr(world, who))
    assert _codes(body) == {a.code if org == "a" else b.code}


def test_filters_apply_and_formulas_are_neutralised(world):
    make_wo(world, title="普通")
    evil = make_wo(world, title="=HYPERLINK(\"http://x\")")
    _r, body = _export(world.dispatcher, q="HYPERLINK")
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))[1:]
    assert [r[0] for r in rows] == [evil.code]
    assert rows[0][1].startswith("'=")


def test_the_row_cap_holds(world, settings):
    settings.EXPORT_MAX_ROWS = 2
    for _ in range(3):
        make_wo(world)
    _r, body = _export(world.dispatcher)
    assert len(_codes(body)) == 2


def test_anonymous_is_sent_to_log_in():
    r = Client().get("/work-orders/export.csv")
    assert r.status_code == 302 and "/login" in r["Location"]


def test_unknown_filter_values_are_ignored_as_in_the_list(world):
    from closeloop.workorders.lifecycle import S

    new, assigned = make_wo(world), make_wo(world, status=S.ASSIGNED)
    _r, body = _export(world.dispatcher, status="bogus", priority="nope")
    assert _codes(body) == {new.code, assigned.code}
    _r, body = _export(world.dispatcher, status=["bogus", "assigned"])
    assert _codes(body) == {assigned.code}
