"""What other apps add to the work order list page (and its CSV export) without editing it.

An app registers one extension in its AppConfig.ready(); the staff console
(closeloop.console) adds saved queues, its toolbar, the bulk bar, SLA badges and live
updates this way:

    from closeloop.workorders import listing
    listing.register("console", context=list_context, saved_filter=queue_filter,
                     decorate=add_sla_dues, templates={"toolbar": "console/_toolbar.html"})

- `saved_filter(user, params) -> (values, saved)`: a saved filter chosen in the query string
  (the console's `?queue=<id>`): `values` are the list's filter names ({"status": [...],
  "team": "x", ...}) replacing the query string's, `saved` is shown to templates as
  `queue`. (None, None) when there is none. The first extension that returns one wins.
- `context(request) -> dict`: more context for the page.
- `decorate(items)`: called with the page's work orders (e.g. to set `wo.sla_due`).
- `templates`: slot -> template included there, with the page's context:
  "toolbar" (above the filters), "before_rows" (between the filters and the table),
  "row" (inside each row's status cell; sees `wo`: on the list page a workorders.rows.ListRow,
  the row's columns, not a model), "after" (end of the page).
- `row_html(wo) -> str`: optional, the row template's HTML written in Python (the list renders
  its rows in Python, workorders_rows.list_row, and a template include per row is most of a
  row's cost); it must give what the template gives (test it as console/tests/test_cards.py does).

The console's live updates render rows with `workorders/_list_row.html` too; they pass
`list_slots()` as `list_slots` so the rows look the same.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

SLOTS = ("toolbar", "before_rows", "row", "after")


@dataclass(frozen=True)
class ListExtension:
    key: str
    context: Callable | None = None
    saved_filter: Callable | None = None
    decorate: Callable | None = None
    templates: dict = field(default_factory=dict)
    row_html: Callable | None = None


_extensions: dict[str, ListExtension] = {}


def register(key: str, *, context: Callable | None = None, saved_filter: Callable | None = None,
             decorate: Callable | None = None, templates: dict | None = None,
             row_html: Callable | None = None) -> None:
    unknown = set(templates or {}) - set(SLOTS)
    if unknown:
        raise ValueError(f"unknown list slots: {sorted(unknown)}")
    if row_html is not None and "row" not in (templates or {}):
        raise ValueError("row_html renders the row template: register templates={'row': ...} too")
    _extensions[key] = ListExtension(key, context, saved_filter, decorate, dict(templates or {}), row_html)


def unregister(key: str) -> None:
    _extensions.pop(key, None)


def _all() -> list[ListExtension]:
    return [_extensions[k] for k in sorted(_extensions)]


def saved_filter(user, params):
    """(values, saved) of the saved filter the query string names, else (None, None)."""
    for ext in _all():
        if ext.saved_filter is not None:
            values, saved = ext.saved_filter(user, params)
            if saved is not None:
                return values, saved
    return None, None


def context(request) -> dict:
    out: dict = {}
    for ext in _all():
        if ext.context is not None:
            out.update(ext.context(request))
    return out


def decorate(items: list) -> list:
    for ext in _all():
        if ext.decorate is not None:
            ext.decorate(items)
    return items


def list_slots() -> dict[str, list[str]]:
    return {slot: [ext.templates[slot] for ext in _all() if slot in ext.templates] for slot in SLOTS}


def row_renderer(template_name: str) -> Callable | None:
    """The Python twin (`row_html`) registered with this row template, if any."""
    for ext in _all():
        if ext.row_html is not None and ext.templates.get("row") == template_name:
            return ext.row_html
    return None
