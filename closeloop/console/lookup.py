"""Cards other apps add to the universal lookup's results, without editing its template.

An app above the console registers one in its AppConfig.ready():

    from closeloop.console import lookup
    lookup.register_panel("connectors", "connectors/_panel.html", context=fn, order=10)

`context(request, result)` gets the lookup's result (`work_orders`, `customers`, `assets`,
`refs`, `kinds`, ...) and returns a dict (`panel` in the template) or None to hide the card.
Panels render under the work orders, in `order`.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Panel:
    key: str
    template: str
    context: Callable
    order: int


_panels: dict[str, Panel] = {}


def register_panel(key: str, template: str, *, context: Callable, order: int = 50) -> None:
    _panels[key] = Panel(key, template, context, order)


def unregister_panel(key: str) -> None:
    _panels.pop(key, None)


def panels_for(request, result: dict) -> list[dict]:
    if not result.get("kinds"):
        return []
    out = []
    for p in sorted(_panels.values(), key=lambda p: (p.order, p.key)):
        ctx = p.context(request, result)
        if ctx is not None:
            out.append({"key": p.key, "template": p.template, "panel": ctx})
    return out
