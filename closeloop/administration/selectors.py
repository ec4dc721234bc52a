"""Reads for the first run, the set-up checklist and the administration pages."""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from closeloop.accounts.models import Role, User
from closeloop.core import site as core_site

from .models import CompanySettings

# Who sees the administration pages: the same roles that may write customer data through the API
# (customers.services.may_write) minus dispatchers, who keep the API but not the Settings menu.
ADMIN_PAGE_ROLES = {Role.ADMIN, Role.MANAGER}


def needs_first_run() -> bool:
    """True on an empty installation: no user at all (the demo always has users)."""
    return not User.objects.exists()


def company() -> CompanySettings | None:
    return CompanySettings.objects.filter(pk=1).first()


def company_site_url() -> str:
    """The public URL given on the first run ("" when none): core.site's fallback."""
    c = company()
    return c.site_url if c else ""


def company_language() -> str:
    """The language chosen on the first run ("" when none): core.site's language fallback."""
    return CompanySettings.objects.filter(pk=1).values_list("language", flat=True).first() or ""


def site_url() -> str:
    return core_site.site_url()


def may_see_setup(user) -> bool:
    return bool(user.is_authenticated and user.is_active and (user.is_superuser or user.role == Role.ADMIN))


def may_administer_data(user) -> bool:
    return bool(user.is_authenticated and user.is_active
                and (user.is_superuser or user.role in ADMIN_PAGE_ROLES))


@dataclass
class Step:
    key: str
    label: object
    done: bool
    detail: str
    url_name: str | None


def checklist() -> list[Step]:
    """The set-up checklist, computed from the data each time (nothing stored)."""
    from closeloop.accounts.models import Team
    from closeloop.customers.models import Asset, Customer
    from closeloop.notify.models import Channel
    from closeloop.workorders.models import WorkOrderType

    n_customers, n_assets = Customer.objects.count(), Asset.objects.count()
    n_engineers = User.objects.filter(role=Role.ENGINEER, is_active=True).count()
    n_teams = Team.objects.count()
    n_types = WorkOrderType.objects.count()
    n_channels = Channel.objects.count()
    n_staff = User.objects.filter(is_active=True).exclude(role=Role.ENGINEER).exclude(role=Role.CUSTOMER).count()
    return [
        Step("customers", _("Import or add customers and assets"), n_customers > 0 and n_assets > 0,
             _("%(c)d customers, %(a)d assets") % {"c": n_customers, "a": n_assets}, "administration:customers"),
        Step("people", _("Add people and teams"), n_engineers > 0 and n_teams > 0,
             _("%(e)d engineers, %(t)d teams") % {"e": n_engineers, "t": n_teams}, "administration:users"),
        Step("template", _("Install a template (work order types)"), n_types > 0,
             _("%(n)d work order types") % {"n": n_types}, "gallery:index"),
        Step("channel", _("Connect a channel (SMS, WeCom, DingTalk, e-mail)"), n_channels > 0,
             _("%(n)d channels") % {"n": n_channels}, None),
        Step("invite", _("Invite users (dispatchers, managers, finance)"), n_staff > 1,
             _("%(n)d staff accounts") % {"n": n_staff}, None),
    ]


# ---- pickers ------------------------------------------------------------------------------------

PICK_LIMIT = 10


def _token_filter(q: str, *fields: str):
    """Every search token of `q` (core.text: two Chinese characters make one token, a Latin word a
    prefix) must be in one of `fields`; None when `q` has no token."""
    from django.db.models import Q

    from closeloop.core.text import query_tokens

    tokens = query_tokens(q)
    if not tokens:
        return None
    cond = Q()
    for tok, _prefix in tokens:
        any_field = Q()
        for f in fields:
            any_field |= Q(**{f"{f}__icontains": tok})
        cond &= any_field
    return cond


def may_pick(user) -> bool:
    """Pickers serve the forms of those who create work orders for any customer and administer
    reference data: administrators, managers, dispatchers (customers.services.may_write)."""
    from closeloop.customers.services import may_write

    return bool(user.is_authenticated and may_write(user))


def _results(rows, value, label, detail) -> list[dict]:
    return [{"value": value(r), "label": label(r), "detail": detail(r)} for r in rows]


def pick(user, kind: str, q: str, *, customer: str = "") -> list[dict] | None:
    """Up to PICK_LIMIT matches of `kind` the user may see (active ones only); None for an
    unknown kind. `customer` (a code) narrows sites, assets and contacts."""
    from closeloop.accounts.models import Team
    from closeloop.customers import selectors as cs

    q = (q or "").strip()[:100]
    if kind == "customers":
        cond = _token_filter(q, "name", "code")
        qs = cs.visible_customers(user).filter(is_active=True)
        fmt = (lambda c: c.code, lambda c: c.name, lambda c: c.code)
    elif kind == "sites":
        cond = _token_filter(q, "name", "code", "customer__name", "city", "address")
        qs = cs.visible_sites(user).filter(is_active=True).select_related("customer")
        fmt = (lambda s: s.code, lambda s: s.name, lambda s: s.customer.name)
    elif kind == "assets":
        cond = _token_filter(q, "serial_number", "name", "model")
        qs = cs.visible_assets(user).filter(is_active=True).select_related("customer")
        fmt = (lambda a: a.serial_number, lambda a: f"{a.name} {a.model}".strip(), lambda a: a.customer.name)
    elif kind == "contacts":
        cond = _token_filter(q, "name", "phone")
        qs = cs.visible_contacts(user).filter(is_active=True).select_related("customer")
        fmt = (lambda c: str(c.pk), lambda c: c.name, lambda c: f"{c.phone} · {c.customer.name}".strip(" ·"))
    elif kind == "engineers":
        cond = _token_filter(q, "username", "display_name", "phone")
        qs = User.objects.filter(role=Role.ENGINEER, is_active=True).select_related("team")
        fmt = (lambda u: u.username, lambda u: str(u), lambda u: u.team.name if u.team else "")
    elif kind == "teams":
        cond = _token_filter(q, "name", "code", "region")
        qs = Team.objects.all()
        fmt = (lambda t: t.code, lambda t: t.name, lambda t: t.region)
    else:
        return None
    if cond is None:
        return []
    if customer and kind in ("sites", "assets", "contacts"):
        qs = qs.filter(customer__code=customer)
    return _results(qs.filter(cond).order_by("pk")[:PICK_LIMIT], *fmt)
