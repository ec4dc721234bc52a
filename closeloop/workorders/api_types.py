"""Work order types and their custom fields.

Anyone signed in reads them (customer contacts: active types only); writes are
for administrators holding a token with the `admin` scope and for managers
holding one with the `write` scope (the Settings pages call the same services). Types are addressed by
key, fields by their key within the type.
"""

from typing import Literal

from django.http import HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from closeloop.accounts.services import may_administer
from closeloop.core.apikit import StrictSchema, require_scope
from closeloop.core.paging import page_by_id

from . import mainline
from . import types_selectors as selectors
from . import types_services as services

router = Router(tags=["work order types"])
BASE = "/api/v1"

KindName = Literal["repair", "service", "after_sales", "production", "preventive"]
FieldKindName = Literal["text", "number", "choice", "date", "boolean", "user", "asset", "photo", "signature"]


def require_types_write(request) -> None:
    """Managers with a `write` token; administrators, as for users and teams, with the `admin` scope too."""
    require_scope(request, "write")
    services.require_type_manager(request.auth)
    if may_administer(request.auth):
        require_scope(request, "admin")


STAGES_HELP = ("The main line: the lifecycle stages the type uses, in this order: " + ", ".join(mainline.KEYS)
               + ". intake, execution and close always; default every stage.")


# ---- shapes ------------------------------------------------------------------------

class FieldIn(StrictSchema):
    key: str = Field(max_length=40, description="Lower-case identifier, unique within the type.",
                     examples=["temperature"])
    label: str = Field(max_length=100)
    kind: FieldKindName = "text"
    required: bool = False
    choices: list[str] = Field(default_factory=list, max_length=100, description="Choice fields only; not empty.")
    min_value: float | None = Field(None, description="Number fields only.")
    max_value: float | None = Field(None, description="Number fields only; not below min_value.")
    max_length: int | None = Field(None, description="Text fields only, 1 to 5000.")
    pattern: str = Field("", max_length=200, description="Text fields only: a regular expression values must match.")
    help_text: str = Field("", max_length=200)
    unit: str = Field("", max_length=20, description="Number fields only, e.g. °C.")
    order: int | None = Field(None, description="Position in forms; default after the last field.")
    active: bool = True


class FieldPatch(StrictSchema):
    key: str | None = Field(None, max_length=40)
    label: str | None = Field(None, max_length=100)
    kind: FieldKindName | None = None
    required: bool | None = None
    choices: list[str] | None = Field(None, max_length=100)
    min_value: float | None = None
    max_value: float | None = None
    max_length: int | None = None
    pattern: str | None = Field(None, max_length=200)
    help_text: str | None = Field(None, max_length=200)
    unit: str | None = Field(None, max_length=20)
    order: int | None = None
    active: bool | None = None


class TypeIn(StrictSchema):
    key: str = Field(max_length=40, examples=["repair"])
    name: str = Field(max_length=100)
    kind: KindName = "repair"
    prefix: str = Field(max_length=4, description="1-4 upper-case letters starting every code, e.g. WD.")
    description: str = Field("", max_length=5000)
    process_steps: list[str] = Field(default_factory=list, max_length=50, description="Production types.")
    stages: list[str] | None = Field(None, max_length=20, description=STAGES_HELP)
    active: bool = True
    fields: list[FieldIn] = Field(default_factory=list, max_length=100, description="Custom fields to create.")


class TypePatch(StrictSchema):
    key: str | None = Field(None, max_length=40)
    name: str | None = Field(None, max_length=100)
    kind: KindName | None = None
    prefix: str | None = Field(None, max_length=4, description="New work orders only; existing codes keep theirs.")
    description: str | None = Field(None, max_length=5000)
    process_steps: list[str] | None = Field(None, max_length=50)
    stages: list[str] | None = Field(None, max_length=20, description=STAGES_HELP)
    active: bool | None = None


class FieldOut(Schema):
    key: str
    label: str
    kind: str
    required: bool
    choices: list[str]
    min_value: float | None
    max_value: float | None
    max_length: int | None
    pattern: str
    help_text: str
    unit: str
    order: int
    active: bool


class TypeOut(Schema):
    key: str
    name: str
    kind: str
    prefix: str
    description: str
    process_steps: list[str]
    stages: list[str]
    active: bool
    fields: list[FieldOut]


class TypePage(Schema):
    items: list[TypeOut]
    next_cursor: str | None


class TypeFilters(Schema):
    kind: KindName | None = None
    active: bool | None = None
    cursor: str | None = Field(None, max_length=200)
    limit: int = Field(25, ge=1, le=100)


def _num(d) -> float | None:
    return float(d) if d is not None else None


def field_out(f) -> dict:
    return {"key": f.key, "label": f.label, "kind": f.kind, "required": f.required, "choices": list(f.choices or []),
            "min_value": _num(f.min_value), "max_value": _num(f.max_value), "max_length": f.max_length,
            "pattern": f.pattern, "help_text": f.help_text, "unit": f.unit, "order": f.order, "active": f.active}


def type_out(t) -> dict:
    return {"key": t.key, "name": t.name, "kind": t.kind, "prefix": t.prefix, "description": t.description,
            "process_steps": list(t.process_steps or []), "stages": list(mainline.stages_of(t)), "active": t.active,
            "fields": [field_out(f) for f in t.fields.all()]}


# ---- types -------------------------------------------------------------------------

@router.get("/work-order-types", response=TypePage, summary="List work order types with their fields")
def list_types(request, filters: Query[TypeFilters]):
    require_scope(request, "read")
    qs = selectors.filter_types(request.auth, kind=filters.kind, active=filters.active)
    page = page_by_id(qs, cursor=filters.cursor, limit=filters.limit)
    return {"items": [type_out(t) for t in page.items], "next_cursor": page.next_cursor}


@router.post("/work-order-types", response={201: TypeOut},
             summary="Create a type, optionally with its fields (administrators, managers)")
def create_type(request, payload: TypeIn, response: HttpResponse):
    require_types_write(request)
    data = payload.model_dump(exclude_unset=True)
    fields = data.pop("fields", [])
    wo_type = services.do_create_type_with_fields(actor=request.auth, data=data, fields=fields)
    response["Location"] = f"{BASE}/work-order-types/{wo_type.key}"
    return Status(201, type_out(selectors.access_type(request.auth, wo_type.key)))


@router.get("/work-order-types/{key}", response=TypeOut, summary="Get a type by key")
def get_type(request, key: str):
    require_scope(request, "read")
    return type_out(selectors.access_type(request.auth, key))


@router.patch("/work-order-types/{key}", response=TypeOut, summary="Edit a type (administrators, managers; partial)")
def update_type(request, key: str, payload: TypePatch):
    require_types_write(request)
    wo_type = services.do_update_type(actor=request.auth, wo_type=selectors.access_type(request.auth, key),
                                      data=payload.model_dump(exclude_unset=True))
    return type_out(selectors.access_type(request.auth, wo_type.key))


@router.delete("/work-order-types/{key}", response={204: None},
               summary="Delete a type no work order uses (409 otherwise: set active=false)")
def delete_type(request, key: str):
    require_types_write(request)
    services.do_delete_type(actor=request.auth, wo_type=selectors.access_type(request.auth, key))
    return Status(204, None)


# ---- custom fields -----------------------------------------------------------------

@router.get("/work-order-types/{key}/fields", response=list[FieldOut], summary="A type's custom fields, in order")
def list_fields(request, key: str):
    require_scope(request, "read")
    return [field_out(f) for f in selectors.access_type(request.auth, key).fields.all()]


@router.post("/work-order-types/{key}/fields", response={201: FieldOut}, summary="Add a custom field (administrators, managers)")
def create_field(request, key: str, payload: FieldIn, response: HttpResponse):
    require_types_write(request)
    wo_type = selectors.access_type(request.auth, key)
    field = services.do_create_field(actor=request.auth, wo_type=wo_type, data=payload.model_dump(exclude_unset=True))
    response["Location"] = f"{BASE}/work-order-types/{wo_type.key}/fields/{field.key}"
    return Status(201, field_out(field))


@router.get("/work-order-types/{key}/fields/{field_key}", response=FieldOut, summary="Get one custom field")
def get_field(request, key: str, field_key: str):
    require_scope(request, "read")
    return field_out(selectors.access_field(request.auth, key, field_key))


@router.patch("/work-order-types/{key}/fields/{field_key}", response=FieldOut,
              summary="Edit a custom field (administrators, managers; partial)")
def update_field(request, key: str, field_key: str, payload: FieldPatch):
    require_types_write(request)
    field = services.do_update_field(actor=request.auth, field=selectors.access_field(request.auth, key, field_key),
                                     data=payload.model_dump(exclude_unset=True))
    return field_out(field)


@router.delete("/work-order-types/{key}/fields/{field_key}", response={204: None},
               summary="Remove a custom field: deleted if no work order holds a value for it, else deactivated "
                       "(the values stay readable)")
def delete_field(request, key: str, field_key: str):
    require_types_write(request)
    services.do_remove_field(actor=request.auth, field=selectors.access_field(request.auth, key, field_key))
    return Status(204, None)


# ---- the main line -----------------------------------------------------------------

class MainLinePoint(Schema):
    kind: str = Field(description="approval or handoff")
    action: str
    stage: str
    label: str
    url: str
    active: bool
    for_every_type: bool = False


class MainLineBlock(Schema):
    stage: str
    label: str
    mandatory: bool
    actions: list[str]
    points: list[MainLinePoint] = Field(default_factory=list)
    process_steps: list[str] | None = None


class MainLineOut(Schema):
    stages: list[str]
    blocks: list[MainLineBlock]
    unused: list[MainLineBlock]
    process_steps: list[str]
    other_points: list[MainLinePoint] = Field(description="Approval points and handoffs whose action belongs to no "
                                                           "stage of the line.")


class MainLineIn(StrictSchema):
    stages: list[str] = Field(max_length=20, description=STAGES_HELP,
                              examples=[["intake", "dispatch", "accept", "execution", "close"]])
    process_steps: list[str] | None = Field(None, max_length=50, description="The field execution's process steps "
                                                                              "(unchanged when left out).")


@router.get("/work-order-types/{key}/main-line", response=MainLineOut,
            summary="A type's main line: its stages in order, with approval points and handoffs (those for "
                    "administrators and managers only)")
def get_main_line(request, key: str):
    require_scope(request, "read")
    return mainline.describe(selectors.access_type(request.auth, key),
                             with_points=services.may_manage_types(request.auth))


@router.put("/work-order-types/{key}/main-line", response=MainLineOut,
            summary="Set a type's main line (administrators, managers)")
def put_main_line(request, key: str, payload: MainLineIn):
    require_types_write(request)
    wo_type = services.do_set_main_line(actor=request.auth, wo_type=selectors.access_type(request.auth, key),
                                        data=payload.model_dump(exclude_unset=True))
    return mainline.describe(wo_type)
