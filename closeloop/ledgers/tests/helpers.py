"""Spreadsheets made in the tests (openpyxl), as messy as real ledgers."""

import io

from openpyxl import Workbook


def xlsx(rows, *, title_rows=(), sheet="台账", first_sheet=None, merge=None) -> bytes:
    wb = Workbook()
    ws = wb.active
    if first_sheet is not None:
        ws.title = first_sheet
        ws.append(["说明", "本表由系统导出"])
        ws = wb.create_sheet(sheet)
    else:
        ws.title = sheet
    for t in title_rows:
        ws.append(list(t))
    for r in rows:
        ws.append(list(r))
    if merge:
        ws.merge_cells(merge)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def csv_bytes(rows, encoding="utf-8-sig") -> bytes:
    import csv

    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode(encoding)
