"""Permission-checked reads of field work. Everything starts from the work order's own
visibility (workorders.selectors): a work order you may not see is a 404 here too."""

from datetime import timedelta

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role
from closeloop.core.clock import now
from closeloop.core.errors import NotFound
from closeloop.customers.models import Asset, Site
from closeloop.workorders.lifecycle import S
from closeloop.workorders.models import WorkOrder
from closeloop.workorders.selectors import access_work_order_by_code, visible_work_orders

from .models import Photo

#: What an engineer's phone lists: work that is theirs and not finished on their side.
PHONE_STATES = (S.ASSIGNED, S.ACCEPTED, S.EN_ROUTE, S.ON_SITE, S.IN_PROGRESS, S.WAITING_CUSTOMER, S.WAITING_PARTS,
                S.RESOLVED)
_URGENCY = Case(When(priority="urgent", then=Value(0)), When(priority="high", then=Value(1)),
                When(priority="normal", then=Value(2)), default=Value(3), output_field=IntegerField())


def is_staff(user) -> bool:
    return user.is_authenticated and user.role != Role.CUSTOMER


def todays_work(user) -> QuerySet[WorkOrder]:
    """The engineer's work for today, most urgent first: everything open assigned to them,
    plus today's finished-on-site work (resolved) so the customer can still sign."""
    start = timezone.localtime(now(), timezone.get_default_timezone()).replace(hour=0, minute=0, second=0,
                                                                               microsecond=0)
    qs = visible_work_orders(user).filter(assignee_id=user.pk, status__in=PHONE_STATES).filter(
        ~Q(status=S.RESOLVED) | Q(resolved_at__gte=start - timedelta(days=1)))
    return qs.select_related("wo_type", "customer", "site", "asset").annotate(urgency=_URGENCY).order_by(
        "urgency", "created_at", "id")


def access_photo(user, photo_id: int) -> Photo:
    photo = Photo.objects.select_related("work_order").filter(pk=photo_id).first()
    if photo is None or not is_staff(user) or not visible_work_orders(user).filter(pk=photo.work_order_id).exists():
        raise NotFound(_("No such photo."))
    return photo


def access_for_field(user, code: str) -> WorkOrder:
    return access_work_order_by_code(user, code)


def qr_target(user, kind: str, code: str):
    """Sites and assets whose QR codes staff may print."""
    if not (user.is_authenticated and (user.is_superuser or user.role in (Role.ADMIN, Role.MANAGER,
                                                                          Role.DISPATCHER))):
        raise NotFound(_("Not found."))
    obj = (Site.objects.filter(code=code).first() if kind == "site"
           else Asset.objects.filter(serial_number=code).first())
    if obj is None:
        raise NotFound(_("Not found."))
    return obj
