"""Who may do what to a work order they can see. Pure functions, no queries.

Visibility (may this user see it at all?) is in selectors.visible_work_orders;
this module answers the next question, for the console's buttons and for
services alike, so the UI never offers what the service would refuse.
"""

from closeloop.accounts.models import Role

from . import mainline
from .lifecycle import ASSIGNEE, CUSTOMER, CUSTOMER_CANCEL_STATES, TRANSITIONS, Transition, may_close_now

EDITOR_ROLES = {Role.ADMIN, Role.MANAGER, Role.DISPATCHER}


def is_assignee(user, wo) -> bool:
    return wo.assignee_id is not None and wo.assignee_id == user.pk


def is_own_customer(user, wo) -> bool:
    return user.role == Role.CUSTOMER and user.customer_id is not None and wo.customer_id == user.customer_id


def may_take(user, wo, t: Transition) -> bool:
    """Role guard only; the state guard is separate (see allowed_actions)."""
    if user.is_superuser or user.role in t.actors:
        return True
    if ASSIGNEE in t.actors and user.role == Role.ENGINEER and is_assignee(user, wo):
        return True
    if CUSTOMER in t.actors and is_own_customer(user, wo):
        return True
    if t.action == "cancel" and is_own_customer(user, wo) and wo.status in CUSTOMER_CANCEL_STATES:
        return True
    return False


def allowed_actions(user, wo) -> list[Transition]:
    """The actions to offer: the state and role guards, and "close" only once the steps the
    type needs are taken (lifecycle.close_steps: a type without confirmation and invoice closes
    from resolved; one query for the type's gates, only where "close" is a candidate), and none
    whose stage the type's main line leaves out (workorders.mainline; the type is loaded with the
    work order on every page that lists actions)."""
    out = []
    for t in TRANSITIONS.values():
        if wo.status not in t.sources or not may_take(user, wo, t):
            continue
        if t.action == "close" and not may_close_now(wo):
            continue
        if t.action in mainline.REFUSABLE and mainline.action_refused(wo, t.action):
            continue  # the type's main line leaves the stage out (no travel: no depart / arrive)
        out.append(t)
    return out


def may_edit(user, wo) -> bool:
    return user.is_superuser or user.role in EDITOR_ROLES or (user.role == Role.ENGINEER and is_assignee(user, wo))


def may_comment_internal(user) -> bool:
    return user.role != Role.CUSTOMER


def may_create(user) -> bool:
    return user.is_superuser or user.role in (Role.ADMIN, Role.MANAGER, Role.DISPATCHER, Role.ENGINEER,
                                               Role.CUSTOMER)
