"""Reading a recipients file (CSV or XLSX) into a header and rows of text, within bounds.

Everything here distrusts the file: its size is capped before reading; an XLSX is a zip whose
declared sizes are checked before anything is inflated (zip bombs), its XML is parsed by
openpyxl through defusedxml (no entity expansion) in read-only, streamed mode with cached
values only (formulas are never evaluated: a cell holding "=1+1" without a cached value is
read as its text); a sheet announcing more rows or columns than allowed is refused before its
rows are read. A CSV's encoding is UTF-8 (with or without BOM), else Latin-1 (Windows-1252),
and its delimiter is sniffed among , ; tab and |.

Errors are `BulkFileError` with a stable code and a translated message.
"""

import csv
import datetime
import io
import zipfile
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from signflow.errors import SignFlowError
from signflow.text import clean_text

MAX_FILE_BYTES = 5 * 1024 * 1024
# At least 5 000 recipients per batch (peers stop at 100-250); beyond 10 000, split the file.
MAX_ROWS = 10_000
MAX_LINES = 3 * MAX_ROWS  # blank lines included
MAX_COLUMNS = 50
MAX_CELL_CHARS = 1_000
# An XLSX of 10 000 short rows inflates to a few MB; a zip announcing more is refused.
MAX_XLSX_INFLATED_BYTES = 50 * 1024 * 1024
MAX_XLSX_RATIO = 200
SNIFF_BYTES = 64 * 1024


class BulkFileError(SignFlowError):
    default_code = "bad_file"


@dataclass
class Table:
    header: list[str]
    rows: list[tuple[int, list[str]]]  # (line number in the file, cells)


def check_size(size: int) -> None:
    if size > MAX_FILE_BYTES:
        raise BulkFileError(
            "file_too_large",
            _("The file is larger than %(size)s MB.") % {"size": MAX_FILE_BYTES // (1024 * 1024)},
        )


def read_table(*, name: str, data: bytes) -> Table:
    """The header (first non-empty row) and the data rows with their line numbers."""
    if not data:
        raise BulkFileError("empty_file", _("The file is empty."))
    check_size(len(data))
    lower = name.lower()
    if data[:4] == b"PK\x03\x04":
        if not lower.endswith((".xlsx", ".xlsm")):
            raise BulkFileError("wrong_type", _("Upload a CSV or XLSX file."))
        raw = _xlsx_rows(data)
    elif lower.endswith((".csv", ".txt")):
        raw = _csv_rows(data)
    else:
        raise BulkFileError("wrong_type", _("Upload a CSV or XLSX file."))
    return _table(raw)


def _too_many_rows() -> BulkFileError:
    return BulkFileError(
        "too_many_rows",
        _("The file has more than %(max)s recipients: split it into several batches.")
        % {"max": MAX_ROWS},
    )


def _table(raw: Any) -> Table:
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    for line, raw_cells in raw:
        if line > MAX_LINES:
            # Blank lines are skipped, not counted: a million of them is still refused.
            raise _too_many_rows()
        cells = [_cell(value) for value in raw_cells[: MAX_COLUMNS + 1]]
        while cells and not cells[-1]:
            cells.pop()
        if len(cells) > MAX_COLUMNS:
            raise BulkFileError(
                "too_many_columns",
                _("Line %(line)s has more than %(max)s columns.")
                % {"line": line, "max": MAX_COLUMNS},
            )
        if not cells:
            continue  # blank lines are no recipients
        if header is None:
            header = cells
            continue
        if len(rows) >= MAX_ROWS:
            raise _too_many_rows()
        rows.append((line, cells))
    if header is None or not rows:
        raise BulkFileError(
            "no_rows", _("The file needs a header line and at least one recipient below it.")
        )
    return Table(header=header, rows=rows)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "1" if value else "0"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))  # a spreadsheet's 33612345678.0 is a phone number
    elif isinstance(value, datetime.datetime):
        text = value.date().isoformat() if value.time() == datetime.time() else value.isoformat()
    elif isinstance(value, datetime.date):
        text = value.isoformat()
    elif isinstance(value, Decimal | int | float):
        text = str(value)
    else:
        text = str(value)
    if len(text) > MAX_CELL_CHARS:
        text = text[:MAX_CELL_CHARS]
    return clean_text(text.strip())


# ---------------------------------------------------------------------------------------------
# CSV


def decode(data: bytes) -> str:
    """UTF-8 (a BOM is dropped), else Windows-1252 (Latin-1 as Excel writes it), else Latin-1."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _csv_rows(data: bytes) -> Any:
    if b"\x00" in data[:SNIFF_BYTES]:
        raise BulkFileError("wrong_type", _("Upload a CSV or XLSX file."))
    text = decode(data)
    sample = text[:SNIFF_BYTES]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        for cells in reader:
            yield reader.line_num, cells
    except csv.Error as exc:
        raise BulkFileError(
            "bad_csv",
            _("The CSV file cannot be read near line %(line)s.") % {"line": reader.line_num},
        ) from exc


# ---------------------------------------------------------------------------------------------
# XLSX


def _check_zip(data: bytes) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise BulkFileError("wrong_type", _("Upload a CSV or XLSX file.")) from exc
    with archive:
        members = archive.infolist()
        if len(members) > 1000:
            raise BulkFileError("bad_xlsx", _("This spreadsheet is too large or damaged."))
        inflated = sum(member.file_size for member in members)
        compressed = sum(member.compress_size for member in members) or 1
        if inflated > MAX_XLSX_INFLATED_BYTES or inflated / compressed > MAX_XLSX_RATIO:
            raise BulkFileError("bad_xlsx", _("This spreadsheet is too large or damaged."))


def _xlsx_rows(data: bytes) -> Any:
    import openpyxl  # imported here: only a spreadsheet upload pays for it

    _check_zip(data)
    try:
        book = openpyxl.load_workbook(
            io.BytesIO(data), read_only=True, data_only=True, keep_links=False
        )
    except Exception as exc:  # openpyxl raises many kinds for a damaged or foreign file
        raise BulkFileError("bad_xlsx", _("This spreadsheet cannot be read.")) from exc
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            raise BulkFileError("no_rows", _("The spreadsheet has no sheet."))
        # The announced size (the <dimension> element): a sheet claiming a million rows is
        # refused before a single row is read. Rows beyond it are still counted below.
        max_row = getattr(sheet, "max_row", None) or 0
        max_column = getattr(sheet, "max_column", None) or 0
        if max_row > MAX_ROWS + 50:
            raise _too_many_rows()
        if max_column > MAX_COLUMNS:
            raise BulkFileError(
                "too_many_columns",
                _("The spreadsheet has more than %(max)s columns.") % {"max": MAX_COLUMNS},
            )
        try:
            for index, values in enumerate(
                sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS + 1), start=1
            ):
                yield index, list(values)
        except BulkFileError:
            raise
        except Exception as exc:  # a damaged sheet part
            raise BulkFileError("bad_xlsx", _("This spreadsheet cannot be read.")) from exc
    finally:
        book.close()
