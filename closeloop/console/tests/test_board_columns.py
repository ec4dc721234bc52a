"""The board's columns from narrow rows (selectors.BoardCard, one compiled query run per state):
each card's moves equal moves_for on the work order itself for every user who opens the board
(the moves are computed once per distinct _moves_key), the cards and counts equal the ORM's, and
a full column's count stops at BOARD_COUNT_CAP (shown as "N+")."""

import pytest
from django.conf import settings

from closeloop.console import selectors
from closeloop.workorders import selectors as wo_selectors
from closeloop.workorders.lifecycle import OPEN_STATES, S
from closeloop.workorders.models import WorkOrder
from closeloop.workorders.tests.factories import make_wo


@pytest.fixture
def board(world):
    for state in OPEN_STATES:
        make_wo(world, status=state)
        make_wo(world, org="b", status=state)
    make_wo(world, org="b", status=S.ASSIGNED, assignee=world.eng_x)
    make_wo(world, status=S.NEW, customer=None, site=None, team=None)
    return world


@pytest.mark.parametrize("who", ["dispatcher", "manager", "eng_x", "eng_y", "admin"])
def test_each_card_has_the_moves_and_columns_of_its_work_order(board, who):
    user = getattr(board, who)
    f = wo_selectors.WorkOrderFilter()
    cols = selectors.board_columns(user, f)
    assert [c["state"] for c in cols] == selectors.BOARD_STATES
    seen = 0
    for col in cols:
        expected = list(wo_selectors.filter_work_orders(user, f).filter(status=col["state"]).order_by("-id"))
        assert [c.code for c in col["items"]] == [wo.code for wo in expected][:selectors.BOARD_LIMIT]
        assert col["count"] == len(expected) and not col["capped"]
        for card in col["items"]:
            wo = WorkOrder.objects.get(code=card.code)
            assert card.moves == selectors.moves_for(user, wo), (who, card.code)
            assert (card.assignee.username if card.assignee else None) == (wo.assignee.username if wo.assignee
                                                                            else None)
            assert str(card.assignee or "") == str(wo.assignee or "")
            assert (card.site and card.site.name) == (wo.site and wo.site.name)
            seen += 1
    assert seen == wo_selectors.filter_work_orders(user, f).filter(status__in=selectors.BOARD_STATES).count() > 0


def test_a_full_column_is_counted_up_to_the_cap(board, monkeypatch):
    monkeypatch.setattr(selectors, "BOARD_LIMIT", 2)
    monkeypatch.setattr(selectors, "BOARD_COUNT_CAP", 3)
    for _ in range(3):
        make_wo(board, status=S.IN_PROGRESS)
    make_wo(board, status=S.ACCEPTED)
    cols = {c["state"]: c for c in selectors.board_columns(board.dispatcher, wo_selectors.WorkOrderFilter())}
    assert len(cols[S.IN_PROGRESS]["items"]) == 2 and cols[S.IN_PROGRESS]["count"] == 3
    assert cols[S.IN_PROGRESS]["capped"]
    assert len(cols[S.ACCEPTED]["items"]) == 2 and cols[S.ACCEPTED]["count"] == 3  # exactly 3: also the cap
    assert cols[S.NEW]["count"] == 3 and cols[S.EN_ROUTE]["count"] == 2 and not cols[S.EN_ROUTE]["capped"]
    for lang, title in (("en", "3 or more work orders"), ("zh-hans", "3 个或更多工单")):
        c = board.browser_client(board.dispatcher)
        c.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
        page = c.get("/board/").content.decode()
        assert f'data-testid="column-count" data-capped title="{title}">3+</span>' in page, lang
        assert page.count("data-capped") == sum(col["capped"] for col in cols.values()) >= 3


def test_a_filtered_board_counts_within_the_filter(board):
    f = wo_selectors.WorkOrderFilter(team=board.team_y.code)
    cols = selectors.board_columns(board.dispatcher, f)
    assert sum(c["count"] for c in cols) == wo_selectors.filter_work_orders(board.dispatcher, f).filter(
        status__in=selectors.BOARD_STATES).count() > 0
    assert {card.team_id for c in cols for card in c["items"]} == {board.team_y.pk}
