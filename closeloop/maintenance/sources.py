"""What the telemetry and parts apps lend to maintenance plans, asked only when those apps are
installed (they are built alongside; a plan that needs a missing one finds nothing due).

Telemetry (layer 7): selectors.alarm_counts / meter_values / assets_matching, models.Condition,
services.register_ingest_listener. Parts (layer 6): services.do_reserve_parts.
"""

from __future__ import annotations

import importlib
import logging
from datetime import datetime

from django.apps import apps

log = logging.getLogger(__name__)


def _module(app: str, name: str):
    if not apps.is_installed(f"closeloop.{app}"):
        return None
    try:
        return importlib.import_module(f"closeloop.{app}.{name}")
    except ImportError:
        return None


def telemetry_ready() -> bool:
    return _module("telemetry", "selectors") is not None


def alarm_counts(*, kind: str, since: datetime, until: datetime, asset_ids=None) -> dict[int, int]:
    sel = _module("telemetry", "selectors")
    return (
        {}
        if sel is None
        else dict(sel.alarm_counts(kind=kind, since=since, until=until, asset_ids=asset_ids))
    )


def meter_values(*, kind: str, asset_ids=None, at: datetime | None = None) -> dict[int, float]:
    sel = _module("telemetry", "selectors")
    return {} if sel is None else dict(sel.meter_values(kind=kind, asset_ids=asset_ids, at=at))


def condition(condition_id: int):
    models = _module("telemetry", "models")
    if models is None or not hasattr(models, "Condition"):
        return None
    return models.Condition.objects.filter(pk=condition_id).first()


def conditions() -> list:
    models = _module("telemetry", "models")
    if models is None or not hasattr(models, "Condition"):
        return []
    return list(models.Condition.objects.all())


def assets_matching(condition_id: int, *, at: datetime, asset_ids=None) -> set[int]:
    sel = _module("telemetry", "selectors")
    cond = condition(condition_id)
    if sel is None or cond is None:
        return set()
    return set(sel.assets_matching(cond, at=at, asset_ids=asset_ids))


def register_ingest_listener(fn) -> bool:
    svc = _module("telemetry", "services")
    if svc is None or not hasattr(svc, "register_ingest_listener"):
        return False
    svc.register_ingest_listener(fn)
    return True


def reserve_parts(*, actor, work_order, items: list[dict]) -> bool:
    """Reserve `items` ([{"part_id", "quantity"}]) for the work order through the parts app, if it
    offers do_reserve_parts; False when it does not (the plan's list stays recorded on the
    occurrence and in the work order's description). Runs in a savepoint: a refusal (stock)
    never stops the work order."""
    from django.db import transaction

    svc = _module("parts", "services")
    fn = getattr(svc, "do_reserve_parts", None) if svc is not None else None
    if fn is None or not items:
        return False
    try:
        with transaction.atomic():
            fn(actor=actor, work_order=work_order, items=items)
    except Exception:  # refused or not the expected signature: the list stays recorded
        log.warning("parts for %s were not reserved", work_order.code, exc_info=True)
        return False
    return True
