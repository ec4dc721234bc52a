"""Reads for the first run, the set-up checklist and the administration pages."""

import os
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from closeloop.accounts.models import Role, User

from .models import CompanySettings

# Who sees the administration pages: the same roles that may write customer data through the API
# (customers.services.may_write) minus dispatchers, who keep the API but not the Settings menu.
ADMIN_PAGE_ROLES = {Role.ADMIN, Role.MANAGER}


def needs_first_run() -> bool:
    """True on an empty installation: no user at all (the demo always has users)."""
    return not User.objects.exists()


def company() -> CompanySettings | None:
    return CompanySettings.objects.filter(pk=1).first()


def site_url() -> str:
    """The public address links are built on: settings.SITE_URL, CLOSELOOP_SITE_URL, else the one
    given on the first run; "" when none (links stay relative)."""
    explicit = getattr(settings, "SITE_URL", "") or os.environ.get("CLOSELOOP_SITE_URL", "")
    if explicit:
        return explicit.rstrip("/")
    c = company()
    return (c.site_url if c else "").rstrip("/")


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
             _("%(e)d engineers, %(t)d teams") % {"e": n_engineers, "t": n_teams}, None),
        Step("template", _("Install a template (work order types)"), n_types > 0,
             _("%(n)d work order types") % {"n": n_types}, None),
        Step("channel", _("Connect a channel (SMS, WeCom, DingTalk, e-mail)"), n_channels > 0,
             _("%(n)d channels") % {"n": n_channels}, None),
        Step("invite", _("Invite users (dispatchers, managers, finance)"), n_staff > 1,
             _("%(n)d staff accounts") % {"n": n_staff}, None),
    ]
