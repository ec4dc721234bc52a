"""Work orders as plain dicts for the API (and the console's JSON islands)."""

from django.urls import reverse
from django.utils.translation import get_language

from closeloop.accounts.models import person_label

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
        "status_label": _state_labels().get(wo.status, wo.status),
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
        # As the JSON encoder writes them, formatted here: no encoder fallback per value.
        "created_at": _iso(wo.created_at),
        "updated_at": _iso(wo.updated_at),
        "milestones": {m.removesuffix("_at"): _iso(getattr(wo, m)) for m in MILESTONES},
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


def _iso(d) -> str | None:
    """A datetime as the API's JSON encoder writes it (DjangoJSONEncoder: milliseconds, Z for UTC)."""
    if d is None:
        return None
    r = d.isoformat()
    if d.microsecond:
        r = r[:23] + r[26:]
    if r.endswith("+00:00"):
        r = r[:-6] + "Z"
    return r


_labels: dict[str, dict[str, str]] = {}


def _state_labels() -> dict[str, str]:
    """STATE_LABELS as text in the active language (translated once per language and process)."""
    lang = get_language() or ""
    labels = _labels.get(lang)
    if labels is None:
        labels = _labels[lang] = {k: str(v) for k, v in STATE_LABELS.items()}
    return labels


def list_items(rows: list, user=None) -> list[dict]:
    """The API's list items from rows of selectors.ROW_FIELDS (tuples): work_order(wo, user) as
    core.apikit.shaped(WorkOrderOut, ...) gives it, datetimes already as the JSON encoder writes
    them, in one pass with no model instances. The same bytes as the model path for every state
    and relation (workorders/tests/test_representation.py)."""
    labels = _state_labels()
    internal = not _customer(user)
    out = []
    for (_id, code, type_key, type_name, title, description, priority, status, customer_id, customer_code,
         customer_name, site_id, site_code, site_name, asset_id, serial, asset_name, asset_model, contact_id,
         contact_name, contact_phone, fault_code, team_id, team_code, team_name, assignee_id, username,
         display_name, first_name, last_name, custom, tags, resolution, invoice_number, rating, version,
         created_at, updated_at, assigned_at, accepted_at, departed_at, arrived_at, started_at, resolved_at,
         confirmed_at, invoiced_at, closed_at, cancelled_at) in rows:
        if assignee_id:
            assignee = {"username": username, "name": person_label(display_name, first_name, last_name, username)}
        else:
            assignee = None
        out.append({
            "code": code,
            "type": {"key": type_key, "name": type_name},
            "title": title,
            "description": description,
            "priority": priority,
            "status": status,
            "status_label": labels.get(status, status),
            "customer": {"code": customer_code, "name": customer_name} if customer_id else None,
            "site": {"code": site_code, "name": site_name} if site_id else None,
            "asset": {"serial_number": serial, "name": asset_name, "model": asset_model} if asset_id else None,
            "contact": {"id": contact_id, "name": contact_name, "phone": contact_phone} if contact_id else None,
            "fault_code": fault_code,
            "team": {"code": team_code, "name": team_name} if team_id else None,
            "assignee": assignee,
            "custom": custom or {},
            "tags": list(tags or []) if internal else [],
            "resolution": resolution,
            "invoice_number": invoice_number,
            "rating": rating,
            "version": version,
            "created_at": _iso(created_at),
            "updated_at": _iso(updated_at),
            "milestones": {"assigned": _iso(assigned_at), "accepted": _iso(accepted_at),
                           "departed": _iso(departed_at), "arrived": _iso(arrived_at),
                           "started": _iso(started_at), "resolved": _iso(resolved_at),
                           "confirmed": _iso(confirmed_at), "invoiced": _iso(invoiced_at),
                           "closed": _iso(closed_at), "cancelled": _iso(cancelled_at)},
            "external_refs": None,
            "links": None,
            "allowed_actions": None,
            "watchers": None,
            "sla": None,
        })
    return out


def event(e: TimelineEvent) -> dict:
    return {"id": e.pk, "at": e.at, "actor": _user(e.actor) if e.actor_id else None, "kind": e.kind,
            "action": e.action, "from_state": e.from_state, "to_state": e.to_state, "data": e.data,
            "public": e.public}


def attachment(a: Attachment, code: str) -> dict:
    return {"id": a.pk, "name": a.original_name, "content_type": a.content_type, "size": a.size, "sha256": a.sha256,
            "public": a.public, "created_at": a.created_at,
            "url": reverse("api:attachment_download", kwargs={"code": code, "attachment_id": a.pk})}
