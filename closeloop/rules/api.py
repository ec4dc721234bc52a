"""Rules, keyword libraries, condition check and dry run. Thin: services do the work."""

from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import Field

from closeloop.core import conditions
from closeloop.core.apikit import StrictSchema, parse_if_match, require_scope
from closeloop.core.errors import Forbidden, NotFound, ValidationFailed
from closeloop.workorders import selectors as wo_selectors

from . import services
from .models import KeywordLibrary, Rule

router = Router(tags=["rules"])


class RuleIn(StrictSchema):
    name: str = Field(max_length=100)
    description: str = Field("", max_length=2000)
    trigger: str = Field("created", description="created, updated, field_changed, status_changed, comment_added, "
                         "sla_warning, sla_breach or schedule")
    trigger_field: str = Field("", max_length=60)
    schedule_minutes: int | None = Field(None, description="schedule trigger: every 5 to 10080 minutes")
    condition: str = Field("", max_length=conditions.MAX_SOURCE * 2, description="CEL over wo, event, actor")
    actions: list[dict[str, Any]] = Field(default_factory=list)
    order: int = 100
    enabled: bool = True
    stop_after: bool = False
    scope_type: str | None = Field(None, max_length=40)
    scope_team: str | None = Field(None, max_length=40)


class RulePatch(StrictSchema):
    name: str | None = Field(None, max_length=100)
    description: str | None = Field(None, max_length=2000)
    trigger: str | None = None
    trigger_field: str | None = Field(None, max_length=60)
    schedule_minutes: int | None = None
    condition: str | None = Field(None, max_length=conditions.MAX_SOURCE * 2)
    actions: list[dict[str, Any]] | None = None
    order: int | None = None
    enabled: bool | None = None
    stop_after: bool | None = None
    scope_type: str | None = Field(None, max_length=40)
    scope_team: str | None = Field(None, max_length=40)


class RuleOut(Schema):
    id: int
    name: str
    description: str
    trigger: str
    trigger_field: str
    schedule_minutes: int | None
    last_run_at: datetime | None
    next_run_at: datetime | None
    condition: str
    actions: list[dict[str, Any]]
    order: int
    enabled: bool
    stop_after: bool
    scope_type: str | None
    scope_team: str | None
    owner: str
    version: int
    updated_at: datetime


class LibraryIn(StrictSchema):
    label: str = Field("", max_length=100)
    words: list[str] = Field(default_factory=list, max_length=services.MAX_WORDS)


class LibraryOut(Schema):
    name: str
    label: str
    words: list[str]
    updated_at: datetime


class ConditionIn(StrictSchema):
    condition: str = Field(max_length=conditions.MAX_SOURCE * 2)


class TryIn(StrictSchema):
    work_order: str = Field(max_length=24)
    trigger: str | None = Field(None, max_length=20)
    event: dict[str, Any] | None = Field(None, description="event fields to try with, e.g. {\"body\": \"…\", "
                                         "\"public\": false} for comment_added")


def _out(rule: Rule) -> dict:
    return {"id": rule.pk, "name": rule.name, "description": rule.description, "trigger": rule.trigger,
            "trigger_field": rule.trigger_field, "schedule_minutes": rule.schedule_minutes,
            "last_run_at": rule.last_run_at, "next_run_at": rule.next_run_at, "condition": rule.condition,
            "actions": services.masked_actions(rule.actions),
            "order": rule.order, "enabled": rule.enabled, "stop_after": rule.stop_after,
            "scope_type": rule.scope_type.key if rule.scope_type_id else None,
            "scope_team": rule.scope_team.code if rule.scope_team_id else None,
            "owner": rule.owner.username, "version": rule.version, "updated_at": rule.updated_at}


def _read(request):
    require_scope(request, "read")
    if not services.may_read(request.auth):
        raise Forbidden(_("Your role may not see rules."))


def _rule(rule_id: int) -> Rule:
    rule = Rule.objects.select_related("owner", "scope_type", "scope_team").filter(pk=rule_id).first()
    if rule is None:
        raise NotFound(_("No rule %(id)s.") % {"id": rule_id})
    return rule


@router.get("/rules", response=list[RuleOut], summary="Rules, in the order they run")
def list_rules(request):
    _read(request)
    return [_out(r) for r in Rule.objects.select_related("owner", "scope_type", "scope_team")]


@router.post("/rules", response={201: RuleOut}, summary="Create a rule (the condition is checked)")
def create_rule(request, payload: RuleIn):
    require_scope(request, "write")
    rule = services.do_create_rule(actor=request.auth, data=payload.model_dump())
    return Status(201, _out(_rule(rule.pk)))


@router.get("/rules/{rule_id}", response=RuleOut)
def get_rule(request, rule_id: int):
    _read(request)
    return _out(_rule(rule_id))


@router.patch("/rules/{rule_id}", response=RuleOut)
def update_rule(request, rule_id: int, payload: RulePatch):
    require_scope(request, "write")
    rule = _rule(rule_id)
    services.do_update_rule(actor=request.auth, rule=rule, data=payload.model_dump(exclude_unset=True),
                            expected_version=parse_if_match(request))
    return _out(_rule(rule_id))


@router.delete("/rules/{rule_id}", response={204: None})
def delete_rule(request, rule_id: int):
    require_scope(request, "write")
    services.do_delete_rule(actor=request.auth, rule=_rule(rule_id))
    return Status(204, None)


@router.post("/rules/{rule_id}/try", summary="Dry run on a work order: which parts match, what would change")
def try_rule(request, rule_id: int, payload: TryIn):
    _read(request)
    rule = _rule(rule_id)
    wo = wo_selectors.access_work_order_by_code(request.auth, payload.work_order)
    return services.dry_run(rule=rule, wo=wo, trigger=payload.trigger, event=payload.event)


@router.post("/conditions/check", summary="Validate a condition; an error says where")
def check_condition(request, payload: ConditionIn):
    _read(request)
    try:
        conditions.compile_condition(payload.condition)
        conditions.check_condition(payload.condition, conditions.sample_context(
            list(KeywordLibrary.objects.values_list("name", flat=True))))
    except conditions.ConditionError as exc:
        return {"ok": False, "error": exc.as_dict()}
    except ValidationFailed as exc:
        return {"ok": False, "error": {"message": str(exc.problems[0].message)}}
    return {"ok": True, "error": None}


class BuildIn(StrictSchema):
    tree: dict[str, Any] = Field(description='{"all"|"any": [...]} groups of {"field", "op", "value"}')


@router.post("/conditions/build", summary="The visual builder's tree (field, operator, value; and/or groups) as CEL")
def build_condition(request, payload: BuildIn):
    _read(request)
    try:
        source = conditions.build_condition(payload.tree)
    except conditions.ConditionError as exc:
        raise ValidationFailed(exc.problem("tree")) from None
    return {"condition": source}


@router.get("/keyword-libraries", response=list[LibraryOut])
def list_libraries(request):
    _read(request)
    return list(KeywordLibrary.objects.all())


@router.put("/keyword-libraries/{name}", response=LibraryOut, summary="Create or replace a keyword library")
def put_library(request, name: str, payload: LibraryIn):
    require_scope(request, "write")
    return services.do_save_keyword_library(actor=request.auth, name=name, data=payload.model_dump())


@router.delete("/keyword-libraries/{name}", response={204: None})
def delete_library(request, name: str):
    require_scope(request, "write")
    lib = KeywordLibrary.objects.filter(name=name).first()
    if lib is None:
        raise NotFound(_("No keyword library %(n)s.") % {"n": name})
    services.do_delete_keyword_library(actor=request.auth, lib=lib)  # refused while a rule reads it
    return Status(204, None)
