"""Reading a year's holidays and adjusted working days from a small CSV or .xlsx file (the holiday editor's
import). Each row holds a date — a date cell, an Excel serial number, or text such as 2027-10-01,
2027/10/1 or 2027年10月1日 — and optionally a word saying what it is: 班 / 上班 / work(ing) day makes it an
extra working day (调休), anything else (休, 假, 节日, holiday…) a holiday. Rows without a date (titles,
headers, notes) are skipped; a date that cannot exist (2027-02-30) is refused naming its row.

Files are small: at most MAX_BYTES, MAX_ROWS rows; an .xlsx is opened read-only without evaluating
formulas and refused when it expands suspiciously (a zip bomb)."""

import csv
import io
import re
import unicodedata
import zipfile
from datetime import date, datetime, timedelta

from django.utils.translation import gettext as _

from closeloop.core.errors import FieldProblem, ValidationFailed

MAX_BYTES = 1024 * 1024
MAX_UNPACKED = 20 * 1024 * 1024
MAX_ROWS = 2000
DATE_RE = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*$")
WORKDAY_WORDS = ("班", "上班", "补班", "调休上班", "workday", "working day", "work day", "work")
EXCEL_EPOCH = date(1899, 12, 30)


def _refuse(message: str, row: int | None = None) -> ValidationFailed:
    if row is not None:
        message = _("Row %(row)d: %(problem)s") % {"row": row, "problem": message}
    return ValidationFailed(FieldProblem("file", message))


def _cell_date(value, row: int) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 20000 <= value <= 80000:  # an Excel serial number (1954 … 2119)
            return EXCEL_EPOCH + timedelta(days=int(value))
        return None
    text = unicodedata.normalize("NFKC", str(value or "")).strip()
    if text.isdigit() and 20000 <= int(text) <= 80000:  # a serial number stored as text
        return EXCEL_EPOCH + timedelta(days=int(text))
    m = DATE_RE.match(text)
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise _refuse(_("%(v)s is not a date.") % {"v": text[:40]}, row) from None


def _is_workday(cells: list) -> bool:
    words = " ".join(unicodedata.normalize("NFKC", str(c)).strip().lower() for c in cells
                     if isinstance(c, str))
    if not words:
        return False
    if any(w in words for w in ("休", "假", "节", "holiday", "off")) and "班" not in words:
        return False
    return any(w in words for w in WORKDAY_WORDS)


def _xlsx_rows(data: bytes):
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise _refuse(_("Not an .xlsx file."))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            if sum(i.file_size for i in z.infolist()) > MAX_UNPACKED:
                raise _refuse(_("The file expands far more than a holiday list does."))
    except zipfile.BadZipFile:
        raise _refuse(_("Not an .xlsx file.")) from None
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - any parser failure is a bad file for the user
        raise _refuse(_("The .xlsx file could not be read.")) from None
    try:
        ws = wb.worksheets[0]
        for row in ws.iter_rows(values_only=True, max_row=MAX_ROWS + 1):
            yield list(row)
    finally:
        wb.close()


def _csv_rows(data: bytes):
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise _refuse(_("The CSV file is neither UTF-8 nor GB18030 text."))
    yield from csv.reader(io.StringIO(text))


def parse(data: bytes, filename: str) -> tuple[list[str], list[str]]:
    """(holidays, workdays) as sorted ISO dates, or ValidationFailed naming `file` (and the row)."""
    if len(data) > MAX_BYTES:
        raise _refuse(_("The file is larger than %(n)d KB.") % {"n": MAX_BYTES // 1024})
    name = (filename or "").lower()
    if name.endswith(".xlsx"):
        rows = _xlsx_rows(data)
    elif name.endswith((".csv", ".txt")):
        rows = _csv_rows(data)
    else:
        raise _refuse(_("Upload a .csv or .xlsx file."))
    holidays, workdays = set(), set()
    for i, cells in enumerate(rows, start=1):
        if i > MAX_ROWS:
            raise _refuse(_("More than %(n)d rows.") % {"n": MAX_ROWS})
        cells = [c for c in cells if c is not None and str(c).strip() != ""]
        found = None
        rest = []
        for c in cells:
            d = _cell_date(c, i) if found is None else None
            if d is not None:
                found = d
            else:
                rest.append(c)
        if found is None:
            continue
        (workdays if _is_workday(rest) else holidays).add(found.isoformat())
    both = holidays & workdays
    if both:
        raise _refuse(_("Both a holiday and a working day: %(d)s.") % {"d": ", ".join(sorted(both))})
    if not holidays and not workdays:
        raise _refuse(_("No dates found: each row needs a date such as 2027-10-01."))
    return sorted(holidays), sorted(workdays)
