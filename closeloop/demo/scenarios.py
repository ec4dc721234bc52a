"""Demo scenarios: each app's part of `closeloop demo` lives in that app, as
`closeloop/<app>/demo.py`, and is found here; the demo depends on the apps, never the
other way round.

A scenario module defines:

    ORDER = 50                      # lower runs first; equal ORDERs run by app label
    def seed() -> str | None:       # the line `closeloop demo` prints (None: nothing)

`seed()` runs once, after the demo company is loaded (same database, no clock tricks),
and may use the app's own services. The order today (sla/demo.py and friends):

    10 sla        calendars, policies, the showcase and the live 30-second work order
    20 dispatch   skill requirements per equipment type, a dispatch setting per type
    21 roster     two weeks of shifts and night on-call, two engineers on leave
    22 rules      the urgent keyword library and the "呼吸机离线" rules (prints the line)
    30 telemetry  a gateway, meters and a month of readings and alarms on the ventilators, two conditions
    50 fieldwork  closure gates, the engineer's phone journey
    60 approvals, notify, portal
    75 connectors a CRM and an ERP on `closeloop fake_systems`, and the work order that shows them
    90 analytics  the figures of everything above, computed at once (the worker keeps them current)

To add one: write `<app>/demo.py` with ORDER and seed(); nothing to register.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from types import ModuleType

from django.apps import apps

DEFAULT_ORDER = 50


@dataclass(frozen=True)
class Scenario:
    label: str  # the app label
    order: int
    module: ModuleType

    def seed(self) -> str | None:
        return self.module.seed()


def discover() -> list[Scenario]:
    """The `demo` module of every installed app that has one, in running order."""
    found = []
    for cfg in apps.get_app_configs():
        name = f"{cfg.name}.demo"
        if cfg.name == __package__ or importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        found.append(Scenario(cfg.label, getattr(module, "ORDER", DEFAULT_ORDER), module))
    return sorted(found, key=lambda s: (s.order, s.label))


def run_all() -> list[str]:
    """Seed every scenario in order; the lines to print."""
    return [line for line in (s.seed() for s in discover()) if line]
