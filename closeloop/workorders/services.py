"""Every write to a work order. Each public `do_*` function is one transaction that
changes state, appends the timeline event(s), and (from the SLA and notification
issues on) appends outbox rows. Nothing here talks to the network.

Callers: workorders.api (REST), workorders.views (console), demo loader, and later
rules / preventive plans / inbound integrations: every creation path gets the
same validation and the same guards. Other apps change a work order only through the
public functions here: `do_transition` (a person's action), `apply_transition` (a step
the system takes inside the caller's transaction), `do_escalate_work_order` (the SLA
ladder and the rules raising the priority). Effects run through `lifecycle.run_effects`
in the phases of `lifecycle.PHASES`. The timeline is written by `timeline.append_event`;
attachments are in `attachments.py`.
"""

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role, Team, User
from closeloop.core import refcache
from closeloop.core.clock import now
from closeloop.core.compiled import Compiled
from closeloop.core.errors import (
    Conflict,
    FieldProblem,
    Forbidden,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
)
from closeloop.core.text import document_tokens
from closeloop.customers.models import Asset, Contact, Customer, Site

from . import lifecycle, mainline, permissions, timeline
from .fields import clean_custom
from .lifecycle import PAUSED, TRANSITIONS, WAIT_REASONS, S, Transition, hooks_for, run_effects
from .models import (
    PRIORITY_RANK,
    CodeCounter,
    ExternalRef,
    LinkKind,
    Priority,
    TimelineEvent,
    WorkOrder,
    WorkOrderLink,
    WorkOrderType,
    WorkOrderWatcher,
)

TITLE_MAX = 200
DESCRIPTION_MAX = 20000
COMMENT_MAX = 10000
NOTE_MAX = 2000
MAX_EXTERNAL_REFS = 20


# ---- codes ---------------------------------------------------------------------------

def next_code(prefix: str, at: datetime | None = None) -> str:
    """`prefix` + YYYYMMDD (business time zone) + 5-digit daily sequence.

    One UPSERT ... RETURNING per code: atomic on PostgreSQL (row lock on conflict)
    and on SQLite (the write lock). Must run inside the creating transaction so a
    number is never handed out twice. Past 99999 in one day the sequence simply
    grows to 6 digits rather than failing.
    """
    # Always the deployment's business zone, never a user's zone activated for a request.
    day = timezone.localdate(at or now(), timezone.get_default_timezone())
    table = CodeCounter._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {table} (prefix, day, value) VALUES (%s, %s, 1) "
            f"ON CONFLICT (prefix, day) DO UPDATE SET value = {table}.value + 1 RETURNING value",
            [prefix, day],
        )
        value = cur.fetchone()[0]
    return f"{prefix}{day:%Y%m%d}{value:05d}"


# ---- helpers -------------------------------------------------------------------------

def _text(problems: list, name: str, value, *, required: bool = False, max_len: int = 200) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        problems.append(FieldProblem(name, _("Must be text.")))
        return ""
    value = value.strip()
    if required and not value:
        problems.append(FieldProblem(name, _("This field is required."), "required"))
    elif len(value) > max_len:
        problems.append(FieldProblem(name, _("At most %(n)d characters.") % {"n": max_len}, "too_long"))
    return value


def search_document_for(wo: WorkOrder, refs: list[str] | None = None) -> str:
    parts = [wo.code, wo.title, wo.description, wo.fault_code]
    if wo.customer_id:
        parts.append(wo.customer.name)
    if wo.site_id:
        parts.append(wo.site.name)
    if wo.asset_id:
        parts += [wo.asset.name, wo.asset.serial_number, wo.asset.model]
    parts += [str(v) for v in (wo.custom or {}).values() if isinstance(v, str)]
    if refs is None and wo.pk:
        refs = list(wo.external_refs.values_list("external_id", flat=True))
    parts += refs or []
    return document_tokens(*parts)


_KEY_TEXT, _KEY_INT = "\x00key\x00", -7_000_000_000_003  # stand for the value in a compiled lookup
_by_key_queries: dict[tuple, Compiled] = {}


#: Types (with their custom field definitions, fields.all_definitions) and teams by key: reference
#: data every create names, per process (core.refcache). Shared: read them, never change one.
_reference = {
    WorkOrderType: refcache.RefCache("workorders.types", "workorders.WorkOrderType", "workorders.CustomField"),
    Team: refcache.RefCache("workorders.teams", "accounts.Team", "accounts.User"),
}


def _by_key(model, by: str, value):
    """model.objects.filter(<by>=value) on a unique key: compiled once per process (core.compiled),
    a create resolves four or five of them; types and teams come from a per-process cache."""
    cache = _reference.get(model) if by in ("key", "code") else None
    if cache is not None:
        return cache.get((by, value), lambda: _by_key_query(model, by, value))
    return _by_key_query(model, by, value)


def _by_key_query(model, by: str, value):
    key = (connection.vendor, model, by)
    compiled = _by_key_queries.get(key)
    if compiled is None:
        sentinel = _KEY_INT if by == "pk" else _KEY_TEXT
        compiled = _by_key_queries[key] = Compiled(model.objects.filter(**{by: sentinel}).order_by()[:1], sentinel)
    return compiled.first(value)


def _lookup(problems, name, model, value, *, by="code", label=None):
    """Resolve a reference given by its public key (code, username, serial)."""
    if value in (None, ""):
        return None
    if isinstance(value, model):
        return value
    if by == "pk" and (isinstance(value, bool) or not str(value).strip().isdigit()):
        obj = None  # a name typed where an id belongs is "not found", never a 500
    elif by == "pk":
        obj = _by_key(model, by, int(str(value).strip()))
    else:
        obj = _by_key(model, by, str(value))
    if obj is None:
        problems.append(FieldProblem(name, _("No %(what)s %(v)s.") % {"what": label or name, "v": value},
                                     "not_found"))
    return obj


@dataclass
class Relations:
    customer: Customer | None = None
    site: Site | None = None
    asset: Asset | None = None
    contact: Contact | None = None


def _resolve_relations(problems, actor: User, data: dict, current: Relations | None = None) -> Relations:
    cur = current or Relations()
    rel = Relations(
        customer=_lookup(problems, "customer", Customer, data["customer"]) if "customer" in data else cur.customer,
        site=_lookup(problems, "site", Site, data["site"]) if "site" in data else cur.site,
        asset=(_lookup(problems, "asset", Asset, data["asset"], by="serial_number", label=_("asset"))
               if "asset" in data else cur.asset),
        contact=(_lookup(problems, "contact", Contact, data["contact"], by="pk")
                 if "contact" in data else cur.contact),
    )
    if actor.role == Role.CUSTOMER:
        # A customer contact files for their own organisation, whatever they sent.
        if rel.customer is not None and rel.customer.pk != actor.customer_id:
            problems.append(FieldProblem("customer", _("You can only file work orders for your organisation.")))
        rel.customer = actor.customer
    # Fill the customer from the site or the asset, then check they agree.
    if rel.customer is None:
        rel.customer = (rel.site.customer if rel.site else None) or (rel.asset.customer if rel.asset else None)
    if rel.asset and rel.site is None and rel.asset.site_id:
        rel.site = rel.asset.site
    for name, obj in (("site", rel.site), ("asset", rel.asset), ("contact", rel.contact)):
        if obj is not None and rel.customer is not None and obj.customer_id != rel.customer.pk:
            problems.append(FieldProblem(name, _("Belongs to another customer."), "mismatch"))
    # Deactivated customers, sites, assets and contacts stay on the work orders that name them but are
    # taken for no new reference: refused when given (or changed) here, named by the field sent.
    given = {"customer": rel.customer, "site": rel.site, "asset": rel.asset, "contact": rel.contact}
    before = {"customer": cur.customer, "site": cur.site, "asset": cur.asset, "contact": cur.contact}
    for name, obj in given.items():
        if obj is None or getattr(obj, "is_active", True) or (current is not None and obj == before[name]):
            continue
        if any(p.field == name for p in problems):
            continue
        field = name if name in data else next((n for n in ("site", "asset", "contact") if n in data), name)
        problems.append(FieldProblem(field, _("%(obj)s is deactivated: it stays on old work orders but takes no "
                                              "new one.") % {"obj": obj}, "inactive"))
    if rel.asset and rel.site and rel.asset.site_id and rel.asset.site_id != rel.site.pk:
        problems.append(FieldProblem("asset", _("This asset is at another site."), "mismatch"))
    return rel


def _check_assignee(problems, value) -> User | None:
    user = _lookup(problems, "assignee", User, value, by="username", label=_("user"))
    if user is not None and (user.role != Role.ENGINEER or not user.is_active):
        problems.append(FieldProblem("assignee", _("Only an active engineer can be assigned.")))
    return user


def _external_refs(problems, refs) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if refs is None:
        return out
    if not isinstance(refs, list) or len(refs) > MAX_EXTERNAL_REFS:
        problems.append(FieldProblem("external_refs", _("A list of at most %(n)d references.")
                                     % {"n": MAX_EXTERNAL_REFS}))
        return out
    for i, ref in enumerate(refs):
        system = (ref.get("system") or "").strip() if isinstance(ref, dict) else ""
        ext_id = (str(ref.get("id") or "")).strip() if isinstance(ref, dict) else ""
        if not system or not ext_id or len(system) > 40 or len(ext_id) > 100:
            problems.append(FieldProblem(f"external_refs[{i}]", _("Needs a system (≤40) and an id (≤100).")))
            continue
        if ExternalRef.objects.filter(system=system, external_id=ext_id).exists() or (system, ext_id) in out:
            problems.append(FieldProblem(f"external_refs[{i}]", _("%(s)s %(i)s is already linked to a work order.")
                                         % {"s": system, "i": ext_id}, "unique"))
            continue
        out.append((system, ext_id))
    return out


# ---- create ----------------------------------------------------------------------------

CREATE_FIELDS = {"type", "title", "description", "priority", "customer", "site", "asset", "contact", "fault_code",
                 "team", "assignee", "custom", "external_refs"}


def do_create_work_order(*, actor: User, data: dict) -> WorkOrder:
    """Create a work order from public keys (type key, customer/site code, asset serial,
    team code, assignee username). Raises ValidationFailed listing every problem."""
    if not permissions.may_create(actor):
        raise Forbidden(_("You may not create work orders."))
    unknown = set(data) - CREATE_FIELDS
    problems: list[FieldProblem] = [FieldProblem(k, _("Unknown field."), "unknown") for k in sorted(unknown)]
    wo_type = _lookup(problems, "type", WorkOrderType, data.get("type"), by="key", label=_("type"))
    if data.get("type") in (None, ""):
        problems.append(FieldProblem("type", _("This field is required."), "required"))
    elif wo_type is not None and not wo_type.active:
        problems.append(FieldProblem("type", _("This type is no longer in use.")))
    title = _text(problems, "title", data.get("title"), required=True, max_len=TITLE_MAX)
    description = _text(problems, "description", data.get("description"), max_len=DESCRIPTION_MAX)
    fault_code = _text(problems, "fault_code", data.get("fault_code"), max_len=40)
    priority = data.get("priority") or Priority.NORMAL
    if priority not in Priority.values:
        problems.append(FieldProblem("priority", _("Must be one of: %(c)s.") % {"c": ", ".join(Priority.values)}))
    rel = _resolve_relations(problems, actor, data)
    team = _lookup(problems, "team", Team, data.get("team"))
    assignee = None
    if data.get("assignee") or (data.get("team") and actor.role == Role.CUSTOMER):
        if actor.role not in permissions.EDITOR_ROLES and not actor.is_superuser:
            problems.append(FieldProblem("assignee" if data.get("assignee") else "team",
                                         _("Only dispatchers assign work.")))
        else:
            assignee = _check_assignee(problems, data.get("assignee"))
    custom = {}
    if wo_type is not None:
        try:
            custom = clean_custom(wo_type, data.get("custom") if isinstance(data.get("custom"), dict) else {})
        except ValidationFailed as e:
            problems.extend(e.problems)
        if data.get("custom") is not None and not isinstance(data.get("custom"), dict):
            problems.append(FieldProblem("custom", _("Must be an object of field values.")))
    refs = _external_refs(problems, data.get("external_refs"))
    if problems:
        raise ValidationFailed(problems)

    with transaction.atomic():
        t = now()
        wo = WorkOrder(
            code=next_code(wo_type.prefix, t), wo_type=wo_type, title=title, description=description,
            priority=priority, customer=rel.customer, site=rel.site, asset=rel.asset, contact=rel.contact,
            fault_code=fault_code, team=team or (assignee.team if assignee else None), created_by=actor,
            custom=custom, created_at=t, updated_at=t, status=S.NEW,
        )
        wo.search_document = search_document_for(wo, refs=[r[1] for r in refs])
        wo.save()
        for system, ext_id in refs:
            ExternalRef.objects.create(work_order=wo, system=system, external_id=ext_id, created_at=t)
        timeline.append_event(wo, TimelineEvent.Kind.CREATED, actor=actor, at=t, to_state=S.NEW, public=True,
                              data={"title": title, "priority": priority, "type": wo_type.key,
                                    "external_refs": [{"system": s, "id": i} for s, i in refs]})
        run_effects("create", TransitionContext(actor=actor, wo=wo, transition=None, data=data, at=t, created=True))
        if assignee is not None:
            _apply_transition(actor, wo, TRANSITIONS["assign"], {"assignee": assignee, "team": wo.team}, t)
    return wo


# ---- update ----------------------------------------------------------------------------

UPDATE_FIELDS = {"title", "description", "priority", "customer", "site", "asset", "contact", "fault_code", "team",
                 "custom"}


def do_update_work_order(*, actor: User, wo: WorkOrder, data: dict, expected_version: int | None = None) -> WorkOrder:
    """Edit fields (not status or assignee: those are actions). A stale
    `expected_version` (from If-Match) is a 412 and changes nothing."""
    if not permissions.may_edit(actor, wo):
        raise Forbidden(_("You may not edit this work order."))
    if expected_version is not None and expected_version != wo.version:
        raise PreconditionFailed(_("The work order changed since you loaded it (now version %(v)d).")
                                 % {"v": wo.version}, version=wo.version, current_state=wo.status)
    problems: list[FieldProblem] = [FieldProblem(k, _("Unknown or read-only field."), "unknown")
                                    for k in sorted(set(data) - UPDATE_FIELDS)]
    if actor.role == Role.ENGINEER:
        for k in ("customer", "site", "team", "priority"):
            if k in data:
                problems.append(FieldProblem(k, _("Only a dispatcher can change this."), "forbidden"))
    changes: dict[str, tuple] = {}
    new: dict = {}
    if "title" in data:
        new["title"] = _text(problems, "title", data["title"], required=True, max_len=TITLE_MAX)
    if "description" in data:
        new["description"] = _text(problems, "description", data["description"], max_len=DESCRIPTION_MAX)
    if "fault_code" in data:
        new["fault_code"] = _text(problems, "fault_code", data["fault_code"], max_len=40)
    if "priority" in data:
        if data["priority"] not in Priority.values:
            problems.append(FieldProblem("priority", _("Must be one of: %(c)s.") % {"c": ", ".join(Priority.values)}))
        else:
            new["priority"] = data["priority"]
    if {"customer", "site", "asset", "contact"} & set(data):
        rel = _resolve_relations(problems, actor, data, Relations(wo.customer, wo.site, wo.asset, wo.contact))
        new.update(customer=rel.customer, site=rel.site, asset=rel.asset, contact=rel.contact)
    if "team" in data:
        new["team"] = _lookup(problems, "team", Team, data["team"])
    if "custom" in data:
        if not isinstance(data["custom"], dict):
            problems.append(FieldProblem("custom", _("Must be an object of field values.")))
        else:
            try:
                new["custom"] = clean_custom(wo.wo_type, data["custom"], existing=wo.custom)
            except ValidationFailed as e:
                problems.extend(e.problems)
    if problems:
        raise ValidationFailed(problems)
    for k, v in new.items():
        old = getattr(wo, k)
        if old != v:
            changes[k] = (_jsonable(old), _jsonable(v))
            setattr(wo, k, v)
    if not changes:
        return wo
    with transaction.atomic():
        t = now()
        wo.search_document = search_document_for(wo)
        updated = WorkOrder.objects.filter(pk=wo.pk, version=wo.version).update(
            **{k: getattr(wo, k) for k in changes}, search_document=wo.search_document, updated_at=t,
            version=F("version") + 1)
        if not updated:
            current = WorkOrder.objects.get(pk=wo.pk)
            raise PreconditionFailed(_("The work order changed since you loaded it (now version %(v)d).")
                                     % {"v": current.version}, version=current.version, current_state=current.status)
        wo.version += 1
        wo.updated_at = t
        timeline.append_event(wo, TimelineEvent.Kind.UPDATED, actor=actor, at=t,
                              data={"changes": {k: {"from": a, "to": b} for k, (a, b) in changes.items()}})
        run_effects("update", TransitionContext(actor=actor, wo=wo, transition=None, data={"changes": changes},
                                                at=t))
    return wo


def _jsonable(v):
    if v is None or isinstance(v, (str, int, float, bool, dict, list)):
        return v
    if isinstance(v, Customer | Site):
        return v.code
    if isinstance(v, Asset):
        return v.serial_number
    if isinstance(v, Team):
        return v.code
    if isinstance(v, User):
        return v.username
    return str(v)


# ---- transitions -------------------------------------------------------------------------

@dataclass
class TransitionContext:
    """What guards and effects registered in lifecycle receive."""

    actor: User
    wo: WorkOrder
    transition: Transition | None
    data: dict
    at: datetime
    from_state: str = ""
    to_state: str = ""
    extra: dict = field(default_factory=dict)
    #: The work order was created by this change (the create's own effects): nothing refers to it
    #: yet, so an effect may skip reading what it keeps about it (the SLA ledger, its fired levels).
    created: bool = False


def _clean_action_input(t: Transition, wo: WorkOrder, data: dict) -> dict:
    problems: list[FieldProblem] = [FieldProblem(k, _("Not an input of %(a)s.") % {"a": t.action}, "unknown")
                                    for k in sorted(set(data) - set(t.required) - set(t.optional))]
    clean: dict = {}
    for name in t.required:
        if data.get(name) in (None, ""):
            problems.append(FieldProblem(name, _("This field is required."), "required"))
    if "note" in data:
        clean["note"] = _text(problems, "note", data["note"], max_len=NOTE_MAX)
    if t.action == "assign":
        clean["assignee"] = _check_assignee(problems, data.get("assignee"))
        if data.get("team"):
            clean["team"] = _lookup(problems, "team", Team, data["team"])
    if "resolution" in data or "resolution" in t.required:
        clean["resolution"] = _text(problems, "resolution", data.get("resolution"), required=True,
                                    max_len=DESCRIPTION_MAX)
    if t.action == "invoice":
        clean["invoice_number"] = _text(problems, "invoice_number", data.get("invoice_number"), required=True,
                                        max_len=64)
    if t.action == "wait":
        if data.get("reason") and data["reason"] not in WAIT_REASONS:
            problems.append(FieldProblem("reason", _("Must be 'customer' or 'parts'.")))
        clean["reason"] = data.get("reason")
    elif "reason" in t.required:
        clean["reason"] = _text(problems, "reason", data.get("reason"), required=True, max_len=NOTE_MAX)
    if "rating" in data and data["rating"] not in (None, ""):
        try:
            rating = int(data["rating"])
            if not 1 <= rating <= 5:
                raise ValueError
            clean["rating"] = rating
        except (TypeError, ValueError):
            problems.append(FieldProblem("rating", _("A whole number from 1 to 5.")))
    for coord, lo, hi in (("latitude", -90, 90), ("longitude", -180, 180)):
        if data.get(coord) not in (None, ""):
            try:
                val = float(data[coord])
                if not lo <= val <= hi:
                    raise ValueError
                clean[coord] = val
            except (TypeError, ValueError):
                problems.append(FieldProblem(coord, _("A number from %(lo)d to %(hi)d.") % {"lo": lo, "hi": hi}))
    if problems:
        raise ValidationFailed(problems)
    return clean


def _target(t: Transition, wo: WorkOrder, clean: dict) -> str:
    if t.action == "wait":
        return WAIT_REASONS[clean["reason"]]
    if t.action == "resume":
        return wo.resume_to or S.IN_PROGRESS
    if t.action == "reopen":
        if not wo.assignee_id:
            return S.NEW
        return S.ASSIGNED if mainline.wo_uses(wo, "accept") else S.ACCEPTED
    if t.action == "assign" and not mainline.wo_uses(wo, "accept"):
        return S.ACCEPTED  # a main line without "accept": assigning is accepting
    return t.target


def _refuse_unused_stage(wo: WorkOrder, t: Transition) -> None:
    """409 for an action whose stage the type's main line leaves out (depart on a type without travel)."""
    stage = mainline.action_refused(wo, t.action, fresh=True)
    if stage is not None:
        raise Conflict(_("The main line of %(type)s has no stage %(stage)s: cannot %(a)s.")
                       % {"type": wo.wo_type.name, "stage": mainline.BY_KEY[stage].label, "a": t.action},
                       current_state=wo.status, version=wo.version)


def do_transition(*, actor: User, wo: WorkOrder, action: str, data: dict | None = None,
                  expected_version: int | None = None) -> WorkOrder:
    """Take `action` on `wo`. Two people acting at once: one wins, the other gets a
    Conflict (409) naming the current state; nothing is half-written."""
    t = TRANSITIONS.get(action)
    if t is None:
        raise NotFound(_("Unknown action %(a)s.") % {"a": action})
    data = dict(data or {})
    if not permissions.may_take(actor, wo, t):
        raise Forbidden(_("You may not %(a)s this work order.") % {"a": t.action})
    if expected_version is not None and expected_version != wo.version:
        raise PreconditionFailed(_("The work order changed since you loaded it (now version %(v)d).")
                                 % {"v": wo.version}, version=wo.version, current_state=wo.status)
    with transaction.atomic():
        apply_transition(actor=actor, wo=wo, action=action, data=data)
    return wo


def apply_transition(*, actor: User | None, wo: WorkOrder, action: str, data: dict | None = None,
                     at: datetime | None = None) -> WorkOrder:
    """Take `action` on `wo` inside the caller's transaction, without the role guard: for a
    step the system takes because something else happened (the dispatch setting assigning new
    work, a customer's signature confirming, auto-close after the invoice). `actor` is who
    caused it (recorded on the timeline; may be None). Checks the state (409) and the input
    (422), then runs exactly what `do_transition` runs: the guards, the compare-and-set, the
    timeline event and the effects. Input values may be model instances (an assignee `User`,
    a `Team`) as well as their public keys. Used by dispatch.services and fieldwork."""
    t = TRANSITIONS.get(action)
    if t is None:
        raise NotFound(_("Unknown action %(a)s.") % {"a": action})
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("apply_transition runs inside the caller's transaction")
    if wo.status not in t.sources:
        raise Conflict(_("Cannot %(a)s a work order that is %(s)s.") % {"a": t.action, "s": wo.status_label},
                       current_state=wo.status, version=wo.version)
    _refuse_unused_stage(wo, t)
    clean = _clean_action_input(t, wo, dict(data or {}))
    _apply_transition(actor, wo, t, clean, at or now())
    return wo


def _apply_transition(actor: User, wo: WorkOrder, t: Transition, clean: dict, at: datetime) -> None:
    from_state = wo.status
    to_state = _target(t, wo, clean)
    ctx = TransitionContext(actor=actor, wo=wo, transition=t, data=clean, at=at, from_state=from_state,
                            to_state=to_state)
    hooks = hooks_for(t.action)
    for guard in hooks.guards:
        guard(ctx)
    if t.action == "close":
        steps_open = lifecycle.open_close_steps(wo)
        if steps_open:  # e.g. closing before the invoice: name the open gate, not just the state
            raise lifecycle.StepsOpen(wo, steps_open)
    if t.action == "override_close":
        _record_override(actor, wo, from_state, clean, at)
    values: dict = {"status": to_state, "updated_at": at}
    event_data: dict = {}
    if t.milestone and getattr(wo, t.milestone) is None:
        values[t.milestone] = at
    if to_state == S.ACCEPTED and t.action in ("assign", "reopen") and wo.accepted_at is None:
        values["accepted_at"] = at  # a line without "accept": the assignment is the acceptance
    if t.action == "assign":
        values["assignee"] = clean["assignee"]
        values["team"] = clean.get("team") or clean["assignee"].team or wo.team
        event_data["assignee"] = clean["assignee"].username
        event_data["assignee_name"] = str(clean["assignee"])
        if wo.assignee_id and wo.assignee_id != clean["assignee"].pk:
            event_data["previous_assignee"] = wo.assignee.username
        if values["team"] is not None:
            event_data["team"] = values["team"].code
            event_data["team_name"] = values["team"].name
    elif t.action == "wait":
        values["resume_to"] = from_state
    elif t.action == "resume":
        values["resume_to"] = ""
    elif t.action == "complete":
        values["resolution"] = clean["resolution"]
    elif t.action == "invoice":
        values["invoice_number"] = clean["invoice_number"]
        event_data["invoice_number"] = clean["invoice_number"]
    elif t.action == "reopen":
        for col in ("resolved_at", "confirmed_at", "invoiced_at", "closed_at", "cancelled_at"):
            values[col] = None
    if "rating" in clean:
        values["rating"] = clean["rating"]
        event_data["rating"] = clean["rating"]
    for key in ("reason", "note", "resolution", "latitude", "longitude"):
        if clean.get(key) not in (None, ""):
            event_data[key] = clean[key]
    # Compare-and-set on (version, status): the loser of a race updates nothing.
    updated = WorkOrder.objects.filter(pk=wo.pk, version=wo.version, status=from_state).update(
        version=F("version") + 1, **values)
    if not updated:
        current = WorkOrder.objects.get(pk=wo.pk)
        raise Conflict(_("Someone else changed this work order first; it is now %(s)s.")
                       % {"s": current.status_label}, current_state=current.status, version=current.version)
    for k, v in values.items():
        setattr(wo, k, v)
    wo.version += 1
    # Status changes are public (the customer follows progress); notes on them are not.
    timeline.append_event(wo, TimelineEvent.Kind.TRANSITION, actor=actor, at=at, action=t.action,
                          from_state=from_state, to_state=to_state, data=event_data, public=True)
    run_effects(t.action, ctx)


def _record_override(actor, wo: WorkOrder, from_state: str, clean: dict, at: datetime) -> None:
    """An administrator closing past open gates: the reason goes on the timeline (the
    transition event) and into the audit log, with what was still open."""
    from closeloop.audit.services import record_change

    open_steps = lifecycle.open_close_steps(wo)
    record_change(actor=actor, kind="work_order_override", obj=wo, action="updated",
                  before={"status": from_state, "open_steps": open_steps},
                  after={"status": lifecycle.S.CLOSED, "reason": clean.get("reason", "")},
                  label=wo.code)


# ---- escalation ----------------------------------------------------------------------------

def next_priority(priority: str) -> str | None:
    """One step up (low → normal → high → urgent); None at the top."""
    order = sorted(PRIORITY_RANK, key=PRIORITY_RANK.get)
    i = order.index(priority) if priority in order else len(order) - 1
    return order[i + 1] if i + 1 < len(order) else None


def do_escalate_work_order(*, actor: User | None, wo: WorkOrder, raise_priority: bool = True,
                           team: Team | str | None = None, at: datetime | None = None) -> dict:
    """Raise the priority one step (never past urgent) and/or move the work order to `team`
    (a Team or its code): the one way an escalation changes a work order, for the SLA ladder
    (sla.services) and the rules' escalate action (rules.runner). In the caller's transaction:
    a compare-and-set on the version, then the "update" effects as for any edit, so both paths
    run the same hooks (the rules' updated / field_changed triggers) and take the same decision
    on the SLA policy: it is selected again for the new priority and team, as after an edit.

    Returns what changed, {"priority": {"from", "to"}, "team": {"from", "to"}}; empty when there
    was nothing to change (then nothing is written). The caller records its escalation event
    (which rule or ladder level, who was told) with these changes in it."""
    if actor is not None and not permissions.may_edit(actor, wo):
        raise Forbidden(_("You may not edit this work order."))
    problems: list[FieldProblem] = []
    new_team = _lookup(problems, "team", Team, team) if team else None
    if problems:
        raise ValidationFailed(problems)
    values: dict = {}
    changes: dict[str, tuple] = {}
    out: dict = {}
    up = next_priority(wo.priority) if raise_priority else None
    if up:
        values["priority"] = up
        changes["priority"] = (wo.priority, up)
        out["priority"] = {"from": wo.priority, "to": up}
    if new_team is not None and new_team.pk != wo.team_id:
        values["team"] = new_team
        changes["team"] = (_jsonable(wo.team), new_team.code)
        out["team"] = {"from": wo.team.code if wo.team_id else "", "to": new_team.code}
    if not values:
        return out
    t = at or now()
    updated = WorkOrder.objects.filter(pk=wo.pk, version=wo.version).update(
        **values, updated_at=t, version=F("version") + 1)
    if not updated:
        current = WorkOrder.objects.get(pk=wo.pk)
        raise PreconditionFailed(_("The work order changed since you loaded it (now version %(v)d).")
                                 % {"v": current.version}, version=current.version, current_state=current.status)
    for k, v in values.items():
        setattr(wo, k, v)
    wo.version += 1
    wo.updated_at = t
    run_effects("update", TransitionContext(actor=actor, wo=wo, transition=None, data={"changes": changes}, at=t,
                                            extra={"escalation": True}))
    return out


# ---- comments, attachments, links, external refs ---------------------------------------------

#: fn(actor, wo, event) called inside the transaction after a comment is added (the rules app
#: registers its `comment_added` trigger here). Not a lifecycle effect: "*" effects (SLA,
#: approvals) must not run on comments.
comment_listeners: list = []


def do_add_comment(*, actor: User, wo: WorkOrder, body: str, public: bool = False) -> TimelineEvent:
    problems: list[FieldProblem] = []
    body = _text(problems, "body", body, required=True, max_len=COMMENT_MAX)
    if not isinstance(public, bool):
        problems.append(FieldProblem("public", _("Must be true or false.")))
    if problems:
        raise ValidationFailed(problems)
    if not permissions.may_comment_internal(actor):
        public = True  # a customer's words are always visible to the customer side
    with transaction.atomic():
        t = now()
        WorkOrder.objects.filter(pk=wo.pk).update(updated_at=t)
        ev = timeline.append_event(wo, TimelineEvent.Kind.COMMENT, actor=actor, at=t, data={"body": body},
                                   public=public)
        for fn in comment_listeners:
            fn(actor, wo, ev)
        return ev


# ---- tags and watchers ---------------------------------------------------------------------

MAX_TAGS = 20
TAG_MAX = 40
_TAG_SPACE = re.compile(r"\s+")
_TAG_BAD = re.compile(r"[\x00-\x1f\x7f,;<>\"'`]")


def normalize_tag(value) -> str | None:
    """NFKC (full-width → half-width), trimmed, lower-case, inner spaces as "-"; None when it
    is not a usable tag (empty, too long, control characters or , ; < > quotes)."""
    if not isinstance(value, str):
        return None
    tag = _TAG_SPACE.sub("-", unicodedata.normalize("NFKC", value).strip().lower())
    if not tag or len(tag) > TAG_MAX or _TAG_BAD.search(tag):
        return None
    return tag


def clean_tags(value, field: str = "tags", *, limit: int = MAX_TAGS) -> list[str]:
    """A list of tags, normalized and without repeats; ValidationFailed naming `field[i]`."""
    if not isinstance(value, list) or len(value) > limit:
        raise ValidationFailed(FieldProblem(field, _("A list of at most %(n)d tags.") % {"n": limit}))
    problems, out = [], []
    for i, raw in enumerate(value):
        tag = normalize_tag(raw)
        if tag is None:
            problems.append(FieldProblem(f"{field}[{i}]", _("A tag is 1 to %(n)d characters, without control "
                                                            "characters or , ; < > quotes.") % {"n": TAG_MAX}))
        elif tag not in out:
            out.append(tag)
    if problems:
        raise ValidationFailed(problems)
    return out


def do_set_tags(*, actor: User, wo: WorkOrder, tags: list, expected_version: int | None = None) -> WorkOrder:
    """Replace the tags (a version bump and an "updated" timeline event when they change)."""
    if not permissions.may_edit(actor, wo):
        raise Forbidden(_("You may not edit this work order."))
    if expected_version is not None and expected_version != wo.version:
        raise PreconditionFailed(_("The work order changed since you loaded it (now version %(v)d).")
                                 % {"v": wo.version}, version=wo.version, current_state=wo.status)
    new = clean_tags(tags)
    old = list(wo.tags or [])
    if new == old:
        return wo
    with transaction.atomic():
        t = now()
        updated = WorkOrder.objects.filter(pk=wo.pk, version=wo.version).update(
            tags=new, updated_at=t, version=F("version") + 1)
        if not updated:
            current = WorkOrder.objects.get(pk=wo.pk)
            raise PreconditionFailed(_("The work order changed since you loaded it (now version %(v)d).")
                                     % {"v": current.version}, version=current.version, current_state=current.status)
        wo.tags, wo.updated_at = new, t
        wo.version += 1
        timeline.append_event(wo, TimelineEvent.Kind.UPDATED, actor=actor, at=t, data={
            "changes": {"tags": {"from": ", ".join(old), "to": ", ".join(new)}},
            "tags": {"added": [x for x in new if x not in old], "removed": [x for x in old if x not in new]}})
    return wo


def watcher_names(wo: WorkOrder) -> list[str]:
    return list(WorkOrderWatcher.objects.filter(work_order=wo).order_by("id")
                .values_list("user__username", flat=True))


def _may_change_watcher(actor: User, wo: WorkOrder, user: User) -> bool:
    """Editors of the work order change anyone; other staff who see it only themselves."""
    if actor.role == Role.CUSTOMER:
        return False
    return permissions.may_edit(actor, wo) or actor.pk == user.pk


def do_add_watcher(*, actor: User, wo: WorkOrder, user: User | str) -> WorkOrderWatcher:
    """Add a watcher: an active staff user who can see the work order. Adding one twice is fine."""
    from .selectors import visible_work_orders

    if isinstance(user, str):
        found = User.objects.filter(username=user).first()
        if found is None:
            raise ValidationFailed(FieldProblem("username", _("No user %(u)s.") % {"u": user[:150]}, "not_found"))
        user = found
    if not _may_change_watcher(actor, wo, user):
        raise Forbidden(_("You may not change the watchers of this work order."))
    if not user.is_active or user.role == Role.CUSTOMER or not visible_work_orders(user).filter(pk=wo.pk).exists():
        raise ValidationFailed(FieldProblem("username", _("%(u)s cannot see this work order.") % {"u": user.username}))
    with transaction.atomic():
        existing = WorkOrderWatcher.objects.filter(work_order=wo, user=user).first()
        if existing is not None:
            return existing
        t = now()
        try:
            with transaction.atomic():
                w = WorkOrderWatcher.objects.create(work_order=wo, user=user, added_by=actor, added_at=t)
        except IntegrityError:  # added at the same moment by someone else
            return WorkOrderWatcher.objects.get(work_order=wo, user=user)
        timeline.append_event(wo, TimelineEvent.Kind.UPDATED, actor=actor, at=t, data={
            "changes": {"watchers": {"from": "", "to": user.username}}, "watchers": {"added": [user.username]}})
    return w


def do_remove_watcher(*, actor: User, wo: WorkOrder, user: User | str) -> bool:
    """Remove a watcher; False when they were not watching."""
    if isinstance(user, str):
        found = User.objects.filter(username=user).first()
        if found is None:
            raise NotFound(_("%(u)s is not watching this work order.") % {"u": user[:150]})
        user = found
    if not _may_change_watcher(actor, wo, user):
        raise Forbidden(_("You may not change the watchers of this work order."))
    with transaction.atomic():
        deleted, _rows = WorkOrderWatcher.objects.filter(work_order=wo, user=user).delete()
        if not deleted:
            return False
        timeline.append_event(wo, TimelineEvent.Kind.UPDATED, actor=actor, at=now(), data={
            "changes": {"watchers": {"from": user.username, "to": ""}}, "watchers": {"removed": [user.username]}})
    return True


def do_add_external_ref(*, actor: User, wo: WorkOrder, system: str, external_id: str) -> ExternalRef:
    if not permissions.may_edit(actor, wo):
        raise Forbidden(_("You may not edit this work order."))
    problems: list[FieldProblem] = []
    refs = _external_refs(problems, [{"system": system, "id": external_id}])
    if problems:
        raise ValidationFailed(problems)
    with transaction.atomic():
        t = now()
        try:
            with transaction.atomic():
                ref = ExternalRef.objects.create(work_order=wo, system=refs[0][0], external_id=refs[0][1],
                                                 created_at=t)
        except IntegrityError:
            raise ValidationFailed(FieldProblem("id", _("Already linked to a work order."), "unique"))
        wo.search_document = search_document_for(wo)
        WorkOrder.objects.filter(pk=wo.pk).update(search_document=wo.search_document, updated_at=t)
        timeline.append_event(wo, TimelineEvent.Kind.EXTERNAL_REF, actor=actor, at=t,
                              data={"system": ref.system, "id": ref.external_id})
    return ref


def do_link(*, actor: User, wo: WorkOrder, target: WorkOrder, kind: str) -> WorkOrderLink:
    if not permissions.may_edit(actor, wo):
        raise Forbidden(_("You may not edit this work order."))
    if kind not in LinkKind.values:
        raise ValidationFailed(FieldProblem("kind", _("Must be one of: %(c)s.") % {"c": ", ".join(LinkKind.values)}))
    if target.pk == wo.pk:
        raise ValidationFailed(FieldProblem("target", _("A work order cannot link to itself.")))
    if kind == LinkKind.PARENT and _is_ancestor(wo, target):
        raise ValidationFailed(FieldProblem("target", _("That would make a cycle of parents.")))
    with transaction.atomic():
        t = now()
        link, created = WorkOrderLink.objects.get_or_create(
            source=wo, target=target, kind=kind, defaults={"created_at": t, "created_by": actor})
        if created:
            timeline.append_events([
                timeline.new_event(wo, TimelineEvent.Kind.LINK, actor=actor, at=t,
                                   data={"kind": kind, "target": target.code}),
                timeline.new_event(target, TimelineEvent.Kind.LINK, actor=actor, at=t,
                                   data={"kind": kind, "source": wo.code})])
    return link


def _is_ancestor(wo: WorkOrder, candidate_parent: WorkOrder) -> bool:
    """Would making candidate_parent the parent of wo form a cycle?"""
    seen = set()
    frontier = [candidate_parent.pk]
    while frontier:
        pk = frontier.pop()
        if pk == wo.pk:
            return True
        if pk in seen or len(seen) > 1000:
            continue
        seen.add(pk)
        frontier += list(WorkOrderLink.objects.filter(source_id=pk, kind=LinkKind.PARENT)
                         .values_list("target_id", flat=True))
    return False


def paused(wo: WorkOrder) -> bool:
    return wo.status in PAUSED
