"""Permission-checked reads of purchase requests."""

from django.utils.translation import gettext as _

from closeloop.core.errors import Forbidden, NotFound

from . import services
from .models import BatchAgeRule, PurchaseRequest


def _require(user) -> None:
    if not services.may_read(user):
        raise Forbidden(_("Your role does not see purchasing."))


def requests(user):
    _require(user)
    return PurchaseRequest.objects.select_related("work_order").prefetch_related("lines__part")


def request_by_code(user, code: str) -> PurchaseRequest:
    _require(user)
    pr = requests(user).filter(work_order__code=(code or "").strip().upper()).first()
    if pr is None:
        raise NotFound(_("No purchase request %(c)s.") % {"c": code})
    return pr


def rules(user):
    _require(user)
    return BatchAgeRule.objects.select_related("part")


def request_dict(pr: PurchaseRequest) -> dict:
    return {"code": pr.work_order.code, "title": pr.work_order.title, "vendor": pr.vendor, "period": pr.period,
            "source": pr.source, "amount": f"{pr.amount:.2f}", "status": services.status_of(pr),
            "work_order_status": pr.work_order.status, "po_number": pr.po_number or None,
            "sent_at": pr.sent_at, "created_at": pr.created_at,
            "lines": [{"part": ln.part.number, "name": ln.part.name, "quantity": f"{ln.quantity.normalize():f}",
                       "unit_price": f"{ln.unit_price:.2f}", "amount": f"{ln.amount:.2f}", "reasons": ln.reasons}
                      for ln in pr.lines.all()]}
