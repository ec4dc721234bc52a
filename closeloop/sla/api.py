"""SLA policies and calendars (/api/v1/sla/...), and a work order's ledger. Thin."""

from django.utils.translation import gettext as _
from ninja import Router, Status
from pydantic import Field

from closeloop.core.apikit import StrictSchema, require_role, require_scope
from closeloop.core.errors import NotFound
from closeloop.workorders.selectors import access_work_order_by_code

from . import selectors, serializers, services

router = Router(tags=["SLA"])
STAFF = ("admin", "manager", "dispatcher")


class LevelIn(StrictSchema):
    level: int = Field(ge=1, le=20)
    pct: float | None = Field(None, gt=0, le=1000, description="Fire at this % of the target's business time.")
    after: int | None = Field(None, ge=0, description="Fire this many seconds after the deadline.")
    actions: list[str] = Field(description=", ".join(services.ACTIONS))
    milestones: list[str] | None = None


class PolicyIn(StrictSchema):
    key: str = Field(max_length=40, pattern=r"^[a-z0-9-_]+$")
    name: str = Field(max_length=100)
    order: int = 100
    active: bool = True
    condition: str = Field("", max_length=2000, description="CEL over `wo`; empty matches everything.")
    calendar: str = Field(max_length=40)
    response_actions: list[str] | None = Field(None, description="Default depart, arrive. Never accept.")
    targets: dict[str, int] = Field(description="milestone -> seconds of business time")
    ladder: list[LevelIn] = []


class PolicyPatch(StrictSchema):
    name: str | None = Field(None, max_length=100)
    order: int | None = None
    active: bool | None = None
    condition: str | None = Field(None, max_length=2000)
    calendar: str | None = Field(None, max_length=40)
    response_actions: list[str] | None = None
    targets: dict[str, int] | None = None
    ladder: list[LevelIn] | None = None


def _policy(key: str):
    p = selectors.policies().filter(key=key).first()
    if p is None:
        raise NotFound(_("No SLA policy %(k)s.") % {"k": key})
    return p


@router.get("/sla/policies", response=list[dict], summary="SLA policies, in the order they are tried")
def list_policies(request):
    require_scope(request, "read")
    require_role(request, *STAFF)
    return [serializers.policy(p) for p in selectors.policies()]


@router.post("/sla/policies", response={201: dict}, summary="Create an SLA policy")
def create_policy(request, payload: PolicyIn):
    require_scope(request, "admin")
    require_role(request, "admin")
    data = payload.model_dump(exclude_unset=True)
    if "ladder" in data:
        data["ladder"] = [{k: v for k, v in lv.items() if v is not None} for lv in data["ladder"]]
    p = services.do_create_policy(actor=request.auth, data=data)
    return Status(201, serializers.policy(_policy(p.key)))


@router.patch("/sla/policies/{key}", response=dict, summary="Edit an SLA policy (recomputes open work orders)")
def update_policy(request, key: str, payload: PolicyPatch):
    require_scope(request, "admin")
    require_role(request, "admin")
    data = payload.model_dump(exclude_unset=True)
    if data.get("ladder") is not None:
        data["ladder"] = [{k: v for k, v in lv.items() if v is not None} for lv in data["ladder"]]
    p = services.do_update_policy(actor=request.auth, policy=_policy(key), data=data)
    return serializers.policy(_policy(p.key))


class CalendarIn(StrictSchema):
    key: str = Field(max_length=40, pattern=r"^[a-z0-9-_]+$")
    name: str = Field(max_length=100)
    kind: str = Field("hours", description="hours, china (statutory holidays and 调休) or always (24x7)")
    tz: str = Field("Asia/Shanghai", max_length=64)
    week: dict[str, list[list[str]]] = Field(default_factory=dict,
                                             description='weekday 0-6 -> [["09:00", "18:00"], ...]')
    holidays: list[str] = []
    workdays: list[str] = []


class CalendarPatch(StrictSchema):
    name: str | None = Field(None, max_length=100)
    kind: str | None = None
    tz: str | None = Field(None, max_length=64)
    week: dict[str, list[list[str]]] | None = None
    holidays: list[str] | None = None
    workdays: list[str] | None = None


@router.post("/sla/calendars", response={201: dict}, summary="Create a business calendar")
def create_calendar(request, payload: CalendarIn):
    require_scope(request, "admin")
    require_role(request, "admin")
    cal = services.do_create_calendar(actor=request.auth, data=payload.model_dump())
    return Status(201, serializers.calendar(cal))


@router.patch("/sla/calendars/{key}", response=dict,
              summary="Edit a business calendar (its policies get a new version; open work orders are recomputed)")
def update_calendar(request, key: str, payload: CalendarPatch):
    require_scope(request, "admin")
    require_role(request, "admin")
    cal = selectors.calendars().filter(key=key).first()
    if cal is None:
        raise NotFound(_("No calendar %(k)s.") % {"k": key})
    cal = services.do_update_calendar(actor=request.auth, calendar=cal, data=payload.model_dump(exclude_unset=True))
    return serializers.calendar(cal)


@router.get("/sla/calendars", response=list[dict], summary="Business calendars")
def list_calendars(request):
    require_scope(request, "read")
    require_role(request, *STAFF)
    return [serializers.calendar(c) for c in selectors.calendars()]


@router.get("/work-orders/{code}/sla", response=dict, summary="The work order's SLA ledger and escalations")
def work_order_sla(request, code: str):
    require_scope(request, "read")
    wo = access_work_order_by_code(request.auth, code)
    # Escalations are internal, like their timeline events: not shown to customers.
    esc = [] if request.auth.role == "customer" else selectors.escalations_for(wo)
    escalations = [{"milestone": e.milestone, "level": e.level, "policy": e.policy.key,
                    "policy_version": e.policy_version, "due_at": e.due_at, "fired_at": e.fired_at,
                    "actions": e.actions} for e in esc]
    return {"targets": serializers.ledger(selectors.ledger_for(wo)), "escalations": escalations}
