"""Work orders as plain dicts for the API (and the console's JSON islands)."""

from django.urls import reverse

from .lifecycle import STATE_LABELS
from .models import Attachment, TimelineEvent, WorkOrder
from .permissions import allowed_actions

MILESTONES = ("assigned_at", "accepted_at", "departed_at", "arrived_at", "started_at", "resolved_at",
              "confirmed_at", "invoiced_at", "closed_at", "cancelled_at")


# Keys other apps add to a work order's detail representation: key -> fn(wo, user) -> value
# (sla adds "sla", its targets). Registered from the app's ready(); workorders imports none of them.
_detail_parts: dict = {}


def register_detail(key: str, fn) -> None:
    _detail_parts[key] = fn


def _user(u):
    return {"username": u.username, "name": str(u)} if u is not None else None


def _customer(user) -> bool:
    return user is None or getattr(user, "role", "") == "customer"


def work_order(wo: WorkOrder, user=None, *, detail: bool = False) -> dict:
    out = {
        "code": wo.code,
        "type": {"key": wo.wo_type.key, "name": wo.wo_type.name},
        "title": wo.title,
        "description": wo.description,
        "priority": wo.priority,
        "status": wo.status,
        "status_label": str(STATE_LABELS.get(wo.status, wo.status)),
        "customer": {"code": wo.customer.code, "name": wo.customer.name} if wo.customer_id else None,
        "site": {"code": wo.site.code, "name": wo.site.name} if wo.site_id else None,
        "asset": ({"serial_number": wo.asset.serial_number, "name": wo.asset.name, "model": wo.asset.model}
                  if wo.asset_id else None),
        "contact": ({"id": wo.contact.pk, "name": wo.contact.name, "phone": wo.contact.phone}
                    if wo.contact_id else None),
        "fault_code": wo.fault_code,
        "team": {"code": wo.team.code, "name": wo.team.name} if wo.team_id else None,
        "assignee": _user(wo.assignee) if wo.assignee_id else None,
        "custom": wo.custom or {},
        # Tags and watchers are internal: customers see empty lists.
        "tags": [] if _customer(user) else list(wo.tags or []),
        "resolution": wo.resolution,
        "invoice_number": wo.invoice_number,
        "rating": wo.rating,
        "version": wo.version,
        "created_at": wo.created_at,
        "updated_at": wo.updated_at,
        "milestones": {m.removesuffix("_at"): getattr(wo, m) for m in MILESTONES},
    }
    if detail:
        from .selectors import detail_rows

        out["external_refs"], out["links"], watchers = detail_rows(wo)
        out["watchers"] = [] if _customer(user) else watchers
        if user is not None:
            out["allowed_actions"] = [t.action for t in allowed_actions(user, wo)]
        for key, fn in _detail_parts.items():
            out[key] = fn(wo, user)
    return out


def _row_user_name(r: dict) -> str:
    # User.__str__ on the row's columns: display name, else full name, else username.
    full = f"{r['assignee__first_name']} {r['assignee__last_name']}".strip()
    return r["assignee__display_name"] or full or r["assignee__username"]


def work_order_row(r: dict, user=None) -> dict:
    """work_order(wo, user) (the list representation) from a row of selectors.ROW_FIELDS.
    Equal to it for every state and relation (workorders/tests/test_representation.py)."""
    return {
        "code": r["code"],
        "type": {"key": r["wo_type__key"], "name": r["wo_type__name"]},
        "title": r["title"],
        "description": r["description"],
        "priority": r["priority"],
        "status": r["status"],
        "status_label": str(STATE_LABELS.get(r["status"], r["status"])),
        "customer": {"code": r["customer__code"], "name": r["customer__name"]} if r["customer_id"] else None,
        "site": {"code": r["site__code"], "name": r["site__name"]} if r["site_id"] else None,
        "asset": ({"serial_number": r["asset__serial_number"], "name": r["asset__name"], "model": r["asset__model"]}
                  if r["asset_id"] else None),
        "contact": ({"id": r["contact_id"], "name": r["contact__name"], "phone": r["contact__phone"]}
                    if r["contact_id"] else None),
        "fault_code": r["fault_code"],
        "team": {"code": r["team__code"], "name": r["team__name"]} if r["team_id"] else None,
        "assignee": ({"username": r["assignee__username"], "name": _row_user_name(r)} if r["assignee_id"]
                     else None),
        "custom": r["custom"] or {},
        "tags": [] if _customer(user) else list(r["tags"] or []),
        "resolution": r["resolution"],
        "invoice_number": r["invoice_number"],
        "rating": r["rating"],
        "version": r["version"],
        "created_at": r["created_at"],
        "updated_at": r["updated_at"],
        "milestones": {m.removesuffix("_at"): r[m] for m in MILESTONES},
    }


def event(e: TimelineEvent) -> dict:
    return {"id": e.pk, "at": e.at, "actor": _user(e.actor) if e.actor_id else None, "kind": e.kind,
            "action": e.action, "from_state": e.from_state, "to_state": e.to_state, "data": e.data,
            "public": e.public}


def attachment(a: Attachment, code: str) -> dict:
    return {"id": a.pk, "name": a.original_name, "content_type": a.content_type, "size": a.size, "sha256": a.sha256,
            "public": a.public, "created_at": a.created_at,
            "url": reverse("api:attachment_download", kwargs={"code": code, "attachment_id": a.pk})}
