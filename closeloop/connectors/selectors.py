"""Permission-checked reads: who may configure connectors, who may see a work order's context."""

from closeloop.accounts.models import Role
from closeloop.core.errors import NotFound
from closeloop.workorders import selectors as wo_selectors

from .models import Connector

CONFIGURE_ROLES = (Role.ADMIN,)


def may_configure(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.role in CONFIGURE_ROLES))


def may_see_context(user) -> bool:
    """Staff only: what other systems hold about a customer is internal (a customer contact
    sees their own work orders, not our CRM's notes about them)."""
    return bool(user and user.is_authenticated and user.role != Role.CUSTOMER)


def connectors():
    return Connector.objects.all()


def connector(cid: int) -> Connector:
    c = Connector.objects.filter(pk=cid).first()
    if c is None:
        raise NotFound()
    return c


def work_order_for_context(user, code: str):
    """The work order whose context `user` may see (404 for anyone who may not see it)."""
    if not may_see_context(user):
        raise NotFound()
    return wo_selectors.access_work_order_by_code(user, code)
