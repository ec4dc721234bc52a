"""Permission-checked reads of the audit log.

Only administrators read it (role admin, or a superuser). Managers design rules, flows,
gates and channels but do not read the log: it also records users, roles and API
tokens, which are an administrator's business. Everyone else gets a 403 from the API
and a 404 from the console page.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from closeloop.core.errors import Forbidden
from closeloop.core.paging import Page, page_by_id

from .models import AuditRecord

MAX_LIMIT = 200


def may_read(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active
                and (user.is_superuser or getattr(user, "role", "") == "admin"))


@dataclass
class AuditFilter:
    kind: str | None = None
    object: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    action: str | None = None


def visible_records(viewer) -> QuerySet[AuditRecord]:
    if not may_read(viewer):
        raise Forbidden(_("Only administrators read the audit log."))
    return AuditRecord.objects.select_related("actor")


def filter_records(viewer, f: AuditFilter) -> QuerySet[AuditRecord]:
    qs = visible_records(viewer)
    if f.kind:
        qs = qs.filter(kind=f.kind)
    if f.object:
        qs = qs.filter(object_id=f.object)
    if f.actor:
        qs = qs.filter(actor__isnull=True) if f.actor == "-" else qs.filter(actor__username=f.actor)
    if f.action:
        qs = qs.filter(action=f.action)
    if f.since:
        qs = qs.filter(at__gte=f.since)
    if f.until:
        qs = qs.filter(at__lt=f.until)
    return qs


def page(qs: QuerySet[AuditRecord], *, cursor: str | None = None, limit: int = 50) -> Page:
    """Newest first, keyset on id (core.paging)."""
    return page_by_id(qs, cursor=cursor, limit=max(1, min(limit, MAX_LIMIT)), newest_first=True)


def kinds_in_use() -> list[str]:
    return sorted(AuditRecord.objects.order_by().values_list("kind", flat=True).distinct())
