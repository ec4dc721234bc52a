"""Work order endpoints. Thin: parse, check scope, call selectors/services, serialize."""

from datetime import datetime

from django.http import FileResponse, HttpResponse
from django.utils.translation import gettext as _
from ninja import File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from closeloop.core.apikit import parse_if_match, render, require_scope, shaped
from closeloop.core.errors import FieldProblem, NotFound, ValidationFailed
from closeloop.core.paging import page_by_id

from . import attachments, selectors, serializers, services
from .lifecycle import ACTIONS, STATES
from .schemas import (
    ActionIn,
    AttachmentOut,
    CommentIn,
    EventOut,
    ExternalRefIn,
    ExternalRefOut,
    LinkIn,
    TagsIn,
    TimelinePage,
    WatcherIn,
    WorkOrderCreate,
    WorkOrderOut,
    WorkOrderPage,
    WorkOrderUpdate,
)

router = Router(tags=["work orders"])


def _detail(wo, request) -> dict:
    return shaped(WorkOrderOut, serializers.work_order(wo, request.auth, detail=True))


def _with_etag(response: HttpResponse, wo) -> HttpResponse:
    response["ETag"] = wo.etag
    return response


class ListFilters(Schema):
    status: list[str] | None = Field(None, description=f"One or more of {', '.join(STATES)}")
    priority: list[str] | None = None
    type: str | None = Field(None, max_length=40)
    team: str | None = Field(None, max_length=40)
    assignee: str | None = Field(None, max_length=150, description="Username, or `none` for unassigned.")
    customer: str | None = Field(None, max_length=40)
    site: str | None = Field(None, max_length=40)
    asset: str | None = Field(None, max_length=100)
    created_after: datetime | None = None
    created_before: datetime | None = None
    q: str | None = Field(None, max_length=200, description="Keywords; Chinese words of two characters work.")
    external_system: str | None = Field(None, max_length=40)
    external_id: str | None = Field(None, max_length=100)
    custom: list[str] | None = Field(None, description="Custom field filter `key:value`, repeatable, e.g. "
                                     "`custom=shift:早` (typed by the field's definition).")
    breached: bool | None = Field(None, description="SLA: with (true) or without (false) a breached target.")
    due_within: int | None = Field(None, ge=0, le=366 * 86400,
                                   description="SLA: a running target is due within this many seconds.")
    tag: list[str] | None = Field(None, max_length=10, description="Tag, repeatable (all must match); staff only.")
    cursor: str | None = Field(None, max_length=200)
    limit: int = Field(25, ge=1, le=100)


@router.get("/work-orders", response=WorkOrderPage, summary="List and search work orders")
def list_work_orders(request, filters: Query[ListFilters], response: HttpResponse):
    require_scope(request, "read")
    data = filters.model_dump()
    bad = [s for s in (data["status"] or []) if s not in STATES]
    if bad:
        raise ValidationFailed(FieldProblem("status", _("Unknown status: %(s)s.") % {"s": ", ".join(bad)}))
    cursor, limit = data.pop("cursor"), data.pop("limit")
    page = selectors.page_work_order_rows(request.auth, selectors.WorkOrderFilter(**data), cursor=cursor,
                                          limit=limit)
    return render(request, response, {"items": serializers.list_items(page.items, request.auth),
                                      "next_cursor": page.next_cursor})


@router.post("/work-orders", response={201: WorkOrderOut}, summary="Create a work order")
def create_work_order(request, payload: WorkOrderCreate, response: HttpResponse):
    require_scope(request, "write")
    data = payload.model_dump(exclude_unset=True)
    wo = services.do_create_work_order(actor=request.auth, data=data)
    wo = selectors.access_work_order_by_code(request.auth, wo.code)
    response["Location"] = f"/api/v1/work-orders/{wo.code}"
    response["ETag"] = wo.etag
    return render(request, response, _detail(wo, request), 201)


@router.get("/work-orders/{code}", response=WorkOrderOut, summary="Get a work order by its code")
def get_work_order(request, code: str, response: HttpResponse):
    require_scope(request, "read")
    wo = selectors.access_work_order_by_code(request.auth, code)
    _with_etag(response, wo)
    return render(request, response, _detail(wo, request))


@router.patch("/work-orders/{code}", response=WorkOrderOut, summary="Edit fields (send If-Match to avoid lost updates)")
def update_work_order(request, code: str, payload: WorkOrderUpdate, response: HttpResponse):
    require_scope(request, "write")
    wo = selectors.access_work_order_by_code(request.auth, code)
    wo = services.do_update_work_order(actor=request.auth, wo=wo, data=payload.model_dump(exclude_unset=True),
                                       expected_version=parse_if_match(request))
    wo = selectors.access_work_order_by_code(request.auth, code)
    _with_etag(response, wo)
    return render(request, response, _detail(wo, request))


@router.post("/work-orders/{code}/actions/{action}", response=WorkOrderOut,
             summary=f"Take an action: {', '.join(ACTIONS)}")
def take_action(request, code: str, action: str, response: HttpResponse, payload: ActionIn | None = None):
    require_scope(request, "write")
    wo = selectors.access_work_order_by_code(request.auth, code)
    data = payload.model_dump(exclude_unset=True) if payload is not None else {}
    services.do_transition(actor=request.auth, wo=wo, action=action, data=data,
                           expected_version=parse_if_match(request))
    wo = selectors.access_work_order_by_code(request.auth, code)
    _with_etag(response, wo)
    return render(request, response, _detail(wo, request))


@router.get("/work-orders/{code}/timeline", response=TimelinePage, summary="The work order's timeline, oldest first")
def timeline(request, code: str, cursor: str | None = None, limit: int = Query(100, ge=1, le=500)):
    require_scope(request, "read")
    wo = selectors.access_work_order_by_code(request.auth, code)
    page = page_by_id(selectors.timeline_for(request.auth, wo), cursor=cursor, limit=limit)
    return {"items": [serializers.event(e) for e in page.items], "next_cursor": page.next_cursor}


@router.post("/work-orders/{code}/comments", response={201: EventOut}, summary="Comment (internal or public)")
def add_comment(request, code: str, payload: CommentIn):
    require_scope(request, "write")
    wo = selectors.access_work_order_by_code(request.auth, code)
    ev = services.do_add_comment(actor=request.auth, wo=wo, body=payload.body, public=payload.public)
    return Status(201, serializers.event(ev))


@router.get("/work-orders/{code}/attachments", response=list[AttachmentOut], summary="List attachments")
def list_attachments(request, code: str):
    require_scope(request, "read")
    wo = selectors.access_work_order_by_code(request.auth, code)
    return [serializers.attachment(a, wo.code) for a in selectors.attachments_for(request.auth, wo)]


@router.post("/work-orders/{code}/attachments", response={201: AttachmentOut}, summary="Upload an attachment")
def upload_attachment(request, code: str, file: File[UploadedFile], public: Form[bool] = False):
    require_scope(request, "write")
    wo = selectors.access_work_order_by_code(request.auth, code)
    att = attachments.do_add_attachment(actor=request.auth, wo=wo, upload=file, public=public)
    return Status(201, serializers.attachment(att, wo.code))


@router.get("/work-orders/{code}/attachments/{attachment_id}", url_name="attachment_download",
            summary="Download an attachment", response={200: None})
def download_attachment(request, code: str, attachment_id: int):
    require_scope(request, "read")
    att = selectors.access_attachment(request.auth, code, attachment_id)
    return attachment_response(att)


def attachment_response(att) -> FileResponse:
    """Served as a download with a fixed type: an upload can never run as a page on our origin."""
    try:
        fh = att.file.open("rb")
    except FileNotFoundError:
        raise NotFound(_("The file is missing from storage."))
    resp = FileResponse(fh, as_attachment=True, filename=att.original_name, content_type=att.content_type)
    resp["X-Content-Type-Options"] = "nosniff"
    resp["Content-Security-Policy"] = "default-src 'none'; sandbox"
    resp["Cache-Control"] = "private, no-store"
    return resp


@router.post("/work-orders/{code}/external-refs", response={201: ExternalRefOut},
             summary="Link an id in another system (CRM, ERP)")
def add_external_ref(request, code: str, payload: ExternalRefIn):
    require_scope(request, "write")
    wo = selectors.access_work_order_by_code(request.auth, code)
    ref = services.do_add_external_ref(actor=request.auth, wo=wo, system=payload.system, external_id=payload.id)
    return Status(201, {"system": ref.system, "id": ref.external_id})


@router.post("/work-orders/{code}/links", response={201: dict}, summary="Link to another work order")
def add_link(request, code: str, payload: LinkIn):
    require_scope(request, "write")
    wo = selectors.access_work_order_by_code(request.auth, code)
    try:
        target = selectors.access_work_order_by_code(request.auth, payload.target)
    except NotFound:
        raise ValidationFailed(FieldProblem("target", _("No work order %(c)s.") % {"c": payload.target}, "not_found"))
    link = services.do_link(actor=request.auth, wo=wo, target=target, kind=payload.kind)
    return Status(201, {"source": wo.code, "target": target.code, "kind": link.kind})


@router.put("/work-orders/{code}/tags", response=WorkOrderOut,
            summary="Replace the tags (send If-Match to avoid lost updates)")
def set_tags(request, code: str, payload: TagsIn, response: HttpResponse):
    require_scope(request, "write")
    wo = selectors.access_work_order_by_code(request.auth, code)
    services.do_set_tags(actor=request.auth, wo=wo, tags=payload.tags, expected_version=parse_if_match(request))
    wo = selectors.access_work_order_by_code(request.auth, code)
    _with_etag(response, wo)
    return render(request, response, _detail(wo, request))


@router.post("/work-orders/{code}/watchers", response={201: dict},
             summary="Add a watcher (editors: anyone who sees it; other staff: themselves)")
def add_watcher(request, code: str, payload: WatcherIn):
    require_scope(request, "write")
    wo = selectors.access_work_order_by_code(request.auth, code)
    services.do_add_watcher(actor=request.auth, wo=wo, user=payload.username)
    return Status(201, {"watchers": services.watcher_names(wo)})


@router.delete("/work-orders/{code}/watchers/{username}", response={204: None}, summary="Remove a watcher")
def remove_watcher(request, code: str, username: str):
    require_scope(request, "write")
    wo = selectors.access_work_order_by_code(request.auth, code)
    if not services.do_remove_watcher(actor=request.auth, wo=wo, user=username):
        raise NotFound(_("%(u)s is not watching this work order.") % {"u": username[:150]})
    return Status(204, None)
