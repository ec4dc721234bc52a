"""Customers, sites, contacts, assets and service contracts: the CRUD an integrator needs.

Thin: check the token's scope, find the object through the caller's visibility
(another organisation's object is a 404), call the service, serialize.
Objects are addressed by their public keys: customers and sites by code, assets
by serial number and contracts by number (both may contain "/"), contacts by id.
"""

from datetime import date
from urllib.parse import quote

from django.http import HttpResponse
from ninja import Query, Router, Status
from pydantic import Field

from closeloop.core.apikit import require_scope
from closeloop.core.paging import page_by_id

from . import selectors, services
from .schemas import (
    AssetIn,
    AssetOut,
    AssetPage,
    AssetPatch,
    ContactIn,
    ContactOut,
    ContactPage,
    ContactPatch,
    ContractIn,
    ContractNew,
    ContractOut,
    ContractPage,
    ContractPatch,
    CustomerIn,
    CustomerOut,
    CustomerPage,
    CustomerPatch,
    ListParams,
    SiteIn,
    SiteOut,
    SitePage,
    SitePatch,
    asset_out,
    contact_out,
    contract_out,
    customer_out,
    site_out,
)

router = Router(tags=["customers"])
BASE = "/api/v1"


def _page(request, qs, params: ListParams, out) -> dict:
    page = page_by_id(qs, cursor=params.cursor, limit=params.limit)
    return {"items": [out(o, request.auth) for o in page.items], "next_cursor": page.next_cursor}


def _created(response: HttpResponse, path: str) -> None:
    response["Location"] = BASE + quote(path)


# ---- customers ---------------------------------------------------------------------

class CustomerFilters(ListParams):
    q: str | None = Field(None, max_length=200, description="Part of the code or name.")
    tier: str | None = Field(None, max_length=20)


@router.get("/customers", response=CustomerPage, summary="List customers")
def list_customers(request, filters: Query[CustomerFilters]):
    require_scope(request, "read")
    qs = selectors.filter_customers(request.auth, q=filters.q, tier=filters.tier)
    return _page(request, qs, filters, customer_out)


@router.post("/customers", response={201: CustomerOut}, summary="Create a customer")
def create_customer(request, payload: CustomerIn, response: HttpResponse):
    require_scope(request, "write")
    customer = services.do_create_customer(actor=request.auth, data=payload.model_dump(exclude_unset=True))
    _created(response, f"/customers/{customer.code}")
    return Status(201, customer_out(customer, request.auth))


@router.get("/customers/{code}", response=CustomerOut, summary="Get a customer by code")
def get_customer(request, code: str):
    require_scope(request, "read")
    return customer_out(selectors.access_customer(request.auth, code), request.auth)


@router.patch("/customers/{code}", response=CustomerOut, summary="Edit a customer (partial)")
def update_customer(request, code: str, payload: CustomerPatch):
    require_scope(request, "write")
    customer = selectors.access_customer(request.auth, code)
    customer = services.do_update_customer(actor=request.auth, customer=customer,
                                           data=payload.model_dump(exclude_unset=True))
    return customer_out(customer, request.auth)


@router.delete("/customers/{code}", response={204: None},
               summary="Delete a customer nothing refers to (409 otherwise)")
def delete_customer(request, code: str):
    require_scope(request, "write")
    services.do_delete_customer(actor=request.auth, customer=selectors.access_customer(request.auth, code))
    return Status(204, None)


# ---- service contracts ---------------------------------------------------------------

@router.get("/customers/{code}/contracts", response=ContractPage, tags=["contracts"],
            summary="A customer's service contracts")
def list_customer_contracts(request, code: str, params: Query[ListParams]):
    require_scope(request, "read")
    customer = selectors.access_customer(request.auth, code)
    return _page(request, selectors.contracts_of(request.auth, customer), params, contract_out)


@router.post("/customers/{code}/contracts", response={201: ContractOut}, tags=["contracts"],
             summary="Add a service contract to a customer")
def create_customer_contract(request, code: str, payload: ContractIn, response: HttpResponse):
    require_scope(request, "write")
    customer = selectors.access_customer(request.auth, code)
    contract = services.do_create_contract(actor=request.auth, customer=customer,
                                           data=payload.model_dump(exclude_unset=True))
    _created(response, f"/contracts/{contract.number}")
    return Status(201, contract_out(contract))


class ContractFilters(ListParams):
    customer: str | None = Field(None, max_length=40, description="Customer code.")
    active: bool | None = Field(None, description="true: active contracts only; false: deactivated ones only.")
    expiring_before: date | None = Field(None, description="Contracts that end before this day (YYYY-MM-DD).")
    q: str | None = Field(None, max_length=200, description="Part of the number or of the customer's name or code.")


@router.get("/contracts", response=ContractPage, tags=["contracts"], summary="List and search service contracts")
def list_contracts(request, filters: Query[ContractFilters]):
    require_scope(request, "read")
    qs = selectors.filter_contracts(request.auth, customer=filters.customer, active=filters.active,
                                    expiring_before=filters.expiring_before, q=filters.q)
    return _page(request, qs, filters, contract_out)


@router.post("/contracts", response={201: ContractOut}, tags=["contracts"], summary="Add a service contract")
def create_contract(request, payload: ContractNew, response: HttpResponse):
    require_scope(request, "write")
    contract = services.do_create_contract(actor=request.auth, data=payload.model_dump(exclude_unset=True))
    _created(response, f"/contracts/{contract.number}")
    return Status(201, contract_out(contract))


@router.get("/contracts/{path:number}", response=ContractOut, tags=["contracts"],
            summary="Get a service contract by number")
def get_contract(request, number: str):
    require_scope(request, "read")
    return contract_out(selectors.access_contract(request.auth, number))


@router.patch("/contracts/{path:number}", response=ContractOut, tags=["contracts"],
              summary="Edit, deactivate or reactivate a service contract (partial)")
def update_contract(request, number: str, payload: ContractPatch):
    require_scope(request, "write")
    contract = selectors.access_contract(request.auth, number)
    contract = services.do_update_contract(actor=request.auth, contract=contract,
                                           data=payload.model_dump(exclude_unset=True))
    return contract_out(contract)


@router.delete("/contracts/{path:number}", response={204: None}, tags=["contracts"],
               summary="Delete a service contract nothing refers to (409 otherwise)")
def delete_contract(request, number: str):
    require_scope(request, "write")
    services.do_delete_contract(actor=request.auth, contract=selectors.access_contract(request.auth, number))
    return Status(204, None)


# ---- sites -------------------------------------------------------------------------

class SiteFilters(ListParams):
    customer: str | None = Field(None, max_length=40, description="Customer code.")
    city: str | None = Field(None, max_length=50)
    q: str | None = Field(None, max_length=200, description="Part of the code, name or address.")


@router.get("/sites", response=SitePage, tags=["sites"], summary="List sites")
def list_sites(request, filters: Query[SiteFilters]):
    require_scope(request, "read")
    qs = selectors.filter_sites(request.auth, customer=filters.customer, q=filters.q, city=filters.city)
    return _page(request, qs, filters, site_out)


@router.post("/sites", response={201: SiteOut}, tags=["sites"], summary="Create a site")
def create_site(request, payload: SiteIn, response: HttpResponse):
    require_scope(request, "write")
    site = services.do_create_site(actor=request.auth, data=payload.model_dump(exclude_unset=True))
    _created(response, f"/sites/{site.code}")
    return Status(201, site_out(site))


@router.get("/sites/{code}", response=SiteOut, tags=["sites"], summary="Get a site by code")
def get_site(request, code: str):
    require_scope(request, "read")
    return site_out(selectors.access_site(request.auth, code))


@router.patch("/sites/{code}", response=SiteOut, tags=["sites"], summary="Edit a site (partial)")
def update_site(request, code: str, payload: SitePatch):
    require_scope(request, "write")
    site = selectors.access_site(request.auth, code)
    site = services.do_update_site(actor=request.auth, site=site, data=payload.model_dump(exclude_unset=True))
    return site_out(site)


@router.delete("/sites/{code}", response={204: None}, tags=["sites"],
               summary="Delete a site nothing but contacts refers to (409 otherwise)")
def delete_site(request, code: str):
    require_scope(request, "write")
    services.do_delete_site(actor=request.auth, site=selectors.access_site(request.auth, code))
    return Status(204, None)


# ---- contacts ----------------------------------------------------------------------

class ContactFilters(ListParams):
    customer: str | None = Field(None, max_length=40, description="Customer code.")
    site: str | None = Field(None, max_length=40, description="Site code.")
    q: str | None = Field(None, max_length=200, description="Part of the name, phone or email.")


@router.get("/contacts", response=ContactPage, tags=["contacts"], summary="List contacts")
def list_contacts(request, filters: Query[ContactFilters]):
    require_scope(request, "read")
    qs = selectors.filter_contacts(request.auth, customer=filters.customer, site=filters.site, q=filters.q)
    return _page(request, qs, filters, contact_out)


@router.post("/contacts", response={201: ContactOut}, tags=["contacts"], summary="Create a contact")
def create_contact(request, payload: ContactIn, response: HttpResponse):
    require_scope(request, "write")
    contact = services.do_create_contact(actor=request.auth, data=payload.model_dump(exclude_unset=True))
    _created(response, f"/contacts/{contact.pk}")
    return Status(201, contact_out(contact))


@router.get("/contacts/{contact_id}", response=ContactOut, tags=["contacts"], summary="Get a contact by id")
def get_contact(request, contact_id: int):
    require_scope(request, "read")
    return contact_out(selectors.access_contact(request.auth, contact_id))


@router.patch("/contacts/{contact_id}", response=ContactOut, tags=["contacts"],
              summary="Edit a contact (partial)")
def update_contact(request, contact_id: int, payload: ContactPatch):
    require_scope(request, "write")
    contact = selectors.access_contact(request.auth, contact_id)
    contact = services.do_update_contact(actor=request.auth, contact=contact,
                                         data=payload.model_dump(exclude_unset=True))
    return contact_out(contact)


@router.delete("/contacts/{contact_id}", response={204: None}, tags=["contacts"],
               summary="Delete a contact no work order refers to (409 otherwise)")
def delete_contact(request, contact_id: int):
    require_scope(request, "write")
    services.do_delete_contact(actor=request.auth, contact=selectors.access_contact(request.auth, contact_id))
    return Status(204, None)


# ---- assets ------------------------------------------------------------------------

class AssetFilters(ListParams):
    customer: str | None = Field(None, max_length=40, description="Customer code.")
    site: str | None = Field(None, max_length=40, description="Site code.")
    category: str | None = Field(None, max_length=100)
    q: str | None = Field(None, max_length=200, description="Part of the serial number, name, model or maker.")


@router.get("/assets", response=AssetPage, tags=["assets"], summary="List assets")
def list_assets(request, filters: Query[AssetFilters]):
    require_scope(request, "read")
    qs = selectors.filter_assets(request.auth, customer=filters.customer, site=filters.site, q=filters.q,
                                 category=filters.category)
    return _page(request, qs, filters, asset_out)


@router.post("/assets", response={201: AssetOut}, tags=["assets"], summary="Create an asset")
def create_asset(request, payload: AssetIn, response: HttpResponse):
    require_scope(request, "write")
    asset = services.do_create_asset(actor=request.auth, data=payload.model_dump(exclude_unset=True))
    _created(response, f"/assets/{asset.serial_number}")
    return Status(201, asset_out(asset))


@router.get("/assets/{path:serial_number}", response=AssetOut, tags=["assets"],
            summary="Get an asset by serial number")
def get_asset(request, serial_number: str):
    require_scope(request, "read")
    return asset_out(selectors.access_asset(request.auth, serial_number))


@router.patch("/assets/{path:serial_number}", response=AssetOut, tags=["assets"], summary="Edit an asset (partial)")
def update_asset(request, serial_number: str, payload: AssetPatch):
    require_scope(request, "write")
    asset = selectors.access_asset(request.auth, serial_number)
    asset = services.do_update_asset(actor=request.auth, asset=asset, data=payload.model_dump(exclude_unset=True))
    return asset_out(asset)


@router.delete("/assets/{path:serial_number}", response={204: None}, tags=["assets"],
               summary="Delete an asset no work order refers to (409 otherwise)")
def delete_asset(request, serial_number: str):
    require_scope(request, "write")
    services.do_delete_asset(actor=request.auth, asset=selectors.access_asset(request.auth, serial_number))
    return Status(204, None)
