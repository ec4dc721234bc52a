"""The closure gates card on the work order page (registered in apps.py)."""

from closeloop.accounts.models import Role

from . import gates, services
from .models import CheckIn, Photo


def gates_panel(request, wo):
    policy = gates.policy_for(wo)
    user = request.user
    staff = user.is_authenticated and user.role != Role.CUSTOMER
    items = gates.evaluate(wo, policy)
    if policy is None and not items and not staff:
        return None
    photos = list(Photo.objects.filter(work_order=wo)) if staff else []
    flagged = [c for c in CheckIn.objects.filter(work_order=wo, reviewed_at__isnull=True) if c.flags] if staff else []
    flagged_photos = [p for p in photos if p.flags and p.reviewed_at is None]
    may_review = staff and (user.is_superuser or user.role in ("admin", "manager", "dispatcher"))
    can_send_link = bool(any(g.gate == "delivery" for g in items) and wo.contact_id
                         and wo.status in services.SIGNABLE_STATES and services.may_do_field_work(user, wo))
    return {"policy": policy, "can_send_link": can_send_link, "gates": items, "photos": photos,
            "flagged_checkins": flagged, "flagged_photos": flagged_photos,
            "may_review": may_review and bool(flagged or flagged_photos), "staff": staff}


def phone_badge(request):
    from .selectors import todays_work

    return todays_work(request.user).count()
