"""Demo scenario for the customer portal: a QR link to an asset's passport and a
tracking link of one open request (printed by `closeloop demo`; demo/scenarios.py)."""

import os

ORDER = 60


def seed() -> str:
    from closeloop.customers.models import Asset
    from closeloop.portal import services
    from closeloop.workorders.models import WorkOrder

    base = (os.environ.get("CLOSELOOP_SITE_URL") or f"http://127.0.0.1:{os.environ.get('PORT', '8000')}").rstrip("/")
    asset = Asset.objects.filter(site__isnull=False).order_by("id").first()
    wo = (WorkOrder.objects.filter(contact__isnull=False).exclude(status__in=["closed", "cancelled"])
          .order_by("-id").first() or WorkOrder.objects.order_by("-id").first())
    return services.demo_line(qr_url=base + services.qr_path(asset) if asset else None,
                              track_url=base + services.tracking_path(wo) if wo else None,
                              code=wo.code if wo else None)
