"""The staff console's writes: saving and deleting queues, bulk actions.

A bulk action is one workorders.services.do_transition per work order (each its own
transaction, with its own checks): one refused work order never holds up the others."""

from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _

from closeloop.accounts.models import Team, User
from closeloop.core.clock import now
from closeloop.core.errors import DomainError, FieldProblem, NotFound, ValidationFailed
from closeloop.workorders import selectors as wo_selectors
from closeloop.workorders import services as wo_services
from closeloop.workorders.lifecycle import TRANSITIONS
from closeloop.workorders.selectors import PAGE_FILTERS

from .models import Queue
from .selectors import LIST_RELATED, access_queue_by_id, is_staff

BULK_MAX = 100


def clean_queue_filters(getlist) -> dict:
    """The list's filter names from a form (`getlist(name)`): status and priority as lists,
    the others as one value; blanks dropped, each value cut at 200 characters."""
    filters: dict = {}
    for k in PAGE_FILTERS:
        vals = [v.strip()[:200] for v in getlist(k) if v.strip()]
        if vals:
            filters[k] = vals if k in ("status", "priority") else vals[0]
    return filters


def do_save_queue(*, actor: User, name: str, filters: dict, share_with_team: bool = False,
                  team_code: str = "") -> Queue:
    """A personal queue, or with `share_with_team` one for a team: the actor's own, or for
    dispatch roles the team `team_code` names (their own when blank). Someone without a
    team gets a personal queue (the caller can tell: queue.team is None)."""
    name = (name or "").strip()[:100]
    if not name:
        raise ValidationFailed(FieldProblem("name", _("name: give the queue a name."), "required"))
    team = None
    if share_with_team:
        team = actor.team if not is_staff(actor) else (Team.objects.filter(code=team_code).first() or actor.team)
    with transaction.atomic():
        return Queue.objects.create(name=name, team=team, owner=None if team else actor, filters=filters,
                                    created_at=now())


def do_save_queue_preset(*, actor: User, data: dict) -> Queue:
    """A queue for everyone (no team: every staff member may apply it) or for the team `data["team"]`
    names, installed by a template: `{"name", "filters", "team"}`; filters are the list's filter names
    (status and priority lists, the others one value). Managers and administrators only."""
    if not (actor.is_superuser or actor.role in ("admin", "manager")):
        from closeloop.core.errors import Forbidden

        raise Forbidden(_("Only managers and administrators install queue presets."))
    problems = [FieldProblem(k, _("Unknown field."), "unknown") for k in sorted(set(data) - {"name", "filters", "team"})]
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
        problems.append(FieldProblem("name", _("name: give the queue a name."), "required"))
    filters = data.get("filters") or {}
    if not isinstance(filters, dict):
        problems.append(FieldProblem("filters", _("An object of list filters.")))
        filters = {}
    for k, v in filters.items():
        if k not in PAGE_FILTERS:
            problems.append(FieldProblem(f"filters.{k}", _("Unknown filter (use %(f)s).") % {"f": ", ".join(PAGE_FILTERS)},
                                         "unknown"))
        elif k in ("status", "priority"):
            if not isinstance(v, list) or not all(isinstance(x, str) and 0 < len(x) <= 200 for x in v):
                problems.append(FieldProblem(f"filters.{k}", _("A list of values.")))
        elif not isinstance(v, str) or len(v) > 200:
            problems.append(FieldProblem(f"filters.{k}", _("One value of at most 200 characters.")))
    team = None
    if data.get("team"):
        team = Team.objects.filter(code=data["team"]).first()
        if team is None:
            problems.append(FieldProblem("team", _("No team %(t)s.") % {"t": data["team"]}, "not_found"))
    if problems:
        raise ValidationFailed(problems)
    with transaction.atomic():
        return Queue.objects.create(name=name.strip(), team=team, owner=None, filters=filters, created_at=now())


def do_delete_queue(*, actor: User, queue_id) -> None:
    """Delete a queue the actor may apply and owns (dispatch roles: any they may apply)."""
    q = access_queue_by_id(actor, queue_id)
    if q is None or not (q.owner_id == actor.pk or is_staff(actor)):
        raise NotFound(_("No such queue."))
    with transaction.atomic():
        q.delete()


@dataclass
class BulkResult:
    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "CODE: why"
    missing: int = 0


def do_bulk_transition(*, actor: User, codes: list[str], action: str, data: dict) -> BulkResult:
    """Take `action` on each work order (at most BULK_MAX codes) the actor may see."""
    codes = list(dict.fromkeys(c.strip().upper() for c in codes if c.strip()))[:BULK_MAX]
    t = TRANSITIONS.get(action)
    if t is None or not codes:
        raise ValidationFailed(FieldProblem("codes", _("Choose work orders and an action."), "required"))
    data = {k: v for k in (*t.required, *t.optional) if (v := str(data.get(k, "")).strip())}
    out = BulkResult()
    for wo in wo_selectors.visible_work_orders(actor).filter(code__in=codes).select_related(*LIST_RELATED):
        try:
            wo_services.do_transition(actor=actor, wo=wo, action=action, data=data)
            out.done.append(wo.code)
        except DomainError as e:
            out.failed.append(f"{wo.code}: {e}")
    out.missing = len(codes) - len(out.done) - len(out.failed)
    return out
