"""Reading uploaded ledgers safely, one row at a time.

`check(data, filename)` refuses what must not be parsed (too large, not a spreadsheet, a zip
bomb, XML entity declarations); `sheets(...)` lists the sheets with their first rows (for
choosing the sheet and the header row); `rows(...)` streams the cells of one sheet as
text. Formulas are never evaluated: their cached value is read.

Two readers, one result: python-calamine (Rust) reads a sheet part of up to
LEDGERS_FAST_READ_MAX_BYTES unpacked (64 MB by default, a few hundred thousand rows) several
times faster than Python parses XML, holding that one sheet's cells in memory; a larger
sheet is streamed by openpyxl in read-only mode, one row at a time, so memory stays flat
whatever the file. The same choice is made for the header scan (`sheets`).
"""

import codecs
import csv
import io
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time

from django.conf import settings
from django.utils.translation import gettext as _

#: How many rows at the top of a sheet are searched for the header row (title rows,
#: merged banners and blank lines come first in real ledgers).
HEADER_SCAN = 20


class FileRefused(Exception):
    """The file cannot be read; the message says why, for the person who uploaded it."""


def max_upload() -> int:
    return int(getattr(settings, "LEDGERS_MAX_UPLOAD_BYTES", 20 * 1024 * 1024))


def max_uncompressed() -> int:
    return int(getattr(settings, "LEDGERS_MAX_UNCOMPRESSED_BYTES", 400 * 1024 * 1024))


def max_ratio() -> int:
    return int(getattr(settings, "LEDGERS_MAX_COMPRESSION_RATIO", 200))


def fast_read_max() -> int:
    return int(getattr(settings, "LEDGERS_FAST_READ_MAX_BYTES", 64 * 1024 * 1024))


def file_format(filename: str) -> str:
    name = (filename or "").lower()
    if name.endswith(".xlsx") or name.endswith(".xlsm"):
        return "xlsx"
    if name.endswith(".csv") or name.endswith(".txt"):
        return "csv"
    raise FileRefused(_("Only .xlsx and .csv files can be imported (old .xls files: save them as .xlsx first)."))


def check(data: bytes, filename: str) -> str:
    """Refuse before parsing; returns the format ("xlsx" or "csv")."""
    fmt = file_format(filename)
    if not data:
        raise FileRefused(_("The file is empty."))
    if len(data) > max_upload():
        raise FileRefused(_("The file is too large (%(size)d MB; at most %(max)d MB).")
                          % {"size": len(data) // (1024 * 1024), "max": max_upload() // (1024 * 1024)})
    if fmt == "xlsx":
        _check_zip(data)
    return fmt


def _check_zip(data: bytes) -> None:
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise FileRefused(_("This is not a valid .xlsx file (it may be damaged, or an .xls renamed)."))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
            if len(infos) > 10_000:
                raise FileRefused(_("The .xlsx file has too many parts to be a ledger."))
            total = 0
            for info in infos:
                total += info.file_size
                if info.file_size > 1024 * 1024 and info.file_size > max_ratio() * max(info.compress_size, 1):
                    raise FileRefused(_("The .xlsx file expands far more than a spreadsheet does (a zip bomb?)."))
            if total > max_uncompressed():
                raise FileRefused(_("The .xlsx file is too large once unpacked (%(size)d MB; at most %(max)d MB).")
                                  % {"size": total // (1024 * 1024), "max": max_uncompressed() // (1024 * 1024)})
            names = {i.filename for i in infos}
            if "xl/workbook.xml" not in names:
                raise FileRefused(_("This is not a valid .xlsx file (no workbook inside)."))
            for info in infos:
                if info.filename.endswith(".xml") or info.filename.endswith(".rels"):
                    with z.open(info) as f:
                        head = f.read(4096)
                    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
                        raise FileRefused(_("The .xlsx file declares XML entities; it is refused."))
    except zipfile.BadZipFile:
        raise FileRefused(_("This is not a valid .xlsx file (it may be damaged, or an .xls renamed)."))


# ---- cells -------------------------------------------------------------------------

def clean(value) -> str:
    """A cell as text: full-width letters, digits and spaces made half-width (NFKC), spaces
    trimmed, whole numbers without ".0", dates as YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time.min else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, int):
        return str(value)
    s = unicodedata.normalize("NFKC", str(value))
    return " ".join(s.split()) if "\n" not in s else s.strip()


# ---- sheets ------------------------------------------------------------------------

@dataclass
class SheetInfo:
    name: str
    top: list[list[str]] = field(default_factory=list)  # the first HEADER_SCAN rows, cleaned


def _open_xlsx(data: bytes):
    import openpyxl

    try:
        return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except FileRefused:
        raise
    except Exception as e:  # openpyxl raises many kinds on a damaged file
        raise FileRefused(_("The .xlsx file could not be read: %(e)s") % {"e": str(e)[:200] or type(e).__name__})


def _decode_csv(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8")
    for enc in ("utf-8", "gb18030"):  # Excel in China saves CSV as GBK
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise FileRefused(_("The CSV file is neither UTF-8 nor GBK text."))


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    text = _decode_csv(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        for r in csv.reader(io.StringIO(text), dialect):
            yield [clean(c) for c in r]
    except csv.Error as e:
        raise FileRefused(_("The CSV file could not be read: %(e)s") % {"e": e})


def sheets(data: bytes, fmt: str) -> list[SheetInfo]:
    if fmt == "csv":
        top = []
        for r in _csv_rows(data):
            top.append(r)
            if len(top) >= HEADER_SCAN:
                break
        return [SheetInfo("CSV", top)]
    if _largest_sheet_part(data) <= fast_read_max():
        return _calamine_sheets(data)
    wb = _open_xlsx(data)
    try:
        out = []
        for ws in wb.worksheets:
            info = SheetInfo(ws.title)
            try:
                for r in ws.iter_rows(values_only=True, max_row=HEADER_SCAN):
                    info.top.append([clean(c) for c in r])
            except Exception as e:
                raise FileRefused(_("Sheet %(s)s could not be read: %(e)s") % {"s": ws.title, "e": str(e)[:200]})
            out.append(info)
        return out
    finally:
        wb.close()


def rows(data: bytes, fmt: str, sheet: str, start_row: int) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) from `start_row` on (1-based, as the spreadsheet numbers rows),
    skipping blank rows. A generator: one row in memory at a time."""
    if fmt == "csv":
        for n, r in enumerate(_csv_rows(data), start=1):
            if n >= start_row and any(r):
                yield n, r
        return
    if _largest_sheet_part(data) <= fast_read_max():
        yield from _calamine_rows(data, sheet, start_row)
        return
    wb = _open_xlsx(data)
    try:
        if sheet not in wb.sheetnames:
            raise FileRefused(_("The file has no sheet named %(s)s.") % {"s": sheet})
        ws = wb[sheet]
        try:
            for n, r in enumerate(ws.iter_rows(values_only=True, min_row=start_row), start=start_row):
                cells = [clean(c) for c in r]
                if any(cells):
                    yield n, cells
        except FileRefused:
            raise
        except Exception as e:
            raise FileRefused(_("Sheet %(s)s could not be read: %(e)s") % {"s": sheet, "e": str(e)[:200]})
    finally:
        wb.close()


def _largest_sheet_part(data: bytes) -> int:
    """The unpacked size of the largest worksheet part (check() has refused bombs already)."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return max((i.file_size for i in z.infolist() if i.filename.startswith("xl/worksheets/")), default=0)


def _calamine_sheets(data: bytes) -> list[SheetInfo]:
    """As sheets(), read by python-calamine (worksheets only, in workbook order)."""
    from python_calamine import SheetTypeEnum

    out = []
    with _calamine_book(data) as wb:
        for meta in wb.sheets_metadata:
            if meta.typ != SheetTypeEnum.WorkSheet:
                continue
            out.append(SheetInfo(meta.name, [cells for _n, cells in _calamine_sheet_rows(wb, meta.name, 1,
                                                                                       HEADER_SCAN, blanks=True)]))
    return out


class _calamine_book:
    def __init__(self, data: bytes):
        from python_calamine import CalamineWorkbook

        try:
            self.wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
        except Exception as e:  # the Rust reader raises its own kinds on a damaged file
            raise FileRefused(_("The .xlsx file could not be read: %(e)s") % {"e": str(e)[:200] or type(e).__name__})

    def __enter__(self):
        return self.wb

    def __exit__(self, *exc):
        self.wb.close()


def _calamine_sheet_rows(wb, sheet: str, start_row: int, last_row: int | None = None,
                         blanks: bool = False) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) of one sheet. calamine's rows start at the sheet's first row but
    its columns at the first column holding data: they are padded back, so both readers give
    the same cells (a test holds them to it)."""
    from python_calamine import CalamineError, WorksheetNotFound

    try:
        ws = wb.get_sheet_by_name(sheet)
    except WorksheetNotFound:
        raise FileRefused(_("The file has no sheet named %(s)s.") % {"s": sheet})
    except CalamineError as e:
        raise FileRefused(_("Sheet %(s)s could not be read: %(e)s") % {"s": sheet, "e": str(e)[:200]})
    if ws.start is None:  # no cell holds data
        return
    pad = [""] * ws.start[1]
    for n, r in enumerate(ws.iter_rows(), start=1):
        if last_row is not None and n > last_row:
            return
        if n < start_row:
            continue
        cells = [clean(c) for c in r]
        if blanks or any(cells):
            yield n, pad + cells if pad else cells


def _calamine_rows(data: bytes, sheet: str, start_row: int) -> Iterator[tuple[int, list[str]]]:
    """As rows(), read by python-calamine."""
    with _calamine_book(data) as wb:
        yield from _calamine_sheet_rows(wb, sheet, start_row)
