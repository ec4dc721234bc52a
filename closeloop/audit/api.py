"""GET /api/v1/audit: the configuration audit log, newest first (administrators, `admin` scope)."""

from datetime import datetime
from typing import Any

from ninja import Query, Router, Schema
from pydantic import Field

from closeloop.core.apikit import require_scope

from . import selectors, services

router = Router(tags=["audit"])


class AuditParams(Schema):
    kind: str | None = Field(None, max_length=40, description="Object kind, e.g. `rule`, `sla_policy`, `user`.")
    object: str | None = Field(None, max_length=64, description="Object id (with `kind`).")
    actor: str | None = Field(None, max_length=150,
                              description="Username of who made the change; `-` for the command line or system.")
    action: str | None = Field(None, max_length=20, description="created, updated, deleted, activated, …")
    since: datetime | None = Field(None, description="Changes at or after this time (ISO 8601).")
    until: datetime | None = Field(None, description="Changes before this time (ISO 8601).")
    cursor: str | None = Field(None, max_length=200, description="`next_cursor` of the previous page.")
    limit: int = Field(50, ge=1, le=selectors.MAX_LIMIT)


class ActorOut(Schema):
    username: str
    name: str


class ChangeOut(Schema):
    field: str
    before: Any = None
    after: Any = None


class AuditRecordOut(Schema):
    id: int
    at: datetime
    actor: ActorOut | None
    kind: str
    object_id: str
    label: str
    action: str
    before: dict | None
    after: dict | None
    changes: list[ChangeOut]
    request_id: str


class AuditPage(Schema):
    items: list[AuditRecordOut]
    next_cursor: str | None


def record_out(r) -> dict:
    return {"id": r.pk, "at": r.at,
            "actor": {"username": r.actor.username, "name": str(r.actor)} if r.actor_id else None,
            "kind": r.kind, "object_id": r.object_id, "label": r.label, "action": r.action,
            "before": r.before, "after": r.after, "changes": services.changes(r.before, r.after),
            "request_id": r.request_id}


@router.get("/audit", response=AuditPage, summary="Configuration changes: who, when, before → after")
def list_audit(request, params: Query[AuditParams]):
    require_scope(request, "admin")
    f = selectors.AuditFilter(kind=params.kind, object=params.object, actor=params.actor, action=params.action,
                              since=params.since, until=params.until)
    page = selectors.page(selectors.filter_records(request.auth, f), cursor=params.cursor, limit=params.limit)
    return {"items": [record_out(r) for r in page.items], "next_cursor": page.next_cursor}
