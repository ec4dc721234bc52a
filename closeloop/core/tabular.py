"""Tables as files: CSV (streamed) and .xlsx (openpyxl, write-only, via a temporary file).

Shared by the apps that export (ledgers' lists, analytics' charts). Text that a spreadsheet
would run as a formula is prefixed with a quote (`safe`); callers pass rows through it.
"""

import csv
import tempfile

from django.http import FileResponse, StreamingHttpResponse

from closeloop.core.clock import now

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe(value) -> str:
    s = "" if value is None else str(value)
    return "'" + s if s.startswith(FORMULA_START) else s


class _Echo:
    def write(self, value):
        return value


def csv_response(kind: str, header, rows) -> StreamingHttpResponse:
    w = csv.writer(_Echo())

    def lines():
        yield "\ufeff" + w.writerow(header)
        for r in rows:
            yield w.writerow(r)

    resp = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = f'attachment; filename="{kind}-{now():%Y%m%d-%H%M}.csv"'
    resp["Cache-Control"] = "no-store"
    return resp


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def write_xlsx(header, rows, title: str):
    """A temporary file holding the workbook (openpyxl write-only: rows go to disk as written)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=title[:31])
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    cells = []
    for h in header:
        c = WriteOnlyCell(ws, value=str(h))
        c.font = bold
        cells.append(c)
    ws.append(cells)
    for r in rows:
        ws.append(r)
    f = tempfile.TemporaryFile()
    wb.save(f)
    f.seek(0)
    return f


def xlsx_response(kind: str, header, rows) -> FileResponse:
    f = write_xlsx(header, rows, kind)
    resp = FileResponse(f, content_type=XLSX_TYPE, as_attachment=True,
                        filename=f"{kind}-{now():%Y%m%d-%H%M}.xlsx")
    resp["Cache-Control"] = "no-store"
    return resp
