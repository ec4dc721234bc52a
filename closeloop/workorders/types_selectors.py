"""Permission-checked reads of work order types and their custom fields.

Everyone signed in may read types (a customer contact needs the type key and its
fields to file a work order); customer contacts see only active types, and an
inactive one is a 404 for them.
"""

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role
from closeloop.accounts.selectors import is_active
from closeloop.core.errors import NotFound

from .models import CustomField, WorkOrderType


def visible_types(user) -> QuerySet[WorkOrderType]:
    qs = WorkOrderType.objects.prefetch_related(Prefetch("fields", queryset=CustomField.objects.order_by("order", "id")))
    if not is_active(user):
        return qs.none()
    if user.role == Role.CUSTOMER and not user.is_superuser:
        return qs.filter(active=True)
    return qs


def filter_types(user, *, kind: str | None = None, active: bool | None = None) -> QuerySet[WorkOrderType]:
    qs = visible_types(user)
    if kind:
        qs = qs.filter(kind=kind)
    if active is not None:
        qs = qs.filter(active=active)
    return qs


def access_type(user, key: str) -> WorkOrderType:
    wo_type = visible_types(user).filter(key=key).first()
    if wo_type is None:
        raise NotFound(_("No work order type %(k)s.") % {"k": key})
    return wo_type


def access_field(user, key: str, field_key: str) -> CustomField:
    wo_type = access_type(user, key)
    field = CustomField.objects.select_related("wo_type").filter(wo_type=wo_type, key=field_key).first()
    if field is None:
        raise NotFound(_("Type %(t)s has no field %(f)s.") % {"t": key, "f": field_key})
    return field
