"""Reading recipients files: encodings, delimiters, XLSX, and every bound."""

import io
import zipfile

import openpyxl
import pytest

from bulk.parsing import MAX_ROWS, BulkFileError, read_table
from tests.bulk.conftest import csv_bytes


def _code(name: str, data: bytes) -> str:
    with pytest.raises(BulkFileError) as info:
        read_table(name=name, data=data)
    return info.value.code


def test_it_reads_utf8_with_bom_and_semicolons() -> None:
    data = b"\xef\xbb\xbf" + csv_bytes(
        [["Nom", "Email"], ["Zoé Lefèvre", "z@example.com"]], delimiter=";"
    )
    table = read_table(name="r.csv", data=data)
    assert table.header == ["Nom", "Email"]
    assert table.rows == [(2, ["Zoé Lefèvre", "z@example.com"])]


def test_it_reads_latin1_and_tabs() -> None:
    data = csv_bytes(
        [["Nom", "Email"], ["Hélène Çava", "h@example.com"]], delimiter="\t", encoding="latin-1"
    )
    table = read_table(name="r.csv", data=data)
    assert table.rows[0][1][0] == "Hélène Çava"


def test_line_numbers_count_blank_lines() -> None:
    data = b"name,email\n\nA,a@example.com\n"
    assert read_table(name="r.csv", data=data).rows == [(3, ["A", "a@example.com"])]


def test_it_reads_xlsx_values_not_formulas() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["name", "phone", "email"])
    sheet.append(['=HYPERLINK("http://evil")', 33612345678, "x@example.com"])
    out = io.BytesIO()
    book.save(out)
    table = read_table(name="r.xlsx", data=out.getvalue())
    # Only a formula's cached value is read, never the formula: none was cached here.
    assert table.rows[0][1][0] == ""
    assert table.rows[0][1][1] == "33612345678"


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("r.csv", b"", "empty_file"),
        ("r.csv", b"name,email\n", "no_rows"),
        ("r.pdf", b"%PDF-1.7 ...", "wrong_type"),
        ("r.csv", b"\x00\x01\x02binary", "wrong_type"),
        ("r.csv", b"PK\x03\x04not a zip", "wrong_type"),
        ("r.xlsx", b"PK\x03\x04not a zip", "wrong_type"),
        ("r.csv", b"x" * (5 * 1024 * 1024 + 1), "file_too_large"),
        ("r.csv", (b"a," * 60 + b"\n") + b"a\n", "too_many_columns"),
    ],
)
def test_it_refuses_bad_files(name: str, data: bytes, code: str) -> None:
    assert _code(name, data) == code


def test_it_accepts_ten_thousand_rows_and_refuses_one_more() -> None:
    rows = [["name", "email"]] + [[f"n{i}", f"n{i}@example.com"] for i in range(MAX_ROWS)]
    assert len(read_table(name="r.csv", data=csv_bytes(rows)).rows) == MAX_ROWS
    rows.append(["one", "more@example.com"])
    assert _code("r.csv", csv_bytes(rows)) == "too_many_rows"


def test_it_refuses_a_zip_bomb_before_inflating_it() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (60 * 1024 * 1024))
    assert _code("r.xlsx", out.getvalue()) == "bad_xlsx"


def test_it_refuses_a_sheet_announcing_a_million_rows() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["name"])
    sheet.cell(row=1_000_000, column=1, value="x")
    out = io.BytesIO()
    book.save(out)
    assert _code("r.xlsx", out.getvalue()) == "too_many_rows"
