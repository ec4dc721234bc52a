"""Planner settings apply to the hot read that asks for them, not to every connection."""

import pytest
from django.db import connection

from closeloop.core.planner import fixed_join_order

pytestmark = pytest.mark.django_db(transaction=True)


def _setting(name: str) -> str:
    with connection.cursor() as cur:
        cur.execute(f"SHOW {name}")
        return cur.fetchone()[0]


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_only_inside_the_block_on_postgresql():
    assert _setting("join_collapse_limit") == "8" and _setting("from_collapse_limit") == "8"
    with fixed_join_order():
        assert _setting("join_collapse_limit") == "1" and _setting("from_collapse_limit") == "1"
    assert _setting("join_collapse_limit") == "8"  # SET LOCAL ended with its transaction


def test_a_no_op_elsewhere(django_assert_num_queries):
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL: see the test above")
    with django_assert_num_queries(0), fixed_join_order():
        pass
