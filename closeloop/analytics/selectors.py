"""Who sees the analytics, and the scope a page's query string asks for.

Admins, managers and dispatchers see every team's figures; an engineer sees their own team's
only (the team filter is fixed to it; an engineer without a team sees none); finance,
customers and anonymous visitors see none (403 / the login page).
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.utils.translation import gettext as _

from closeloop.accounts.models import Role, Team
from closeloop.core.clock import local_today
from closeloop.core.errors import FieldProblem
from closeloop.workorders.models import Priority, WorkOrderType

from .measures import Scope

ALL_TEAMS = (Role.ADMIN, Role.MANAGER, Role.DISPATCHER)
MAX_DAYS = 400
PRESETS = (7, 30, 90, 365)


def may_view(user) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser or user.role in ALL_TEAMS:
        return True
    return user.role == Role.ENGINEER and user.team_id is not None


def own_team_only(user) -> bool:
    return not (user.is_superuser or user.role in ALL_TEAMS)


@dataclass
class Parsed:
    scope: Scope
    problems: list = field(default_factory=list)
    #: the filters as the page shows them (codes/keys), for links and the form
    values: dict = field(default_factory=dict)


def _date(raw, name, problems):
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        problems.append(FieldProblem(name, _("A date as YYYY-MM-DD."), "invalid"))
        return None


def scope_from(user, params) -> Parsed:
    """The Scope of `params` (from, to, days, team, type, priority, customer, region) for `user`; what is
    wrong is named in `problems` and left out (the page says so and shows the default)."""
    from closeloop.customers.models import Customer

    problems: list = []
    today = local_today()
    end = _date(params.get("to"), "to", problems) or today
    start = _date(params.get("from"), "from", problems)
    if start is None:
        try:
            days = int(params.get("days") or 30)
        except ValueError:
            problems.append(FieldProblem("days", _("A whole number of days."), "invalid"))
            days = 30
        days = min(max(days, 1), MAX_DAYS)
        start = end - timedelta(days=days - 1)
    if start > end:
        problems.append(FieldProblem("from", _("The start must not be after the end."), "invalid"))
        start = end
    if (end - start).days >= MAX_DAYS:
        problems.append(FieldProblem("from", _("At most %(n)d days.") % {"n": MAX_DAYS}, "invalid"))
        start = end - timedelta(days=MAX_DAYS - 1)
    values = {"from": start.isoformat(), "to": end.isoformat()}
    team_id = type_id = customer_id = None
    priority = None
    if own_team_only(user):
        team_id = user.team_id
        values["team"] = user.team.code
    elif params.get("team"):
        team_id = Team.objects.filter(code=params["team"]).values_list("pk", flat=True).first()
        if team_id is None:
            problems.append(FieldProblem("team", _("No such team."), "not_found"))
        else:
            values["team"] = params["team"]
    if params.get("type"):
        type_id = WorkOrderType.objects.filter(key=params["type"]).values_list("pk", flat=True).first()
        if type_id is None:
            problems.append(FieldProblem("type", _("No such type."), "not_found"))
        else:
            values["type"] = params["type"]
    if params.get("priority"):
        if params["priority"] in Priority.values:
            priority = params["priority"]
            values["priority"] = priority
        else:
            problems.append(FieldProblem("priority", _("No such priority."), "invalid"))
    if params.get("customer"):
        customer_id = Customer.objects.filter(code=params["customer"]).values_list("pk", flat=True).first()
        if customer_id is None:
            problems.append(FieldProblem("customer", _("No such customer."), "not_found"))
        else:
            values["customer"] = params["customer"]
    region = None
    if params.get("region"):
        if params["region"] in regions():
            region = params["region"]
            values["region"] = region
        else:
            problems.append(FieldProblem("region", _("No such region."), "not_found"))
    return Parsed(Scope(start, end, team_id, type_id, priority, customer_id, region), problems, values)


def regions() -> list[str]:
    """The regions the filter offers: the provinces of sites and customers."""
    from closeloop.customers.models import Customer, Site

    names = set(Site.objects.exclude(province="").values_list("province", flat=True).distinct())
    names |= set(Customer.objects.exclude(province="").values_list("province", flat=True).distinct())
    return sorted(names)


def names(kind: str, ids) -> dict:
    """Display names for ids of teams, types, customers, sites, assets or people (0: none)."""
    from closeloop.accounts.models import User
    from closeloop.customers.models import Asset, Customer, Site

    ids = {i for i in ids if i}
    if kind == "team":
        rows = Team.objects.filter(pk__in=ids).values_list("pk", "name")
    elif kind == "type":
        rows = WorkOrderType.objects.filter(pk__in=ids).values_list("pk", "name")
    elif kind == "customer":
        rows = Customer.objects.filter(pk__in=ids).values_list("pk", "name")
    elif kind == "site":
        rows = Site.objects.filter(pk__in=ids).values_list("pk", "name")
    elif kind == "asset":
        rows = [(a.pk, f"{a.serial_number} {a.model}".strip()) for a in Asset.objects.filter(pk__in=ids)]
    elif kind == "person":
        rows = [(u.pk, str(u)) for u in User.objects.filter(pk__in=ids)]
    else:
        rows = []
    return dict(rows)


def codes(kind: str, ids) -> dict:
    """The codes the work order list filters by, for ids (team code, type key, customer code, username)."""
    from closeloop.accounts.models import User
    from closeloop.customers.models import Customer

    ids = {i for i in ids if i}
    model, col = {"team": (Team, "code"), "type": (WorkOrderType, "key"), "customer": (Customer, "code"),
                  "person": (User, "username")}[kind]
    return dict(model.objects.filter(pk__in=ids).values_list("pk", col))


# ---- a customer's own figures (the portal's "Service figures" page) ----------------------------------

#: The periods the customer's page offers, in its order (the first is the default).
PERIODS = ("month", "last_month", "quarter", "year")


def may_view_own_figures(user) -> bool:
    """A customer organisation's own users see their organisation's figures (nobody else does)."""
    return (user is not None and user.is_authenticated and user.is_active and user.role == Role.CUSTOMER
            and user.customer_id is not None)


def _months_back(d: date, n: int) -> date:
    """The first day of the month `n` months before `d`'s."""
    m = d.year * 12 + d.month - 1 - n
    return date(m // 12, m % 12 + 1, 1)


def _clamp(first: date, offset: int, last: date) -> date:
    return min(first + timedelta(days=offset), last)


def period_bounds(key: str, today: date) -> tuple[date, date, date, date]:
    """(start, end, previous start, previous end) of a named period.

    A running period (this month, quarter, year) ends today and is compared with the same
    stretch of the period before (1–7 December with 1–7 November); last month is compared with
    the whole month before it."""
    if key == "last_month":
        start = _months_back(today, 1)
        end = today.replace(day=1) - timedelta(days=1)
        prev_start = _months_back(today, 2)
        return start, end, prev_start, start - timedelta(days=1)
    if key == "quarter":
        start = date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
        prev_start = _months_back(start, 3)
    elif key == "year":
        start = date(today.year, 1, 1)
        prev_start = date(today.year - 1, 1, 1)
    else:  # this month
        start = today.replace(day=1)
        prev_start = _months_back(today, 1)
    offset = (today - start).days
    return start, today, prev_start, _clamp(prev_start, offset, start - timedelta(days=1))


@dataclass
class OwnPeriod:
    key: str
    scope: Scope
    previous: Scope
    problems: list = field(default_factory=list)


def own_figures_scope(user, params) -> OwnPeriod:
    """The scope of the customer's own figures: their organisation (never a parameter) over the
    named period (`period`, default this month; a wrong one is named and the default shown)."""
    problems = []
    key = params.get("period") or PERIODS[0]
    if key not in PERIODS:
        problems.append(FieldProblem("period", _("One of: %(values)s.") % {"values": ", ".join(PERIODS)}, "invalid"))
        key = PERIODS[0]
    start, end, prev_start, prev_end = period_bounds(key, local_today())
    cid = user.customer_id
    return OwnPeriod(key, Scope(start, end, customer_id=cid), Scope(prev_start, prev_end, customer_id=cid), problems)
