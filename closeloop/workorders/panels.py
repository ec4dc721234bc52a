"""Cards other apps add to the work order page, without editing its template.

An app registers a panel in its AppConfig.ready():

    from closeloop.workorders import panels
    panels.register("gates", "fieldwork/_gates_card.html", context=gates_context, order=20)

`context(request, wo)` returns a dict (or None to hide the panel for this viewer); the
template is included with that dict as `panel` and the page context (`wo`, `request`).
Panels render in `order`, after the "Next step" card and the SLA card.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Panel:
    key: str
    template: str
    context: Callable | None
    order: int


_panels: dict[str, Panel] = {}


def register(key: str, template: str, *, context: Callable | None = None, order: int = 50) -> None:
    _panels[key] = Panel(key, template, context, order)


def unregister(key: str) -> None:
    _panels.pop(key, None)


def for_work_order(request, wo) -> list[dict]:
    out = []
    for p in sorted(_panels.values(), key=lambda p: (p.order, p.key)):
        ctx = p.context(request, wo) if p.context else {}
        if ctx is None:
            continue
        out.append({"key": p.key, "template": p.template, "panel": ctx})
    return out


# ---- timeline events other apps own ----------------------------------------------------------
# An app that writes its own TimelineEvent kinds registers how one renders on the work order
# page (the template sees `ev`, `d` = ev.data, `wo`):
#     panels.register_event("checkin", "fieldwork/_timeline_event.html")

_event_templates: dict[str, str] = {}


def register_event(kind: str, template: str) -> None:
    _event_templates[kind] = template


def event_templates() -> dict[str, str]:
    return dict(_event_templates)


# Values other apps put into the work order page's own context (not a card): fn(request, wo) -> dict.
# sla adds `sla_targets` and `sla_running` for the SLA card the page draws after "Next step".
_page_context: list[Callable] = []


def register_page_context(fn: Callable) -> None:
    if fn not in _page_context:
        _page_context.append(fn)


def page_context(request, wo) -> dict:
    out: dict = {}
    for fn in _page_context:
        out.update(fn(request, wo))
    return out
