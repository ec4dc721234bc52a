"""Choosing the SLA policy of a work order: the first active policy, by order, whose
condition is true (an empty condition matches everything).

Conditions are CEL run by the shared condition engine (core.conditions), over the same
variables as rules (core.conditions.work_order_context: wo.type, wo.kind, wo.priority,
wo.customer.tier, wo.site.grade, wo.region, wo.custom.<key>, ...; documented in
docs/sla.md). A condition that fails on a work order (a custom field it lacks) does
not match it.
"""

from closeloop.core import conditions, refcache

from .models import SLAPolicy

#: The active policies in order, with their calendars (per process, see core.refcache).
_active = refcache.RefCache("sla.policies", "sla.SLAPolicy", "sla.BusinessCalendar")


def active_policies() -> list[SLAPolicy]:
    """Shared by every request of the process: read, never change."""
    return _active.get("active", lambda: list(
        SLAPolicy.objects.filter(active=True).select_related("calendar").order_by("order", "id")))


def check_condition(source: str) -> None:
    """Refuse (422 naming `condition`) a condition that does not compile or is not true/false."""
    conditions.check_condition(source or "", field="condition")


def cel_context(wo):
    return conditions.make_context(conditions.work_order_context(wo))


def matches(policy: SLAPolicy, ctx) -> bool:
    return conditions.matches(policy.condition, ctx)


def select_policy(wo, policies: list[SLAPolicy] | None = None) -> SLAPolicy | None:
    if policies is None:
        policies = active_policies()
    if not policies:
        return None
    ctx = None
    for policy in policies:
        if not policy.condition.strip():
            return policy
        if ctx is None:
            ctx = cel_context(wo)
        if matches(policy, ctx):
            return policy
    return None
