"""Demo scenario for field work (demo/scenarios.py): closure gates on the demo types and
one work order ready for the engineer's phone journey (printed by `closeloop demo`)."""

import os

from django.db import transaction
from django.utils.translation import gettext as _

ORDER = 50
REPAIR_CHECKLIST = ["断电并确认设备状态", "更换或维修故障部件", "功能测试及安全检查"]
PRODUCTION_FORM = [
    {"key": "mold_temp", "label": "模温", "kind": "number", "unit": "°C", "min": 0, "max": 400, "required": True},
    {"key": "pressure", "label": "注射压力", "kind": "number", "unit": "MPa", "min": 0, "max": 300, "required": True},
    {"key": "hold_time", "label": "保压时间", "kind": "number", "unit": "s", "min": 0, "max": 600, "required": True},
]


def seed() -> str:
    from closeloop.accounts.models import User
    from closeloop.customers.models import Site
    from closeloop.fieldwork.evidence import qr_payload
    from closeloop.fieldwork.models import ClosurePolicy
    from closeloop.workorders.models import WorkOrder, WorkOrderType
    from closeloop.workorders.services import do_create_work_order

    types = {t.key: t for t in WorkOrderType.objects.all()}
    with transaction.atomic():
        if "repair" in types:
            ClosurePolicy.objects.update_or_create(wo_type=types["repair"], defaults={
                "required_photos": ["nameplate"], "checklist": REPAIR_CHECKLIST, "form_fields": [],
                "require_signature": True, "require_invoice": True, "auto_close": True})
        if "installation" in types:
            ClosurePolicy.objects.update_or_create(wo_type=types["installation"], defaults={
                "required_photos": ["nameplate", "after"], "checklist": ["开箱验货", "安装调试", "操作培训"],
                "require_signature": True, "require_invoice": True, "auto_close": True})
        if "production" in types:
            ClosurePolicy.objects.update_or_create(wo_type=types["production"], defaults={
                "required_photos": ["first_article"], "form_fields": PRODUCTION_FORM, "checklist": [],
                "require_signature": False, "require_invoice": False, "auto_close": False})
        engineer = User.objects.filter(username="engineer").first()
        dispatcher = User.objects.filter(username="dispatcher").first()
        if engineer is None or dispatcher is None or "repair" not in types:
            return _("Field work: closure gates configured on the demo types.")
        # The engineer's own assigned repair job (the demo has one); created only if missing.
        wo = (WorkOrder.objects.filter(assignee=engineer, status="assigned", wo_type=types["repair"],
                                       site__isnull=False, contact__isnull=False, asset__isnull=False)
              .select_related("site").order_by("-id").first())
        if wo is None:
            site = (Site.objects.filter(assets__isnull=False, contacts__isnull=False).order_by("id").first())
            if site is None:
                return _("Field work: closure gates configured on the demo types.")
            asset = site.assets.order_by("id").first()
            wo = do_create_work_order(actor=dispatcher, data={
                "type": "repair", "title": f"{asset.name}报警, 请现场检查", "site": site.code,
                "asset": asset.serial_number, "contact": site.contacts.order_by("id").first().pk, "priority": "high",
                "assignee": engineer.username, "custom": {"symptom": "报警"}})
        site = wo.site
        if site.latitude is None:
            site.latitude, site.longitude = 30.274085, 120.155070  # central Hangzhou
            site.save(update_fields=["latitude", "longitude"])
    base = (os.environ.get("CLOSELOOP_SITE_URL") or f"http://127.0.0.1:{os.environ.get('PORT', '8000')}").rstrip("/")
    return _("Field work: log in as engineer on a phone at %(url)s/m/ and run %(code)s (arrive by typing "
             "%(qr)s); then finance posts the invoice: POST /api/v1/work-orders/%(code)s/actions/invoice.") % {
        "url": base, "code": wo.code, "qr": qr_payload(site)}
