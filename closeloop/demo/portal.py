"""Demo scenario for the customer portal: a QR link to an asset's passport and a
tracking link of one open request (printed by `closeloop demo`)."""

import os

from django.utils.translation import gettext as _


def seed_portal_demo() -> str:
    from closeloop.customers.models import Asset
    from closeloop.portal import services
    from closeloop.workorders.models import WorkOrder

    base = (os.environ.get("CLOSELOOP_SITE_URL") or f"http://127.0.0.1:{os.environ.get('PORT', '8000')}").rstrip("/")
    asset = Asset.objects.filter(site__isnull=False).order_by("id").first()
    wo = (WorkOrder.objects.filter(contact__isnull=False).exclude(status__in=["closed", "cancelled"])
          .order_by("-id").first() or WorkOrder.objects.order_by("-id").first())
    parts = []
    if asset is not None:
        parts.append(_("scan %(url)s (equipment passport, report a problem)") % {"url": base + services.qr_path(asset)})
    if wo is not None:
        parts.append(_("track %(code)s at %(url)s") % {"code": wo.code, "url": base + services.tracking_path(wo)})
    if not parts:
        return _("Customer portal: no assets or work orders to show.")
    return _("Customer portal: ") + "; ".join(parts)
