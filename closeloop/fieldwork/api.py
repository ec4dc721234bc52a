"""Field work endpoints: gates, closure form, steps, parts, photos, check-ins,
signatures, signature links, QR codes, service report. Thin: services do the work."""

from django.http import HttpResponse
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from closeloop.core.apikit import StrictSchema, require_scope
from closeloop.core.errors import Forbidden, NotFound
from closeloop.workorders.models import WorkOrderType

from . import evidence, gates, report, selectors, services

router = Router(tags=["field work"])


def _wo(request, code):
    return selectors.access_for_field(request.auth, code)


class GatesOut(Schema):
    code: str
    status: str
    version: int
    all_passed: bool
    gates: list[dict]
    policy: dict | None


def _policy_dict(p):
    if p is None:
        return None
    return {"required_photos": p.required_photos, "form_fields": p.form_fields, "checklist": p.checklist,
            "require_signature": p.require_signature, "require_invoice": p.require_invoice,
            "auto_close": p.auto_close, "checkin_radius_m": p.checkin_radius_m}


@router.get("/work-orders/{code}/gates", response=GatesOut, summary="Closure gates: what passed, who, when")
def get_gates(request, code: str):
    require_scope(request, "read")
    wo = _wo(request, code)
    policy = gates.policy_for(wo)
    items = gates.evaluate(wo, policy)
    return {"code": wo.code, "status": wo.status, "version": wo.version,
            "all_passed": all(g.passed for g in items if g.required), "gates": [g.as_dict() for g in items],
            "policy": _policy_dict(policy)}


class PolicyIn(StrictSchema):
    required_photos: list[str] | None = None
    form_fields: list[dict] | None = None
    checklist: list[str] | None = None
    require_signature: bool | None = None
    require_invoice: bool | None = None
    auto_close: bool | None = None
    checkin_radius_m: int | None = None


@router.get("/work-order-types/{key}/closure-gates", response=dict, summary="A type's closure gate policy")
def get_policy(request, key: str):
    require_scope(request, "read")
    if not selectors.is_staff(request.auth):
        raise NotFound("Not found.")
    wo_type = WorkOrderType.objects.filter(key=key).first()
    if wo_type is None:
        raise NotFound("Not found.")
    from .models import ClosurePolicy

    return _policy_dict(ClosurePolicy.objects.filter(wo_type=wo_type).first()) or {}


@router.put("/work-order-types/{key}/closure-gates", response=dict, summary="Configure a type's closure gates")
def put_policy(request, key: str, payload: PolicyIn):
    require_scope(request, "admin" if request.auth.role == "admin" else "write")
    wo_type = WorkOrderType.objects.filter(key=key).first()
    if wo_type is None:
        raise NotFound("Not found.")
    p = services.do_set_policy(actor=request.auth, wo_type=wo_type, data=payload.model_dump(exclude_unset=True))
    return _policy_dict(p)


class FormIn(StrictSchema):
    data: dict


@router.put("/work-orders/{code}/closure-form", response=dict, summary="Submit the closure form")
def put_form(request, code: str, payload: FormIn):
    require_scope(request, "write")
    form = services.do_submit_closure_form(actor=request.auth, wo=_wo(request, code), data=payload.data)
    return {"data": form.data, "submitted_at": form.submitted_at}


@router.post("/work-orders/{code}/closure-form", response=dict, summary="Submit the closure form (same as PUT)")
def post_form(request, code: str, payload: FormIn):
    return put_form(request, code, payload)


class StepIn(StrictSchema):
    index: int
    result: str = Field(..., description="pass, fail or na")
    note: str = ""
    followup: bool = Field(False, description="A failed step opens a follow-up work order.")
    followup_custom: dict | None = Field(None, description="Custom field values of the follow-up (it copies the "
                                                           "parent's; a 422 names followup_custom.<key> when its "
                                                           "type requires more; the step is recorded anyway).")


@router.post("/work-orders/{code}/steps", response={201: dict}, summary="Record a checklist / process step")
def post_step(request, code: str, payload: StepIn):
    require_scope(request, "write")
    s = services.do_record_step(actor=request.auth, wo=_wo(request, code), **payload.model_dump())
    return Status(201, {"index": s.index, "label": s.label, "result": s.result,
                        "followup": s.followup.code if s.followup else None})


class PartIn(StrictSchema):
    name: str = ""
    part_number: str = ""
    quantity: float | str = 1
    operation_id: str | None = Field(None, description="The client's operation id (default: the Idempotency-Key "
                                                       "header): one record and one stock draw per operation.")


@router.post("/work-orders/{code}/parts", response={201: dict},
             summary="Record a part used (a catalogue part is drawn from the engineer's van)")
def post_part(request, code: str, payload: PartIn):
    require_scope(request, "write")
    data = payload.model_dump()
    key = data.pop("operation_id") or request.headers.get("Idempotency-Key") or None
    p = services.do_add_part(actor=request.auth, wo=_wo(request, code), key=key, **data)
    return Status(201, {"id": p.pk, "name": p.name, "part_number": p.part_number, "quantity": str(p.quantity),
                        "drawn_from": p.movement.source.code if p.movement_id else None})


def _photo(p):
    return {"id": p.pk, "kind": p.kind, "width": p.width, "height": p.height, "size": p.size, "sha256": p.sha256,
            "claimed": p.claimed, "latitude": p.latitude, "longitude": p.longitude, "flags": p.flags,
            "created_at": p.created_at, "url": f"/fieldwork/photos/{p.pk}"}


class PhotoForm(Schema):
    kind: str = "other"
    latitude: float | None = None
    longitude: float | None = None


@router.post("/work-orders/{code}/photos", response={201: dict},
             summary="Upload a photo (re-encoded and watermarked on the server)")
def post_photo(request, code: str, meta: Form[PhotoForm], file: File[UploadedFile]):
    require_scope(request, "write")
    p = evidence.do_add_photo(actor=request.auth, wo=_wo(request, code), upload=file, kind=meta.kind,
                              latitude=meta.latitude, longitude=meta.longitude)
    return Status(201, _photo(p))


@router.get("/work-orders/{code}/photos", response=list[dict], summary="Photos of a work order (staff)")
def list_photos(request, code: str):
    require_scope(request, "read")
    wo = _wo(request, code)
    if not selectors.is_staff(request.auth):
        return []
    return [_photo(p) for p in wo.photos.all()]


class CheckInIn(StrictSchema):
    qr: str = Field(..., max_length=300, description="The scanned (or typed) site or asset code.")
    latitude: float | None = None
    longitude: float | None = None
    accuracy: float | None = None
    device_time: str | None = Field(None, description="The phone's clock, ISO 8601 with zone.")


@router.post("/work-orders/{code}/checkins", response={201: dict},
             summary="Arrive by QR code: GPS, server time and device clock recorded; oddities flagged")
def post_checkin(request, code: str, payload: CheckInIn):
    require_scope(request, "write")
    ci = evidence.do_check_in(actor=request.auth, wo=_wo(request, code), **payload.model_dump())
    return Status(201, {"id": ci.pk, "at": ci.at, "scanned": ci.scanned, "distance_m": ci.distance_m,
                        "flags": ci.flags, "status": ci.work_order.status})


class SignatureIn(StrictSchema):
    signer_name: str = Field(..., max_length=100)
    image_png: str = Field(..., description="PNG, base64 or a data: URL")
    version: int = Field(..., description="The work order version shown to the signer (its ETag).")


@router.post("/work-orders/{code}/signatures", response={201: dict},
             summary="The customer's signature over this version; confirms a technically complete work order")
def post_signature(request, code: str, payload: SignatureIn):
    require_scope(request, "write")
    wo = _wo(request, code)
    sig = services.do_sign_and_confirm(wo, signer_name=payload.signer_name,
                                       image_png=services.decode_png(payload.image_png), version=payload.version,
                                       actor=request.auth,
                                       via="portal" if request.auth.role == "customer" else "device")
    return Status(201, {"id": sig.pk, "signer_name": sig.signer_name, "version": sig.version,
                        "content_hash": sig.content_hash, "via": sig.via, "created_at": sig.created_at})


class LinkIn(StrictSchema):
    contact: int | None = None


@router.post("/work-orders/{code}/signature-links", response={201: dict},
             summary="Send the contact a one-time signing link (through notifications)")
def post_signature_link(request, code: str, payload: LinkIn | None = None):
    require_scope(request, "write")
    from closeloop.customers.models import Contact

    wo = _wo(request, code)
    contact = None
    if payload is not None and payload.contact is not None:
        contact = Contact.objects.filter(pk=payload.contact).first()
        if contact is None:
            from closeloop.core.errors import FieldProblem, ValidationFailed

            raise ValidationFailed(FieldProblem("contact", "No such contact.", "not_found"))
    link, _token = services.do_send_signature_link(actor=request.auth, wo=wo, contact=contact,
                                                   base_url=request.build_absolute_uri("/")[:-1])
    return Status(201, {"id": link.pk, "contact": link.contact_id, "expires_at": link.expires_at})


@router.get("/work-orders/{code}/report.pdf", response={200: None}, summary="Service report (PDF)")
def get_report(request, code: str):
    require_scope(request, "read")
    wo = _wo(request, code)
    return report.pdf_response(wo, request.auth)


def _qr(request, kind, code, format):
    require_scope(request, "read")
    if format not in ("svg", "png"):
        raise NotFound("Not found.")
    obj = selectors.qr_target(request.auth, kind, code)
    body = evidence.qr_image(obj, format)
    resp = HttpResponse(body, content_type="image/svg+xml" if format == "svg" else "image/png")
    resp["Content-Disposition"] = f'inline; filename="qr-{kind}.{format}"'
    return resp


@router.get("/sites/{code}/qr", response={200: None}, summary="A site's signed QR code (svg or png)")
def site_qr(request, code: str, format: str = "svg"):
    return _qr(request, "site", code, format)


@router.get("/assets/{path:serial}/qr", response={200: None},
            summary="An asset's signed QR code (svg or png): the customer's label")
def asset_qr(request, serial: str, format: str = "svg"):
    return _qr(request, "asset", serial, format)


class TodayOut(Schema):
    items: list[dict]


@router.get("/me/field-work", response=TodayOut, summary="The engineer's work today, most urgent first")
def today(request):
    require_scope(request, "read")
    if request.auth.role != "engineer":
        raise Forbidden("Only engineers have a field work list.")
    return {"items": [{"code": w.code, "title": w.title, "priority": w.priority, "status": w.status,
                       "version": w.version, "site": w.site.name if w.site_id else None,
                       "customer": w.customer.name if w.customer_id else None}
                      for w in selectors.todays_work(request.auth)[:100]]}


class ReviewIn(StrictSchema):
    note: str = ""


@router.post("/work-orders/{code}/evidence-review", response=dict,
             summary="Mark the flagged check-ins and photos reviewed (dispatch)")
def post_review(request, code: str, payload: ReviewIn | None = None):
    require_scope(request, "write")
    n = services.do_review_evidence(actor=request.auth, wo=_wo(request, code), note=payload.note if payload else "")
    return {"reviewed": n}
