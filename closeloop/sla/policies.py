"""Choosing the SLA policy of a work order: the first active policy, by order, whose
CEL condition is true over `wo` (an empty condition matches everything).

The variables a condition sees (documented in docs/sla.md):
  wo.type, wo.kind, wo.priority, wo.status, wo.fault_code, wo.region,
  wo.customer.code, wo.customer.tier, wo.site.code, wo.site.grade, wo.site.province,
  wo.team, wo.custom (the custom field values)
"""

import cel
from django.utils.translation import gettext as _

from closeloop.core.errors import FieldProblem, ValidationFailed

from .models import SLAPolicy

_compiled: dict[str, object] = {}


def compile_condition(source: str):
    prog = _compiled.get(source)
    if prog is None:
        prog = cel.compile(source)
        if len(_compiled) > 1000:
            _compiled.clear()
        _compiled[source] = prog
    return prog


def check_condition(source: str) -> None:
    """Refuse a condition that does not compile or does not give true/false on a sample."""
    if not source.strip():
        return
    try:
        prog = compile_condition(source)
        result = prog.execute(_sample())
    except (ValueError, TypeError, RuntimeError, KeyError) as exc:
        raise ValidationFailed(FieldProblem("condition", _("Not a valid condition: %(e)s") % {"e": str(exc)[:300]}))
    if not isinstance(result, bool):
        raise ValidationFailed(FieldProblem("condition", _("The condition must be true or false.")))


def _sample() -> dict:
    return {"wo": {"type": "repair", "kind": "repair", "priority": "normal", "status": "new", "fault_code": "",
                   "region": "", "team": "", "custom": {},
                   "customer": {"code": "", "tier": "standard"},
                   "site": {"code": "", "grade": "", "province": ""}}}


def cel_context(wo) -> dict:
    site = wo.site if wo.site_id else None
    customer = wo.customer if wo.customer_id else None
    team = wo.team if wo.team_id else None
    return {"wo": {
        "type": wo.wo_type.key, "kind": wo.wo_type.kind, "priority": wo.priority, "status": wo.status,
        "fault_code": wo.fault_code or "",
        "region": (team.region if team and team.region else "") or (site.province if site else "") or "",
        "team": team.code if team else "",
        "custom": {k: v for k, v in (wo.custom or {}).items() if v is not None},
        "customer": {"code": customer.code if customer else "", "tier": customer.tier if customer else ""},
        "site": {"code": site.code if site else "", "grade": site.grade if site else "",
                 "province": site.province if site else ""},
    }}


def matches(policy: SLAPolicy, ctx: dict) -> bool:
    if not policy.condition.strip():
        return True
    try:
        return compile_condition(policy.condition).execute(ctx) is True
    except (ValueError, TypeError, RuntimeError, KeyError):
        return False  # e.g. a custom field this type does not have: no match


def select_policy(wo, policies: list[SLAPolicy] | None = None) -> SLAPolicy | None:
    if policies is None:
        policies = list(SLAPolicy.objects.filter(active=True).select_related("calendar").order_by("order", "id"))
    ctx = cel_context(wo)
    for policy in policies:
        if matches(policy, ctx):
            return policy
    return None
