"""Telemetry part of the demo (a scenario, demo/scenarios.py): a gateway, a running-hours
meter on every ventilator and a temperature meter on each, thirty days of readings and a few
door-delay-style alarms posted through the ingestion service (batches, as a gateway would),
and two conditions to try in Settings → Meters and alarms."""

from datetime import timedelta

from django.utils.translation import gettext as _

from closeloop.core.clock import now
from closeloop.customers.models import Asset

from . import services
from .models import Condition

ORDER = 30  # after the rules; before fieldwork and the analytics
CONDITIONS = [
    ("呼吸机 30 天报警超过 5 次", "alarms.sensor_fault.count_30d > 5"),
    ("呼吸机温度持续升高", "reading.temperature.rate_per_hour > 0.5 || reading.temperature.last > 45"),
]


def seed() -> str | None:
    if Condition.objects.exists():
        return None
    assets = list(Asset.objects.filter(category="呼吸机", is_active=True).order_by("serial_number")[:40])
    if not assets:
        return None
    gateway, token = services.do_create_gateway(actor=None, name="演示网关")
    services.do_add_meters(actor=None, assets=assets, kind="running_hours", unit="h", mode="cumulative")
    services.do_add_meters(actor=None, assets=assets, kind="temperature", unit="°C")
    t = now().replace(minute=0, second=0, microsecond=0)
    items = []
    for n, a in enumerate(assets):
        for day in range(30, -1, -1):
            at = (t - timedelta(days=day)).isoformat()
            items.append({"type": "reading", "asset": a.serial_number, "kind": "running_hours", "at": at,
                          "value": 1000.0 + n * 97 + (30 - day) * (8 + n % 5), "unit": "h"})
            items.append({"type": "reading", "asset": a.serial_number, "kind": "temperature", "at": at,
                          "value": 36.0 + (n % 7) + (0.4 * (30 - day) if n % 9 == 0 else (day % 3) * 0.3)})
        for k in range(7 if n % 8 == 0 else n % 3):  # every eighth ventilator: 7 alarms in the month
            items.append({"type": "alarm", "asset": a.serial_number, "kind": "sensor_fault",
                          "at": (t - timedelta(days=3 * k + 1, hours=n % 12)).isoformat(), "severity": "warning",
                          "payload": {"code": "E-17"}})
    accepted = 0
    for i in range(0, len(items), services.MAX_BATCH):
        accepted += services.ingest(gateway=gateway, items=items[i:i + services.MAX_BATCH])["accepted"]
    for name, expression in CONDITIONS:
        services.do_create_condition(actor=None, data={"name": name, "expression": expression})
    return _("Telemetry: %(a)d ventilators with meters, %(n)d readings and alarms; gateway token for "
             "POST /api/v1/telemetry/batches: %(t)s") % {"a": len(assets), "n": accepted, "t": token}
