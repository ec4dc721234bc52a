"""API shapes for customers, sites, contacts, assets and service contracts, and the
functions that turn rows into them. Input schemas are strict (unknown fields are a
422); the services do the real validation, so the console gets the same rules."""

from datetime import date, datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from closeloop.accounts.models import Role
from closeloop.core.apikit import StrictSchema

from .selectors import contract_term

TierName = Literal["standard", "silver", "gold", "platinum"]


class ListParams(Schema):
    cursor: str | None = Field(None, max_length=200, description="`next_cursor` of the previous page.")
    limit: int = Field(25, ge=1, le=100)


# ---- inputs ------------------------------------------------------------------------

class CustomerIn(StrictSchema):
    code: str = Field(max_length=40, examples=["ruijin"])
    name: str = Field(max_length=200, examples=["瑞金医院"])
    tier: TierName = "standard"
    province: str = Field("", max_length=50)
    phone: str = Field("", max_length=32)
    notes: str = Field("", max_length=5000)


class CustomerPatch(StrictSchema):
    code: str | None = Field(None, max_length=40)
    name: str | None = Field(None, max_length=200)
    tier: TierName | None = None
    province: str | None = Field(None, max_length=50)
    phone: str | None = Field(None, max_length=32)
    notes: str | None = Field(None, max_length=5000)


class SiteIn(StrictSchema):
    customer: str = Field(max_length=40, description="Customer code.")
    code: str = Field(max_length=40)
    name: str = Field(max_length=200)
    province: str = Field("", max_length=50)
    city: str = Field("", max_length=50)
    address: str = Field("", max_length=300)
    latitude: float | None = Field(None, description="-90 to 90")
    longitude: float | None = Field(None, description="-180 to 180")
    grade: str = Field("", max_length=40, examples=["三级甲等"])


class SitePatch(StrictSchema):
    customer: str | None = Field(None, max_length=40)
    code: str | None = Field(None, max_length=40)
    name: str | None = Field(None, max_length=200)
    province: str | None = Field(None, max_length=50)
    city: str | None = Field(None, max_length=50)
    address: str | None = Field(None, max_length=300)
    latitude: float | None = None
    longitude: float | None = None
    grade: str | None = Field(None, max_length=40)


class ContactIn(StrictSchema):
    customer: str | None = Field(None, max_length=40, description="Customer code; taken from the site if left out.")
    site: str | None = Field(None, max_length=40, description="Site code, of the same customer.")
    name: str = Field(max_length=100)
    phone: str = Field("", max_length=32)
    email: str = Field("", max_length=254)
    title: str = Field("", max_length=100)


class ContactPatch(StrictSchema):
    customer: str | None = Field(None, max_length=40)
    site: str | None = Field(None, max_length=40)
    name: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=32)
    email: str | None = Field(None, max_length=254)
    title: str | None = Field(None, max_length=100)


class AssetIn(StrictSchema):
    customer: str | None = Field(None, max_length=40, description="Customer code; taken from the site if left out.")
    site: str | None = Field(None, max_length=40, description="Site code, of the same customer.")
    serial_number: str = Field(max_length=100)
    name: str = Field(max_length=200)
    category: str = Field("", max_length=100)
    manufacturer: str = Field("", max_length=100)
    model: str = Field("", max_length=100)
    nameplate: dict[str, Any] = Field(default_factory=dict, description="Nameplate data, name: value.")
    install_date: date | None = None
    batch: str = Field("", max_length=100)


class AssetPatch(StrictSchema):
    customer: str | None = Field(None, max_length=40)
    site: str | None = Field(None, max_length=40)
    serial_number: str | None = Field(None, max_length=100)
    name: str | None = Field(None, max_length=200)
    category: str | None = Field(None, max_length=100)
    manufacturer: str | None = Field(None, max_length=100)
    model: str | None = Field(None, max_length=100)
    nameplate: dict[str, Any] | None = None
    install_date: date | None = None
    batch: str | None = Field(None, max_length=100)


class ContractIn(StrictSchema):
    number: str = Field(max_length=60)
    tier: TierName | None = Field(None, description="Defaults to the customer's tier.")
    starts_on: date
    ends_on: date


class ContractNew(ContractIn):
    customer: str = Field(max_length=40, description="Customer code.")


class ContractPatch(StrictSchema):
    customer: str | None = Field(None, max_length=40, description="Customer code (moves the contract).")
    number: str | None = Field(None, max_length=60)
    tier: TierName | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    active: bool | None = Field(None, description="false deactivates the contract, true reactivates it.")


# ---- outputs -----------------------------------------------------------------------

class Ref(Schema):
    code: str
    name: str


class CustomerOut(Schema):
    code: str
    name: str
    tier: str
    province: str
    phone: str
    notes: str | None = Field(description="Internal; null for customer contacts.")
    created_at: datetime


class SiteOut(Schema):
    code: str
    name: str
    customer: Ref
    province: str
    city: str
    address: str
    latitude: float | None
    longitude: float | None
    grade: str


class ContactOut(Schema):
    id: int
    name: str
    customer: Ref
    site: Ref | None
    phone: str
    email: str
    title: str


class AssetOut(Schema):
    serial_number: str
    name: str
    customer: Ref
    site: Ref | None
    category: str
    manufacturer: str
    model: str
    nameplate: dict[str, Any]
    install_date: date | None
    batch: str


class ContractOut(Schema):
    number: str
    customer: Ref
    tier: str
    starts_on: date
    ends_on: date
    active: bool
    term: Literal["not_started", "in_force", "ended"] = Field(description="On today's date.")


class CustomerPage(Schema):
    items: list[CustomerOut]
    next_cursor: str | None


class SitePage(Schema):
    items: list[SiteOut]
    next_cursor: str | None


class ContactPage(Schema):
    items: list[ContactOut]
    next_cursor: str | None


class AssetPage(Schema):
    items: list[AssetOut]
    next_cursor: str | None


class ContractPage(Schema):
    items: list[ContractOut]
    next_cursor: str | None


# ---- rows -> dicts ---------------------------------------------------------------------

def _ref(obj) -> dict | None:
    return {"code": obj.code, "name": obj.name} if obj is not None else None


def _num(d) -> float | None:
    return float(d) if d is not None else None


def customer_out(c, viewer) -> dict:
    return {"code": c.code, "name": c.name, "tier": c.tier, "province": c.province, "phone": c.phone,
            "notes": None if viewer.role == Role.CUSTOMER else c.notes, "created_at": c.created_at}


def site_out(s, viewer=None) -> dict:
    return {"code": s.code, "name": s.name, "customer": _ref(s.customer), "province": s.province, "city": s.city,
            "address": s.address, "latitude": _num(s.latitude), "longitude": _num(s.longitude), "grade": s.grade}


def contact_out(c, viewer=None) -> dict:
    return {"id": c.pk, "name": c.name, "customer": _ref(c.customer), "site": _ref(c.site) if c.site_id else None,
            "phone": c.phone, "email": c.email, "title": c.title}


def asset_out(a, viewer=None) -> dict:
    return {"serial_number": a.serial_number, "name": a.name, "customer": _ref(a.customer),
            "site": _ref(a.site) if a.site_id else None, "category": a.category, "manufacturer": a.manufacturer,
            "model": a.model, "nameplate": a.nameplate or {}, "install_date": a.install_date, "batch": a.batch}


def contract_out(k, viewer=None) -> dict:
    return {"number": k.number, "customer": _ref(k.customer), "tier": k.tier, "starts_on": k.starts_on,
            "ends_on": k.ends_on, "active": k.is_active, "term": contract_term(k)}
