"""A small stock world on top of the root conftest's World."""

from decimal import Decimal

from closeloop.core.clock import now
from closeloop.parts.models import Location, Part, Stock


def stock_world(world, *, bottles=2):
    t = now()
    r410 = Part.objects.create(number="R410A-10", name="制冷剂 R410A 10kg", unit="瓶", vendor="冷媒供应商",
                               price=Decimal("480.00"), asset_models=["V60"], created_at=t)
    sensor = Part.objects.create(number="SEN-02", name="氧传感器", unit="pcs", vendor="医疗配件", price=Decimal("900"),
                                 created_at=t)
    central = Location.objects.create(code="central", name="中央仓", kind="central")
    east = Location.objects.create(code="east", name="华东仓", kind="regional")
    van_x = Location.objects.create(code="van-x", name="eng_x 的车", kind="van", user=world.eng_x, region=east)
    van_x2 = Location.objects.create(code="van-x2", name="eng_x2 的车", kind="van", user=world.eng_x2, region=east)
    if bottles:
        Stock.objects.create(part=r410, location=van_x, quantity=bottles, updated_at=t)
    return {"r410": r410, "sensor": sensor, "central": central, "east": east, "van_x": van_x, "van_x2": van_x2}


def level(part, location) -> Decimal:
    return Stock.objects.filter(part=part, location=location).values_list("quantity", flat=True).first() or Decimal(0)
