"""Event subscriptions, their deliveries, connected systems (administrators, `admin` scope),
and the inbound endpoint connected systems post to (their own token, optional signature)."""

from datetime import datetime
from typing import Any

from ninja import Router, Schema, Status
from pydantic import Field

from closeloop.core.apikit import StrictSchema, require_scope
from closeloop.core.errors import Forbidden

from . import catalogue, inbound, selectors, services

router = Router(tags=["events"])


def _admin(request) -> None:
    require_scope(request, "admin")
    if not selectors.may_manage(request.auth):
        raise Forbidden("Only administrators manage events and connected systems.")


class SubscriptionIn(StrictSchema):
    name: str = Field(max_length=100)
    url: str = Field(max_length=500)
    events: list[str] = Field(description="Event types (GET /event-types), or [\"*\"] for all.")
    condition: str = Field("", max_length=2000, description="CEL over the payload: type, timestamp, data.")
    active: bool = True


class SubscriptionPatch(StrictSchema):
    name: str | None = Field(None, max_length=100)
    url: str | None = Field(None, max_length=500)
    events: list[str] | None = None
    condition: str | None = Field(None, max_length=2000)
    active: bool | None = None


class RotateIn(StrictSchema):
    overlap_hours: float = Field(services.DEFAULT_OVERLAP_HOURS, description="The old secret keeps signing beside "
                                 "the new one this long (0 to 168).")


class SubscriptionOut(Schema):
    id: int
    name: str
    url: str
    events: list[str]
    condition: str
    active: bool
    paused_at: datetime | None
    pause_reason: str
    consecutive_failures: int
    previous_secret_until: datetime | None
    owner: str | None
    created_at: datetime
    updated_at: datetime


class SubscriptionCreated(SubscriptionOut):
    secret: str = Field(description="The signing secret, shown once.")


class SecretOut(Schema):
    secret: str
    previous_secret_until: datetime | None


class DeliveryOut(Schema):
    id: int
    webhook_id: str
    subscription: int
    sequence: int
    event_type: str
    work_order: str | None
    status: str
    attempts: int
    redeliveries: int
    last_status_code: int | None
    last_error: str
    created_at: datetime
    delivered_at: datetime | None
    body: dict[str, Any]
    log: list[dict[str, Any]]


class EventTypeOut(Schema):
    type: str
    label: str


def _sub_out(s) -> dict:
    return {"id": s.pk, "name": s.name, "url": s.url, "events": s.events, "condition": s.condition,
            "active": s.active, "paused_at": s.paused_at, "pause_reason": s.pause_reason,
            "consecutive_failures": s.consecutive_failures, "previous_secret_until": s.previous_until,
            "owner": s.owner.username if s.owner_id else None, "created_at": s.created_at,
            "updated_at": s.updated_at}


def _delivery_out(d) -> dict:
    return {"id": d.pk, "webhook_id": d.webhook_id, "subscription": d.subscription_id, "sequence": d.sequence,
            "event_type": d.event_type, "work_order": d.work_order_code or None, "status": d.status,
            "attempts": d.attempts, "redeliveries": d.redeliveries, "last_status_code": d.last_status_code,
            "last_error": d.last_error, "created_at": d.created_at, "delivered_at": d.delivered_at, "body": d.body,
            "log": d.log}


@router.get("/event-types", response=list[EventTypeOut], summary="The event types a subscription can choose")
def event_types(request):
    _admin(request)
    return [{"type": k, "label": str(v)} for k, v in catalogue.choices()]


@router.get("/event-subscriptions", response=list[SubscriptionOut])
def list_subscriptions(request):
    _admin(request)
    return [_sub_out(s) for s in selectors.subscriptions()]


@router.post("/event-subscriptions", response={201: SubscriptionCreated})
def create_subscription(request, payload: SubscriptionIn):
    _admin(request)
    sub, secret = services.do_create_subscription(actor=request.auth, data=payload.model_dump())
    return Status(201, {**_sub_out(selectors.get_subscription(sub.pk)), "secret": secret})


@router.get("/event-subscriptions/{sub_id}", response=SubscriptionOut)
def get_subscription(request, sub_id: int):
    _admin(request)
    return _sub_out(selectors.get_subscription(sub_id))


@router.patch("/event-subscriptions/{sub_id}", response=SubscriptionOut)
def update_subscription(request, sub_id: int, payload: SubscriptionPatch):
    _admin(request)
    services.do_update_subscription(actor=request.auth, sub=selectors.get_subscription(sub_id),
                                    data=payload.model_dump(exclude_unset=True))
    return _sub_out(selectors.get_subscription(sub_id))


@router.delete("/event-subscriptions/{sub_id}", response={204: None})
def delete_subscription(request, sub_id: int):
    _admin(request)
    services.do_delete_subscription(actor=request.auth, sub=selectors.get_subscription(sub_id))
    return Status(204, None)


@router.post("/event-subscriptions/{sub_id}/rotate-secret", response=SecretOut,
             summary="A new signing secret; the old one keeps signing during the overlap")
def rotate_secret(request, sub_id: int, payload: RotateIn):
    _admin(request)
    secret = services.do_rotate_secret(actor=request.auth, sub=selectors.get_subscription(sub_id),
                                       overlap_hours=payload.overlap_hours)
    return {"secret": secret, "previous_secret_until": selectors.get_subscription(sub_id).previous_until}


@router.post("/event-subscriptions/{sub_id}/resume", response=SubscriptionOut,
             summary="Turn a paused subscription back on; held deliveries are sent")
def resume_subscription(request, sub_id: int):
    _admin(request)
    services.do_resume_subscription(actor=request.auth, sub=selectors.get_subscription(sub_id))
    return _sub_out(selectors.get_subscription(sub_id))


@router.get("/event-subscriptions/{sub_id}/deliveries", response=list[DeliveryOut])
def list_deliveries(request, sub_id: int, status: str | None = None, limit: int = 50):
    _admin(request)
    limit = max(1, min(200, limit))
    return [_delivery_out(d) for d in selectors.deliveries(selectors.get_subscription(sub_id), status, limit)]


@router.post("/event-deliveries/{delivery_id}/redeliver", response=DeliveryOut,
             summary="Send again with the same webhook-id and body")
def redeliver(request, delivery_id: int):
    _admin(request)
    d = services.do_redeliver(actor=request.auth, d=selectors.get_delivery(delivery_id))
    return _delivery_out(selectors.get_delivery(d.pk))


# ---- connected systems ---------------------------------------------------------------------------

class SystemIn(StrictSchema):
    key: str = Field(max_length=40)
    name: str = Field(max_length=100)
    scopes: list[str] = Field(description="finance, crm, erp")
    signed: bool = Field(False, description="Require Standard Webhooks signatures (a secret is made, shown once).")
    default_type: str = Field("", max_length=40, description="Work order type of CRM-created requests.")
    active: bool = True


class SystemPatch(StrictSchema):
    name: str | None = Field(None, max_length=100)
    scopes: list[str] | None = None
    signed: bool | None = Field(None, description="true: a new signing secret; false: no signatures.")
    default_type: str | None = Field(None, max_length=40)
    active: bool | None = None


class SystemOut(Schema):
    id: int
    key: str
    name: str
    scopes: list[str]
    signed: bool
    default_type: str
    active: bool
    acts_as: str
    token_prefix: str
    inbound_url: str
    created_at: datetime
    last_seen_at: datetime | None


class SystemCreated(SystemOut):
    token: str
    signing_secret: str


class SystemSecretOut(SystemOut):
    signing_secret: str


class TokenOut(Schema):
    token: str


def _system_out(s) -> dict:
    return {"id": s.pk, "key": s.key, "name": s.name, "scopes": s.scopes, "signed": bool(s.signing_secret_enc),
            "default_type": s.default_type, "active": s.active, "acts_as": s.acts_as.username,
            "token_prefix": s.token_prefix, "inbound_url": f"/api/v1/inbound/{s.key}", "created_at": s.created_at,
            "last_seen_at": s.last_seen_at}


@router.get("/connected-systems", response=list[SystemOut])
def list_systems(request):
    _admin(request)
    return [_system_out(s) for s in selectors.systems()]


@router.post("/connected-systems", response={201: SystemCreated})
def create_system(request, payload: SystemIn):
    _admin(request)
    s, token, secret = services.do_create_system(actor=request.auth, data=payload.model_dump())
    return Status(201, {**_system_out(selectors.get_system(s.pk)), "token": token, "signing_secret": secret})


@router.get("/connected-systems/{system_id}", response=SystemOut)
def get_system(request, system_id: int):
    _admin(request)
    return _system_out(selectors.get_system(system_id))


@router.patch("/connected-systems/{system_id}", response=SystemSecretOut)
def update_system(request, system_id: int, payload: SystemPatch):
    _admin(request)
    _s, secret = services.do_update_system(actor=request.auth, system=selectors.get_system(system_id),
                                           data=payload.model_dump(exclude_unset=True))
    return {**_system_out(selectors.get_system(system_id)), "signing_secret": secret}


@router.delete("/connected-systems/{system_id}", response={204: None})
def delete_system(request, system_id: int):
    _admin(request)
    services.do_delete_system(actor=request.auth, system=selectors.get_system(system_id))
    return Status(204, None)


@router.post("/connected-systems/{system_id}/rotate-token", response=TokenOut)
def rotate_token(request, system_id: int):
    _admin(request)
    return {"token": services.do_rotate_system_token(actor=request.auth, system=selectors.get_system(system_id))}


class InboundOut(Schema):
    id: str
    duplicate: bool
    work_order: str | None
    outcome: str


@router.post("/inbound/{system_key}", auth=None, response=InboundOut,
             summary="A connected system posts an event (its own bearer token; Standard Webhooks signature when "
                     "it signs)",
             openapi_extra={"requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}}})
def receive(request, system_key: str):
    return inbound.receive(system_key, request.body, request.headers)
