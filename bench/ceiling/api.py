"""The same kind of endpoints as closeloop's work order API: create, get by code, filtered
list (first page of 25, newest first, with a cursor), assign. Bearer token checked against a
setting (constant time), output through a ninja Schema as closeloop's is."""

import hmac
import os
from datetime import datetime

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import NinjaAPI, Schema
from ninja.security import HttpBearer

from .models import WorkOrder


class Bearer(HttpBearer):
    def authenticate(self, request, token):
        return hmac.compare_digest(token, settings.API_TOKEN) or None


api = NinjaAPI(auth=Bearer(), docs_url=None, openapi_url=None)


class WorkOrderIn(Schema):
    type: str
    title: str
    description: str = ""
    priority: str = "normal"
    customer: str
    site: str
    asset: str = ""
    contact: int | None = None
    team: str = ""


class WorkOrderOut(Schema):
    code: str
    type: str
    title: str
    description: str
    status: str
    priority: str
    customer: str
    site: str
    asset: str
    contact: int | None
    team: str
    assignee: str
    version: int
    created_at: datetime
    updated_at: datetime


class Page(Schema):
    items: list[WorkOrderOut]
    next_cursor: int | None


class AssignIn(Schema):
    assignee: str


_seq = [0]


@api.post("/work-orders", response={201: WorkOrderOut})
def create(request, data: WorkOrderIn):
    now = timezone.now()
    _seq[0] += 1
    code = f"{data.type[:2].upper()}{now:%Y%m%d}-{os.getpid()}-{_seq[0]}-{now.microsecond}"
    wo = WorkOrder.objects.create(code=code, created_at=now, updated_at=now, **data.dict())
    return 201, wo


@api.get("/work-orders/{code}", response=WorkOrderOut)
def get(request, code: str):
    return get_object_or_404(WorkOrder, code=code)


@api.get("/work-orders", response=Page)
def list_(request, status: str = "", team: str = "", priority: str = "", cursor: int | None = None):
    qs = WorkOrder.objects.order_by("-id")
    if status:
        qs = qs.filter(status=status)
    if team:
        qs = qs.filter(team=team)
    if priority:
        qs = qs.filter(priority=priority)
    if cursor:
        qs = qs.filter(id__lt=cursor)
    rows = list(qs[:26])
    return {"items": rows[:25], "next_cursor": rows[24].id if len(rows) > 25 else None}


@api.post("/work-orders/{code}/actions/assign", response=WorkOrderOut)
def assign(request, code: str, data: AssignIn):
    wo = get_object_or_404(WorkOrder, code=code)
    wo.status, wo.assignee, wo.version, wo.updated_at = "assigned", data.assignee, wo.version + 1, timezone.now()
    wo.save(update_fields=["status", "assignee", "version", "updated_at"])
    return wo
