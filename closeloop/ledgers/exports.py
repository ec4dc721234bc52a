"""Lists as .xlsx and CSV: work orders (the list's filters and visibility, through
workorders.exports), customers, sites, contacts, assets and people.

Rows are read in id-ordered chunks; CSV streams a line at a time, .xlsx is written by
openpyxl in write-only mode to a temporary file (rows never all in memory). Text that a
spreadsheet would run as a formula is prefixed with a quote in both.
"""

from collections.abc import Iterator

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from closeloop.core.errors import DomainError, Forbidden
from closeloop.core.tabular import FORMULA_START, XLSX_TYPE, csv_response, safe, write_xlsx, xlsx_response  # noqa: F401

from .selectors import may_export_people

CHUNK = 1000
KINDS = ("work-orders", "customers", "sites", "contacts", "assets", "people")


def max_rows() -> int:
    return int(getattr(settings, "EXPORT_MAX_ROWS", 50_000))


def _chunked(qs: QuerySet, row) -> Iterator[list[str]]:
    last, left = 0, max_rows()
    while left > 0:
        chunk = list(qs.filter(id__gt=last).order_by("id")[: min(CHUNK, left)])
        if not chunk:
            return
        for o in chunk:
            yield [safe(v) for v in row(o)]
        last, left = chunk[-1].id, left - len(chunk)


def _q(params) -> str:
    return (params.get("q") or "").strip()[:200]


def customers(user, params):
    from closeloop.customers.selectors import visible_customers

    qs = visible_customers(user)
    if q := _q(params):
        qs = qs.filter(Q(code__icontains=q) | Q(name__icontains=q))
    header = [_("Customer code"), _("Customer name"), _("Tier"), _("Province"), _("Phone"), _("Notes")]
    return header, _chunked(qs, lambda c: (c.code, c.name, c.get_tier_display(), c.province, c.phone, c.notes))


def sites(user, params):
    from closeloop.customers.selectors import visible_sites

    qs = visible_sites(user)
    if q := _q(params):
        qs = qs.filter(Q(code__icontains=q) | Q(name__icontains=q) | Q(address__icontains=q))
    header = [_("Site code"), _("Site name"), _("Customer code"), _("Province"), _("City"), _("Address"),
              _("Latitude"), _("Longitude"), _("Grade")]
    return header, _chunked(qs, lambda s: (s.code, s.name, s.customer.code, s.province, s.city, s.address,
                                           s.latitude, s.longitude, s.grade))


def contacts(user, params):
    from closeloop.customers.selectors import visible_contacts

    qs = visible_contacts(user)
    if q := _q(params):
        qs = qs.filter(Q(name__icontains=q) | Q(phone__icontains=q))
    header = [_("Contact name"), _("Customer code"), _("Site code"), _("Phone"), _("Email"), _("Job title")]
    return header, _chunked(qs, lambda c: (c.name, c.customer.code, c.site.code if c.site_id else "", c.phone,
                                           c.email, c.title))


def assets(user, params):
    from closeloop.customers.selectors import visible_assets

    qs = visible_assets(user)
    if q := _q(params):
        qs = qs.filter(Q(serial_number__icontains=q) | Q(name__icontains=q) | Q(model__icontains=q))
    if c := (params.get("customer") or "").strip():
        qs = qs.filter(customer__code=c)
    header = [_("Serial number"), _("Asset name"), _("Customer code"), _("Site code"), _("Equipment type"),
              _("Manufacturer"), _("Model"), _("Batch"), _("Install date")]
    return header, _chunked(qs, lambda a: (a.serial_number, a.name, a.customer.code, a.site.code if a.site_id else "",
                                           a.category, a.manufacturer, a.model, a.batch,
                                           a.install_date.isoformat() if a.install_date else ""))


def people(user, params):
    from closeloop.accounts.models import User

    if not may_export_people(user):
        raise Forbidden(_("Only administrators and managers may export people."))
    qs = User.objects.select_related("team").exclude(role="customer")
    if q := _q(params):
        qs = qs.filter(Q(username__icontains=q) | Q(display_name__icontains=q))
    if role := (params.get("role") or "").strip():
        qs = qs.filter(role=role)
    header = [_("Employee number"), pgettext("person", "Name"), _("Role"), _("Team (code or name)"), _("Phone"),
              _("Email"), pgettext("employee", "Active")]
    return header, _chunked(qs, lambda u: (u.username, u.display_name or u.get_full_name(), u.get_role_display(),
                                           u.team.code if u.team_id else "", u.phone, u.email,
                                           _("yes") if u.is_active else _("no")))


def work_orders(user, params):
    """The work order list's own export rows: its filters (and saved queue) and visibility."""
    from closeloop.workorders import exports as wo_exports
    from closeloop.workorders import listing
    from closeloop.workorders import selectors as wo_selectors

    values, saved = listing.saved_filter(user, params)
    f = wo_selectors.filter_from(params if saved is None else values)
    wo_selectors.filter_work_orders(user, f)  # raises DomainError on a bad filter, before any byte is sent
    return wo_exports.header(), wo_exports.rows(user, f)


SOURCES = {"work-orders": work_orders, "customers": customers, "sites": sites, "contacts": contacts,
           "assets": assets, "people": people}


def export(user, kind: str, fmt: str, params):
    """The response for one list in one format; raises DomainError (Forbidden for people)."""
    if kind not in SOURCES or fmt not in ("csv", "xlsx"):
        raise DomainError(_("No such export."), 404, "not_found")
    header, rows = SOURCES[kind](user, params)
    return (xlsx_response if fmt == "xlsx" else csv_response)(kind, header, rows)
