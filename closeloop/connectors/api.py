"""/api/v1/connectors (administrators) and /api/v1/work-orders/{code}/context (staff who see the work order)."""

from ninja import Router, Status
from pydantic import Field

from closeloop.core.apikit import StrictSchema, require_role, require_scope

from . import context, selectors, serializers, services

router = Router(tags=["connectors"])
ADMINS = ("admin",)


class FieldIn(StrictSchema):
    path: str = Field(max_length=200)
    label: str = Field(max_length=60)


class ConnectorIn(StrictSchema):
    key: str = Field(max_length=40)
    name: str = Field(max_length=100)
    kind: str = "http_json"
    enabled: bool = True
    order: int = 50
    ref_system: str = Field("", max_length=40, description="External ref system whose id fills {external_id}")
    url_template: str = Field(max_length=500, description="e.g. https://crm.example.com/api/opportunities/{external_id}")
    link_template: str = Field("", max_length=500)
    auth_header: str = Field("", max_length=100, description="e.g. Authorization")
    auth_secret: str = Field("", max_length=2000, description="The header's value; stored encrypted, never returned")
    fields: list[FieldIn] = []
    timeout_ms: int = 1500


class ConnectorPatch(StrictSchema):
    key: str | None = Field(None, max_length=40)
    name: str | None = Field(None, max_length=100)
    enabled: bool | None = None
    order: int | None = None
    ref_system: str | None = Field(None, max_length=40)
    url_template: str | None = Field(None, max_length=500)
    link_template: str | None = Field(None, max_length=500)
    auth_header: str | None = Field(None, max_length=100)
    auth_secret: str | None = Field(None, max_length=2000, description="Blank or absent keeps the stored secret")
    clear_secret: bool | None = None
    fields: list[FieldIn] | None = None
    timeout_ms: int | None = None


@router.get("/connectors", response=list[dict], summary="Lookup connectors (secrets never shown)")
def list_connectors(request):
    require_scope(request, "read")
    require_role(request, *ADMINS)
    return [serializers.connector(c) for c in selectors.connectors()]


@router.post("/connectors", response={201: dict}, summary="Add a lookup connector")
def create_connector(request, body: ConnectorIn):
    require_scope(request, "write")
    require_role(request, *ADMINS)
    c = services.do_create_connector(actor=request.auth, data=body.model_dump())
    return Status(201, serializers.connector(c))


@router.get("/connectors/{cid}", response=dict)
def get_connector(request, cid: int):
    require_scope(request, "read")
    require_role(request, *ADMINS)
    return serializers.connector(selectors.connector(cid))


@router.patch("/connectors/{cid}", response=dict, summary="Edit a lookup connector (a blank secret is kept)")
def patch_connector(request, cid: int, body: ConnectorPatch):
    require_scope(request, "write")
    require_role(request, *ADMINS)
    c = selectors.connector(cid)
    data = body.model_dump(exclude_unset=True)
    if data.get("auth_secret") in (None, ""):
        data.pop("auth_secret", None)
    return serializers.connector(services.do_update_connector(actor=request.auth, connector=c, data=data))


@router.delete("/connectors/{cid}", response={204: None})
def delete_connector(request, cid: int):
    require_scope(request, "write")
    require_role(request, *ADMINS)
    services.do_delete_connector(actor=request.auth, connector=selectors.connector(cid))
    return Status(204, None)


@router.get("/work-orders/{code}/context", response=list[dict],
            summary="The work order's records in the connected systems, fetched in parallel with a time limit")
def work_order_context(request, code: str, system: str | None = None, fresh: bool = False):
    require_scope(request, "read")
    wo = selectors.work_order_for_context(request.auth, code)
    return [serializers.outcome(o) for o in context.gather(wo, only=system, fresh=fresh)]
