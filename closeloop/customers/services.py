"""Writes to customers, sites, contacts, assets and service contracts.

Each public `do_*` function checks the actor's role, validates every field
(reporting all problems at once, each naming its field), then writes in one
transaction. References are given by public key (customer/site code, asset
serial) and resolved within what the actor may see. Deletes refuse (409) while
anything refers to the row: work history is never cascade-deleted.
"""

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role, User
from closeloop.core.errors import FieldProblem, Forbidden, ValidationFailed
from closeloop.core.validation import Cleaner, delete_unreferenced, references

from . import selectors
from .models import Asset, Contact, Customer, ServiceContract, Site, Tier

WRITER_ROLES = {Role.ADMIN, Role.MANAGER, Role.DISPATCHER}

CUSTOMER_FIELDS = {"code", "name", "tier", "province", "phone", "notes"}
SITE_FIELDS = {"customer", "code", "name", "province", "city", "address", "latitude", "longitude", "grade"}
CONTACT_FIELDS = {"customer", "site", "name", "phone", "email", "title"}
ASSET_FIELDS = {"customer", "site", "name", "category", "manufacturer", "model", "serial_number", "nameplate",
                "install_date", "batch"}
CONTRACT_FIELDS = {"number", "tier", "starts_on", "ends_on"}

NAMEPLATE_MAX_ENTRIES = 50


def may_write(actor: User) -> bool:
    return actor.is_active and (actor.is_superuser or actor.role in WRITER_ROLES)


def _require_writer(actor: User) -> None:
    if not may_write(actor):
        raise Forbidden(_("Only administrators, managers and dispatchers change customer data."))


def _save(obj, unique_field: str, *, create: bool) -> None:
    """Insert/update in a savepoint; a unique clash that slipped past the check
    (a concurrent insert) is still reported on the field, not as a 500."""
    try:
        with transaction.atomic():
            obj.save(force_insert=create)
    except IntegrityError:
        raise ValidationFailed(FieldProblem(unique_field, _("%(v)s is already taken.")
                                            % {"v": getattr(obj, unique_field)}, "unique"))


def _apply(obj, out: dict) -> list[str]:
    changed = []
    for k, v in out.items():
        if getattr(obj, k) != v:
            setattr(obj, k, v)
            changed.append(k)
    return changed


def _refuse_move_if_referenced(c: Cleaner, obj, what: str, *, allow: set[str] = frozenset()) -> None:
    """An object's customer cannot change while work orders (or anything else) refer to it,
    or the history would show it under another organisation."""
    new = c.out.get("customer")
    if obj.pk and new is not None and new.pk != obj.customer_id and references(obj, allow=allow):
        c.out.pop("customer")
        c.problem("customer", _("This %(what)s is referred to by work orders or other records; it cannot move "
                                "to another customer.") % {"what": what}, "referenced")


# ---- customers ---------------------------------------------------------------------

def _clean_customer(data: dict, *, partial: bool, instance: Customer | None = None) -> dict:
    c = Cleaner(data, partial=partial, allowed=CUSTOMER_FIELDS)
    c.slug("code")
    c.unique("code", Customer, exclude=instance, message=_("A customer with this code exists."))
    c.text("name", max_len=200, required=True)
    c.choice("tier", Tier.values, default=Tier.STANDARD)
    c.text("province", max_len=50)
    c.phone("phone")
    c.text("notes", max_len=5000, multiline=True)
    c.check()
    return c.out


def do_create_customer(*, actor: User, data: dict) -> Customer:
    _require_writer(actor)
    out = _clean_customer(data, partial=False)
    with transaction.atomic():
        customer = Customer(**out)
        _save(customer, "code", create=True)
    return customer


def do_update_customer(*, actor: User, customer: Customer, data: dict) -> Customer:
    _require_writer(actor)
    out = _clean_customer(data, partial=True, instance=customer)
    with transaction.atomic():
        if _apply(customer, out):
            _save(customer, "code", create=False)
    return customer


def do_delete_customer(*, actor: User, customer: Customer) -> None:
    _require_writer(actor)
    with transaction.atomic():
        delete_unreferenced(customer, _("Customer %(c)s") % {"c": customer.code})


# ---- sites -------------------------------------------------------------------------

def _clean_site(actor: User, data: dict, *, partial: bool, instance: Site | None = None) -> dict:
    c = Cleaner(data, partial=partial, allowed=SITE_FIELDS)
    c.ref("customer", selectors.visible_customers(actor), by="code", label=_("customer"), required=True)
    c.slug("code")
    c.unique("code", Site, exclude=instance, message=_("A site with this code exists."))
    c.text("name", max_len=200, required=True)
    c.text("province", max_len=50)
    c.text("city", max_len=50)
    c.text("address", max_len=300)
    c.latitude("latitude")
    c.longitude("longitude")
    c.text("grade", max_len=40)
    if instance is not None:
        _refuse_move_if_referenced(c, instance, _("site"), allow={"customers.contact"})
    c.check()
    return c.out


def do_create_site(*, actor: User, data: dict) -> Site:
    _require_writer(actor)
    out = _clean_site(actor, data, partial=False)
    with transaction.atomic():
        site = Site(**out)
        _save(site, "code", create=True)
    return site


def do_update_site(*, actor: User, site: Site, data: dict) -> Site:
    _require_writer(actor)
    out = _clean_site(actor, data, partial=True, instance=site)
    with transaction.atomic():
        moved = "customer" in out and out["customer"].pk != site.customer_id
        if _apply(site, out):
            _save(site, "code", create=False)
        if moved:  # its contacts (the only thing allowed to refer to it) stay with the old customer
            Contact.objects.filter(site=site).update(site=None)
    return site


def do_delete_site(*, actor: User, site: Site) -> None:
    _require_writer(actor)
    with transaction.atomic():
        # Contacts just lose their site (they still belong to the customer).
        delete_unreferenced(site, _("Site %(c)s") % {"c": site.code}, allow={"customers.contact"})


# ---- shared: customer + site consistency -------------------------------------------------

def _customer_and_site(actor: User, c: Cleaner, instance=None) -> None:
    """Resolve `customer` and `site`; fill the customer from the site; check they agree."""
    c.ref("customer", selectors.visible_customers(actor), by="code", label=_("customer"))
    c.ref("site", selectors.visible_sites(actor), by="code", label=_("site"))
    if c.failed("customer") or c.failed("site"):
        return
    customer = c.value("customer", instance.customer if instance else None)
    site = c.value("site", instance.site if instance else None)
    if customer is None and site is not None:
        customer = c.out["customer"] = site.customer
    if customer is None:
        c.problem("customer", _("This field is required."), "required")
        return
    if site is not None and site.customer_id != customer.pk:
        c.out.pop("site", None)
        c.problem("site", _("Belongs to another customer."), "mismatch")


# ---- contacts ----------------------------------------------------------------------

def _clean_contact(actor: User, data: dict, *, partial: bool, instance: Contact | None = None) -> dict:
    c = Cleaner(data, partial=partial, allowed=CONTACT_FIELDS)
    _customer_and_site(actor, c, instance)
    c.text("name", max_len=100, required=True)
    c.phone("phone")
    c.email("email")
    c.text("title", max_len=100)
    if instance is not None:
        _refuse_move_if_referenced(c, instance, _("contact"))
    c.check()
    return c.out


def do_create_contact(*, actor: User, data: dict) -> Contact:
    _require_writer(actor)
    out = _clean_contact(actor, data, partial=False)
    with transaction.atomic():
        contact = Contact.objects.create(**out)
    return contact


def do_update_contact(*, actor: User, contact: Contact, data: dict) -> Contact:
    _require_writer(actor)
    out = _clean_contact(actor, data, partial=True, instance=contact)
    with transaction.atomic():
        if _apply(contact, out):
            contact.save()
    return contact


def do_delete_contact(*, actor: User, contact: Contact) -> None:
    _require_writer(actor)
    with transaction.atomic():
        delete_unreferenced(contact, _("Contact %(c)s") % {"c": contact.name})


# ---- assets ------------------------------------------------------------------------

def _clean_nameplate(c: Cleaner) -> None:
    if c._skip("nameplate"):
        return
    value = c.data.get("nameplate")
    if value is None:
        c.out["nameplate"] = {}
        return
    if not isinstance(value, dict):
        return c.problem("nameplate", _("Must be an object of name: value pairs."))
    if len(value) > NAMEPLATE_MAX_ENTRIES:
        return c.problem("nameplate", _("At most %(n)d entries.") % {"n": NAMEPLATE_MAX_ENTRIES})
    for k, v in value.items():
        if not isinstance(k, str) or not k.strip() or len(k) > 100:
            return c.problem("nameplate", _("Each name is 1 to 100 characters."))
        if isinstance(v, str) and len(v) > 500 or not isinstance(v, str | int | float | bool | type(None)):
            return c.problem(f"nameplate.{k}", _("A value is text (at most 500 characters), a number or "
                                                 "true/false."))
    c.out["nameplate"] = value


def _clean_asset(actor: User, data: dict, *, partial: bool, instance: Asset | None = None) -> dict:
    c = Cleaner(data, partial=partial, allowed=ASSET_FIELDS)
    _customer_and_site(actor, c, instance)
    c.text("serial_number", max_len=100, required=True)
    c.unique("serial_number", Asset, exclude=instance, message=_("An asset with this serial number exists."))
    c.text("name", max_len=200, required=True)
    c.text("category", max_len=100)
    c.text("manufacturer", max_len=100)
    c.text("model", max_len=100)
    _clean_nameplate(c)
    c.date("install_date")
    c.text("batch", max_len=100)
    if instance is not None:
        _refuse_move_if_referenced(c, instance, _("asset"))
    c.check()
    return c.out


def do_create_asset(*, actor: User, data: dict) -> Asset:
    _require_writer(actor)
    out = _clean_asset(actor, data, partial=False)
    with transaction.atomic():
        asset = Asset(**out)
        _save(asset, "serial_number", create=True)
    return asset


def do_update_asset(*, actor: User, asset: Asset, data: dict) -> Asset:
    _require_writer(actor)
    out = _clean_asset(actor, data, partial=True, instance=asset)
    with transaction.atomic():
        if _apply(asset, out):
            _save(asset, "serial_number", create=False)
    return asset


def do_delete_asset(*, actor: User, asset: Asset) -> None:
    _require_writer(actor)
    with transaction.atomic():
        delete_unreferenced(asset, _("Asset %(s)s") % {"s": asset.serial_number})


# ---- service contracts ---------------------------------------------------------------

def _clean_contract(actor: User, data: dict, *, partial: bool, customer: Customer | None,
                    instance: ServiceContract | None = None) -> dict:
    allowed = CONTRACT_FIELDS | ({"customer"} if customer is None else set()) | ({"active"} if instance else set())
    c = Cleaner(data, partial=partial, allowed=allowed)
    if customer is None:
        c.ref("customer", selectors.visible_customers(actor), by="code", label=_("customer"),
              required=True)
    c.text("number", max_len=60, required=True)
    c.unique("number", ServiceContract, exclude=instance, message=_("A contract with this number exists."))
    owner = customer or c.out.get("customer") or (instance.customer if instance else None)
    c.choice("tier", Tier.values, default=owner.tier if owner else Tier.STANDARD)
    c.date("starts_on", required=True)
    c.date("ends_on", required=True)
    starts = c.value("starts_on", instance.starts_on if instance else None)
    ends = c.value("ends_on", instance.ends_on if instance else None)
    if starts and ends and not c.failed("starts_on") and not c.failed("ends_on") and ends < starts:
        c.problem("ends_on", _("Must not be before starts_on."), "range")
    if instance is not None:
        c.boolean("active", default=instance.is_active)
    c.check()
    return c.out


def do_create_contract(*, actor: User, customer: Customer | None = None, data: dict) -> ServiceContract:
    """A customer's service contract. `customer` given (the API's per-customer path) or named in
    data["customer"] by code (the administration page, `POST /contracts`)."""
    _require_writer(actor)
    out = _clean_contract(actor, data, partial=False, customer=customer)
    if customer is not None:
        out["customer"] = customer
    with transaction.atomic():
        contract = ServiceContract(**out)
        _save(contract, "number", create=True)
    return contract


def do_update_contract(*, actor: User, contract: ServiceContract, data: dict) -> ServiceContract:
    """Change a contract's customer, number, tier or dates, and (the API's `active`) deactivate or
    reactivate it: everything is checked first, then written in one transaction, or nothing is."""
    _require_writer(actor)
    out = _clean_contract(actor, data, partial=True, customer=None, instance=contract)
    active = out.pop("active", None)
    with transaction.atomic():
        if _apply(contract, out):
            _save(contract, "number", create=False)
        if active is not None and active != contract.is_active:
            do_set_active(actor=actor, obj=contract, active=active)
    return contract


def do_delete_contract(*, actor: User, contract: ServiceContract) -> None:
    """Delete a contract entered by mistake; refused (409) once anything refers to it: deactivate it then."""
    _require_writer(actor)
    with transaction.atomic():
        delete_unreferenced(contract, _("Service contract %(n)s") % {"n": contract.number})


# ---- deactivation (instead of deletion) ----------------------------------------------------

def do_set_active(*, actor: User, obj: Customer | Site | Contact | Asset | ServiceContract,
                  active: bool) -> Customer | Site | Contact | Asset | ServiceContract:
    """Deactivate (or reactivate) a customer, site, contact, asset or service contract. An inactive one stays on the
    work orders that name it and stays readable; pickers stop offering it. Deactivating a customer
    deactivates its sites, contacts and assets too (reactivating it brings back only itself)."""
    _require_writer(actor)
    if not isinstance(obj, Customer | Site | Contact | Asset | ServiceContract):
        raise TypeError(obj)
    with transaction.atomic():
        type(obj).objects.filter(pk=obj.pk).update(is_active=active)
        obj.is_active = active
        if isinstance(obj, Customer) and not active:
            for model in (Site, Contact, Asset, ServiceContract):
                model.objects.filter(customer=obj, is_active=True).update(is_active=False)
    return obj
