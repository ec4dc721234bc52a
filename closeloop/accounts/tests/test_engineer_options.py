"""`{% engineer_options %}` (Python, from accounts.selectors.engineer_choices' narrow rows) gives the
options the templates drew with `{% regroup engineers by team %}` over user models: the same groups,
labels, values and selection, with names that need escaping, an engineer without a team and one
with only a full name; and the bulk bar's flat form. Only inactive engineers and other roles are
left out."""

import re

import pytest
from django.template import engines

from closeloop.accounts.models import Role, Team, User
from closeloop.accounts.selectors import engineer_choices

REGROUP = """{% load i18n %}{% regroup engineers by team as by_team %}{% for group in by_team %}<optgroup label="{{ group.grouper|default:_('No team') }}">{% for e in group.list %}<option value="{{ e.username }}"{% if e.username == selected %} selected{% endif %}>{{ e }}</option>{% endfor %}</optgroup>{% endfor %}"""
FLAT = """{% for e in engineers %}<option value="{{ e.username }}">{{ e }}{% if e.team %} · {{ e.team.name }}{% endif %}</option>{% endfor %}"""


def _render(src, **ctx):
    return re.sub(r">\s+<", "><", engines["django"].from_string(src).render(ctx)).strip()


@pytest.fixture
def engineers(db):
    a = Team.objects.create(code="a", name='<A&"队>')
    b = Team.objects.create(code="b", name="B 组")
    User.objects.create(username="wang", role=Role.ENGINEER, display_name="王<工>", team=a)
    User.objects.create(username="lee", role=Role.ENGINEER, first_name="Ann", last_name="Lee", team=a)
    User.objects.create(username="zed", role=Role.ENGINEER, team=b)
    User.objects.create(username="loner", role=Role.ENGINEER, display_name="独行")
    User.objects.create(username="gone", role=Role.ENGINEER, team=b, is_active=False)
    User.objects.create(username="disp", role=Role.DISPATCHER, team=b)


@pytest.mark.parametrize("selected", ["", "lee", "loner"])
def test_grouped_options_equal_the_regroup_template(engineers, selected):
    users = User.objects.filter(role=Role.ENGINEER, is_active=True).select_related("team").order_by("team__name",
                                                                                                     "username")
    old = _render(REGROUP, engineers=users, selected=selected)
    new = _render("{% load people %}{% engineer_options engineers selected %}", engineers=engineer_choices(),
                  selected=selected)
    assert new == old
    assert new.count("<optgroup") == 3 and "gone" not in new and "disp" not in new
    assert ("selected" in new) == bool(selected)
    assert "王&lt;工&gt;" in new and "&lt;A&amp;&quot;队&gt;" in new and ">Ann Lee<" in new


def test_flat_options_equal_the_bulk_bar_template(engineers):
    users = User.objects.filter(role=Role.ENGINEER, is_active=True).select_related("team").order_by("team__name",
                                                                                                     "username")
    old = _render(FLAT, engineers=users)
    assert _render("{% load people %}{% engineer_options engineers flat=True %}", engineers=engineer_choices()) == old


def test_no_engineers_no_options(db):
    assert _render("{% load people %}{% engineer_options engineers %}", engineers=engineer_choices()) == ""
