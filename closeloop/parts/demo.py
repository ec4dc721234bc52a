"""Parts part of the demo (a scenario, demo/scenarios.py): the catalogue (refrigerant, sensors,
elevator encoders), the central and the East China warehouse, a van per engineer with 2
bottles of R410A each, a reorder point already reached, and one open work order that needs 3
bottles: its page (and the dispatch suggestions) warn that the van holds only 2."""

from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from closeloop.accounts.models import Role, User
from closeloop.core.clock import now
from closeloop.workorders.models import WorkOrder

from . import services
from .models import Location, Part

ORDER = 45  # after the demo company's work orders, before field work's scenario
PARTS = [
    ("R410A-10", "制冷剂 R410A 10kg", "瓶", "冷媒供应商", "480.00", []),
    ("SEN-O2-02", "氧传感器", "个", "迈科医疗配件", "900.00", []),
    ("FLT-HEPA-1", "HEPA 滤网", "片", "迈科医疗配件", "35.00", []),
    ("ENC-GEN2", "曳引机编码器", "个", "华锐编码器", "1200.00", ["GeN2-MR", "ENC-GEN2"]),
]


def seed() -> str | None:
    admin = User.objects.filter(role=Role.ADMIN, is_active=True).order_by("id").first()
    dispatcher = User.objects.filter(role=Role.DISPATCHER, is_active=True).order_by("id").first() or admin
    if admin is None or Part.objects.exists():
        return None
    t = now()
    with transaction.atomic():
        for number, name, unit, vendor, price, models in PARTS:
            Part.objects.create(number=number, name=name, unit=unit, vendor=vendor, price=Decimal(price),
                                asset_models=models, created_at=t)
        Location.objects.create(code="central", name="上海中央仓", kind="central")
        east = Location.objects.create(code="east", name="华东区域仓", kind="regional")
        engineers = list(User.objects.filter(role=Role.ENGINEER, is_active=True).order_by("username"))
        vans = [Location.objects.create(code=f"van-{u.username}"[:40].lower().replace(".", "-"),
                                        name=_("%(name)s's van") % {"name": u.display_name or u.username},
                                        kind="van", user=u, region=east) for u in engineers]
        services.do_receive(actor=admin, data={"part": "R410A-10", "target": "central",
                                               "quantity": 2 * len(vans) + 10, "note": "年度采购入库"})
        services.do_receive(actor=admin, data={"part": "R410A-10", "target": "east", "quantity": 4})
        services.do_receive(actor=admin, data={"part": "SEN-O2-02", "target": "east", "quantity": 3})
        services.do_receive(actor=admin, data={"part": "FLT-HEPA-1", "target": "central", "quantity": 40})
        services.do_receive(actor=admin, data={"part": "ENC-GEN2", "target": "central", "quantity": 1})
        for van in vans:
            services.do_transfer(actor=dispatcher, data={"part": "R410A-10", "source": "central", "target": van.code,
                                                         "quantity": 2, "note": "随车备件"})
        services.do_set_reorder_point(actor=admin, data={"part": "R410A-10", "location": "east", "minimum": 6,
                                                         "target": 12})
        wo = (WorkOrder.objects.filter(status__in=["assigned", "accepted"], assignee__isnull=False,
                                       assignee__van__isnull=False).order_by("id").first())
        if wo is not None:
            services.do_reserve_parts(actor=dispatcher, work_order=wo, items=[
                {"part": "R410A-10", "quantity": 3}, {"part": "SEN-O2-02", "quantity": 1}])
    line = _("Parts: %(n)d vans with 2 bottles of R410A each; the East China warehouse is below its reorder "
             "point.") % {"n": len(vans)}
    if wo is not None:
        line += " " + _("%(code)s needs 3 bottles and an oxygen sensor: its page warns that the van holds 2.") % {
            "code": wo.code}
    return line
