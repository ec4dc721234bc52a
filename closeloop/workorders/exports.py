"""CSV export of a work order list: the same filters and the same visibility as the list
(a customer exports only its organisation's work orders, an engineer only their team's).

Rows are read in id-ordered chunks and streamed, so a large export holds one chunk in
memory. Cells that a spreadsheet would run as a formula are prefixed with a quote."""

import csv
from collections.abc import Iterator

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from . import selectors
from .lifecycle import STATE_LABELS

CHUNK = 1000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def max_rows() -> int:
    return int(getattr(settings, "EXPORT_MAX_ROWS", 50_000))


def _cell(value) -> str:
    s = "" if value is None else str(value)
    return "'" + s if s.startswith(FORMULA_START) else s


def _when(dt) -> str:
    return timezone.localtime(dt).strftime("%Y-%m-%d %H:%M") if dt else ""


class _Echo:
    def write(self, value):
        return value


def header() -> list[str]:
    return [_("Code"), _("Title"), _("Status"), _("Priority"), _("Type"), _("Customer"), _("Site"),
            _("Asset serial number"), _("Fault code"), _("Team"), _("Assignee"), _("Created"), _("Updated"),
            _("Closed")]


def rows(user, f) -> Iterator[list[str]]:
    qs = selectors.filter_work_orders(user, f).select_related(*selectors.LIST_RELATED).order_by("-id")
    last, left = None, max_rows()
    while left > 0:
        chunk = list((qs.filter(id__lt=last) if last else qs)[: min(CHUNK, left)])
        if not chunk:
            return
        for wo in chunk:
            yield [_cell(v) for v in (
                wo.code, wo.title, STATE_LABELS.get(wo.status, wo.status), wo.get_priority_display(),
                wo.wo_type.name, wo.customer.name if wo.customer_id else "", wo.site.name if wo.site_id else "",
                wo.asset.serial_number if wo.asset_id else "", wo.fault_code, wo.team.name if wo.team_id else "",
                (wo.assignee.get_full_name() or wo.assignee.username) if wo.assignee_id else "",
                _when(wo.created_at), _when(wo.updated_at), _when(wo.closed_at))]
        last, left = chunk[-1].id, left - len(chunk)


def stream(user, f) -> Iterator[str]:
    """The CSV text, a line at a time, starting with a UTF-8 BOM so spreadsheet programs
    read the Chinese text right."""
    w = csv.writer(_Echo())
    yield "\ufeff" + w.writerow(header())
    for r in rows(user, f):
        yield w.writerow(r)
