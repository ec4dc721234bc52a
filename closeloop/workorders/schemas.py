from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from closeloop.core.apikit import StrictSchema

PriorityName = Literal["low", "normal", "high", "urgent"]


class ExternalRefIn(StrictSchema):
    system: str = Field(min_length=1, max_length=40, examples=["crm"])
    id: str = Field(min_length=1, max_length=100, examples=["OPP-2026-0042"])


class WorkOrderCreate(StrictSchema):
    type: str = Field(max_length=40, description="Work order type key, e.g. `repair`.")
    title: str = Field(max_length=200)
    description: str = Field("", max_length=20000)
    priority: PriorityName | None = None
    customer: str | None = Field(None, max_length=40, description="Customer code.")
    site: str | None = Field(None, max_length=40, description="Site code.")
    asset: str | None = Field(None, max_length=100, description="Asset serial number.")
    contact: int | None = None
    fault_code: str = Field("", max_length=40)
    team: str | None = Field(None, max_length=40, description="Team code.")
    assignee: str | None = Field(None, max_length=150, description="Engineer username; assigns at once.")
    custom: dict[str, Any] = Field(default_factory=dict, description="Values of the type's custom fields.")
    external_refs: list[ExternalRefIn] = Field(default_factory=list, max_length=20)


class WorkOrderUpdate(StrictSchema):
    title: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=20000)
    priority: PriorityName | None = None
    customer: str | None = Field(None, max_length=40)
    site: str | None = Field(None, max_length=40)
    asset: str | None = Field(None, max_length=100)
    contact: int | None = None
    fault_code: str | None = Field(None, max_length=40)
    team: str | None = Field(None, max_length=40)
    custom: dict[str, Any] | None = None


class ActionIn(StrictSchema):
    assignee: str | None = Field(None, max_length=150)
    team: str | None = Field(None, max_length=40)
    note: str | None = Field(None, max_length=2000)
    reason: str | None = Field(None, max_length=2000)
    resolution: str | None = Field(None, max_length=20000)
    invoice_number: str | None = Field(None, max_length=64)
    rating: int | None = Field(None, ge=1, le=5)
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)


class CommentIn(StrictSchema):
    body: str = Field(max_length=10000)
    public: bool = False


class TagsIn(StrictSchema):
    tags: list[str] = Field(max_length=20, description="The whole list (replaces it); normalized: lower-case, "
                            "full-width as half-width, spaces as '-'.")


class WatcherIn(StrictSchema):
    username: str = Field(min_length=1, max_length=150)


class LinkIn(StrictSchema):
    target: str = Field(max_length=24, description="Code of the other work order.")
    kind: Literal["parent", "duplicate", "related", "repeat"]


class Ref(Schema):
    code: str
    name: str


class UserRef(Schema):
    username: str
    name: str


class TypeRef(Schema):
    key: str
    name: str


class AssetRef(Schema):
    serial_number: str
    name: str
    model: str


class ContactRef(Schema):
    id: int
    name: str
    phone: str


class ExternalRefOut(Schema):
    system: str
    id: str


class LinkOut(Schema):
    kind: str
    direction: Literal["out", "in"]
    code: str
    title: str
    status: str


class WorkOrderOut(Schema):
    code: str
    type: TypeRef
    title: str
    description: str
    priority: str
    status: str
    status_label: str
    customer: Ref | None
    site: Ref | None
    asset: AssetRef | None
    contact: ContactRef | None
    fault_code: str
    team: Ref | None
    assignee: UserRef | None
    custom: dict[str, Any]
    tags: list[str] = []
    resolution: str
    invoice_number: str
    rating: int | None
    version: int
    created_at: datetime
    updated_at: datetime
    milestones: dict[str, datetime | None]
    external_refs: list[ExternalRefOut] | None = None
    links: list[LinkOut] | None = None
    allowed_actions: list[str] | None = None
    #: Usernames of the watchers; detail only.
    watchers: list[str] | None = None
    #: The SLA ledger, one entry per target (sla.serializers.target); detail only.
    sla: list[dict[str, Any]] | None = None


class WorkOrderPage(Schema):
    items: list[WorkOrderOut]
    next_cursor: str | None


class EventOut(Schema):
    id: int
    at: datetime
    actor: UserRef | None
    kind: str
    action: str
    from_state: str
    to_state: str
    data: dict[str, Any]
    public: bool


class TimelinePage(Schema):
    items: list[EventOut]
    next_cursor: str | None


class AttachmentOut(Schema):
    id: int
    name: str
    content_type: str
    size: int
    sha256: str
    public: bool
    created_at: datetime
    url: str
