"""Permission-checked reads of customers and what belongs to them.

One visibility function per object kind; lists, lookups and references in
writes all go through them:
- staff (admin, manager, dispatcher, finance, engineer) see every organisation;
- a customer contact sees only their own organisation and its sites, contacts,
  assets and contracts. Another organisation's object is a 404, never a 403.
- Service contracts are commercial: engineers do not see them (403).
"""

from datetime import date

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role
from closeloop.accounts.selectors import is_active, is_staff_reader
from closeloop.core.errors import Forbidden, NotFound

from .models import Asset, Contact, Customer, ServiceContract, Site

CONTRACT_READERS = {Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.FINANCE, Role.CUSTOMER}


def _own_org(user) -> int | None:
    """The organisation a customer contact is confined to; None for staff."""
    if user.role == Role.CUSTOMER and not user.is_superuser:
        return user.customer_id or -1
    return None


def _scoped(user, qs: QuerySet, customer_field: str) -> QuerySet:
    if not is_active(user):
        return qs.none()
    if is_staff_reader(user):
        return qs
    org = _own_org(user)
    if org is not None and org > 0:
        return qs.filter(**{customer_field: org})
    return qs.none()


def visible_customers(user) -> QuerySet[Customer]:
    return _scoped(user, Customer.objects.all(), "pk")


def visible_sites(user) -> QuerySet[Site]:
    return _scoped(user, Site.objects.select_related("customer"), "customer_id")


def visible_contacts(user) -> QuerySet[Contact]:
    return _scoped(user, Contact.objects.select_related("customer", "site"), "customer_id")


def visible_assets(user) -> QuerySet[Asset]:
    return _scoped(user, Asset.objects.select_related("customer", "site"), "customer_id")


def may_read_contracts(user) -> bool:
    return is_active(user) and (user.is_superuser or user.role in CONTRACT_READERS)


def visible_contracts(user) -> QuerySet[ServiceContract]:
    if not may_read_contracts(user):
        raise Forbidden(_("Your role may not see service contracts."))
    return _scoped(user, ServiceContract.objects.select_related("customer"), "customer_id")


# ---- single objects by their public key --------------------------------------------

def access_customer(user, code: str) -> Customer:
    obj = visible_customers(user).filter(code=code).first()
    if obj is None:
        raise NotFound(_("No customer %(c)s.") % {"c": code})
    return obj


def access_site(user, code: str) -> Site:
    obj = visible_sites(user).filter(code=code).first()
    if obj is None:
        raise NotFound(_("No site %(c)s.") % {"c": code})
    return obj


def access_contact(user, contact_id: int) -> Contact:
    obj = visible_contacts(user).filter(pk=contact_id).first()
    if obj is None:
        raise NotFound(_("No contact %(c)s.") % {"c": contact_id})
    return obj


def access_contract(user, number: str) -> ServiceContract:
    """A contract by its number: 403 for roles that see no contracts, 404 for another organisation's."""
    obj = visible_contracts(user).filter(number=number).first()
    if obj is None:
        raise NotFound(_("No service contract %(n)s.") % {"n": number})
    return obj


def access_asset(user, serial_number: str) -> Asset:
    obj = visible_assets(user).filter(serial_number=serial_number).first()
    if obj is None:
        raise NotFound(_("No asset with serial number %(s)s.") % {"s": serial_number})
    return obj


# ---- list filters ------------------------------------------------------------------

def filter_customers(user, *, q: str | None = None, tier: str | None = None) -> QuerySet[Customer]:
    qs = visible_customers(user)
    if tier:
        qs = qs.filter(tier=tier)
    if q:
        qs = qs.filter(Q(code__icontains=q.strip()) | Q(name__icontains=q.strip()))
    return qs


def filter_sites(user, *, customer: str | None = None, q: str | None = None, city: str | None = None
                 ) -> QuerySet[Site]:
    qs = visible_sites(user)
    if customer:
        qs = qs.filter(customer__code=customer)
    if city:
        qs = qs.filter(city=city)
    if q:
        q = q.strip()
        qs = qs.filter(Q(code__icontains=q) | Q(name__icontains=q) | Q(address__icontains=q))
    return qs


def filter_contacts(user, *, customer: str | None = None, site: str | None = None, q: str | None = None
                    ) -> QuerySet[Contact]:
    qs = visible_contacts(user)
    if customer:
        qs = qs.filter(customer__code=customer)
    if site:
        qs = qs.filter(site__code=site)
    if q:
        q = q.strip()
        qs = qs.filter(Q(name__icontains=q) | Q(phone__icontains=q) | Q(email__icontains=q))
    return qs


def filter_assets(user, *, customer: str | None = None, site: str | None = None, q: str | None = None,
                  category: str | None = None) -> QuerySet[Asset]:
    qs = visible_assets(user)
    if customer:
        qs = qs.filter(customer__code=customer)
    if site:
        qs = qs.filter(site__code=site)
    if category:
        qs = qs.filter(category=category)
    if q:
        q = q.strip()
        qs = qs.filter(Q(serial_number__icontains=q) | Q(name__icontains=q) | Q(model__icontains=q)
                       | Q(manufacturer__icontains=q))
    return qs


def filter_contracts(user, *, customer: str | None = None, active: bool | None = None,
                     expiring_before: date | None = None, q: str | None = None) -> QuerySet[ServiceContract]:
    """The contract list of the API and the administration page: `q` is part of the number or of
    the customer's name or code; `expiring_before` keeps the contracts that end before that day."""
    qs = visible_contracts(user)
    if customer:
        qs = qs.filter(customer__code=customer)
    if active is not None:
        qs = qs.filter(is_active=active)
    if expiring_before is not None:
        qs = qs.filter(ends_on__lt=expiring_before)
    if q:
        q = q.strip()
        qs = qs.filter(Q(number__icontains=q) | Q(customer__name__icontains=q) | Q(customer__code__icontains=q))
    return qs


def contract_term(contract: ServiceContract, today: date | None = None) -> str:
    """not_started, in_force or ended, on the company's today."""
    if today is None:
        from closeloop.core import clock

        today = clock.local_today()
    if contract.ends_on < today:
        return "ended"
    if contract.starts_on > today:
        return "not_started"
    return "in_force"


def contracts_of(user, customer: Customer) -> QuerySet[ServiceContract]:
    return visible_contracts(user).filter(customer=customer)
