"""xlsx.py reads a workbook's cells as openpyxl's read-only reader does, part by part."""

from __future__ import annotations

import datetime
import io
import zipfile
from typing import Any
from xml.parsers import expat

import openpyxl
import pytest
from openpyxl.chart import BarChart, Reference
from openpyxl.utils.datetime import CALENDAR_MAC_1904

from chalicelib.orders.readers.budget import Meter
from chalicelib.orders.readers.xlsx import UNCALCULATED, Damaged, Package
from tests.unit.readers.bombs import MAIN


def openpyxl_rows(data: bytes, title: str) -> list[tuple[int, list[tuple[int, Any]]]]:
    """What openpyxl's read-only reader finds: (row, [(column, value)]) of the cells not None."""
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    sheet: Any = book[title]
    sheet.reset_dimensions()
    found = []
    for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
        present = [(index, value) for index, value in enumerate(cells) if value is not None]
        if present:
            found.append((number, present))
    book.close()
    return found


def our_rows(data: bytes, title: str) -> list[tuple[int, list[tuple[int, Any]]]]:
    package = Package(io.BytesIO(data), Meter())
    (sheet,) = [sheet for sheet in package.sheets if sheet.title == title]
    rows = list(package.rows(sheet, package.shared_strings(sheet)))
    package.close()
    return rows


def saved(book: openpyxl.Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_every_kind_of_value_openpyxl_writes_reads_the_same():
    book = openpyxl.Workbook()
    sheet: Any = book.active
    sheet.title = "Values"
    sheet.append(["text", "ünïcødé ✓", "  spaced  ", "", "x005F_x"])
    sheet.append([1, -2, 3.5, 1e20, 2**53 + 1.0, 0.1 + 0.2, 12345678901234567890.0])
    sheet.append([True, False, None, "=SUM(A2:B2)"])
    sheet.append([datetime.datetime(2024, 5, 1, 8, 30), datetime.date(2024, 5, 1)])
    sheet.append([datetime.time(8, 30), datetime.timedelta(hours=30, minutes=5)])
    sheet["E4"].number_format = "dd/mm/yyyy hh:mm"
    sheet["Z9"] = "far"
    sheet.cell(row=12, column=3, value="after a gap")
    data = saved(book)

    # the one difference: openpyxl reads a formula saved without its value (as openpyxl saves
    # one) as an empty cell, and the reader tells it apart, to refuse its row with a hint
    ours = our_rows(data, "Values")
    assert ours[2] == (3, [(0, True), (1, False), (3, UNCALCULATED)])
    without = [(n, [(c, v) for c, v in cells if v is not UNCALCULATED]) for n, cells in ours]
    assert without == openpyxl_rows(data, "Values")


def test_the_1904_date_system_is_read():
    book = openpyxl.Workbook()
    book.epoch = CALENDAR_MAC_1904
    sheet: Any = book.active
    sheet.append([datetime.datetime(2024, 5, 1), datetime.date(1999, 12, 31)])
    data = saved(book)

    assert our_rows(data, sheet.title) == openpyxl_rows(data, sheet.title)
    assert our_rows(data, sheet.title)[0][1][0][1] == datetime.datetime(2024, 5, 1)


def with_sheet(rows_xml: str) -> bytes:
    """An openpyxl workbook (with a date style: s="1") whose sheet's XML is `rows_xml`."""
    book = openpyxl.Workbook()
    sheet: Any = book.active
    sheet["A1"] = datetime.date(2024, 1, 1)
    base = zipfile.ZipFile(io.BytesIO(saved(book)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in base.namelist():
            data = base.read(name)
            if name == "xl/worksheets/sheet1.xml":
                sheet_xml = (
                    f'<worksheet xmlns="{MAIN}"><sheetData>{rows_xml}</sheetData></worksheet>'
                )
                data = sheet_xml.encode()
            target.writestr(name, data)
    return out.getvalue()


def test_what_excel_writes_beyond_openpyxl_reads_the_same():
    rows = (
        # inline strings, rich text runs, a phonetic run left out, a formula's text and value
        '<row r="1"><c r="A1" t="inlineStr"><is><t>plain</t></is></c>'
        '<c r="B1" t="inlineStr"><is><r><rPr><b/></rPr><t>bo</t></r><r><t xml:space="preserve">'
        ' ld</t></r><rPh sb="0" eb="1"><t>yomi</t></rPh></is></c>'
        '<c r="C1" t="str"><f>A1&amp;"!"</f><v>plain!</v></c>'
        '<c r="D1"><f>1+1</f><v>2</v></c><c r="E1" t="e"><f>1/0</f><v>#DIV/0!</v></c>'
        '<c r="F1" t="b"><v>1</v></c><c r="G1" t="d"><v>2024-05-01T08:30:00</v></c></row>'
        # cells and rows without references, a date-styled number, an exponent, empty values
        '<row><c><v>1.5E3</v></c><c s="1"><v>45413</v></c><c/><c t="s"><v></v></c>'
        '<c t="inlineStr"><is/></c><c><v>7</v></c></row>'
        # a row out of order is skipped, as openpyxl skips it
        '<row r="5"><c r="A5"><v>5</v></c></row><row r="4"><c r="A4"><v>4</v></c></row>'
        '<row r="6"><c r="B6"><v>6</v></c><c r="xfd6"><v>16384</v></c></row>'
    )
    data = with_sheet(rows)

    ours = our_rows(data, "Sheet")

    assert ours == openpyxl_rows(data, "Sheet")
    assert ours[0][1][1] == (1, "bo ld")
    assert ours[-1] == (6, [(1, 6), (16383, 16384)])


@pytest.mark.parametrize(
    "rows",
    [
        '<row r="1"><c r="A1" t="s"><v>0</v></c></row>',  # no shared strings at all
        '<row r="1"><c r="A1"><v>abc</v></c></row>',  # not a number
        '<row r="1"><c r="A1" t="b"><v>yes</v></c></row>',
        '<row r="x"><c r="A1"><v>1</v></c></row>',
        '<row r="1"><c r="ZZZZ1"><v>1</v></c></row>',  # past column XFD
        '<row r="1"><c r="A1"><v>1</v></c>',  # never closed
    ],
)
def test_what_openpyxl_cannot_read_is_damaged(rows: str):
    data = with_sheet(rows)

    with pytest.raises((Damaged, ValueError, IndexError, expat.ExpatError)):
        our_rows(data, "Sheet")
    with pytest.raises(Exception):  # noqa: B017, PT011 - openpyxl's own errors vary
        openpyxl_rows(data, "Sheet")


def test_sheets_their_states_and_order_are_openpyxls_and_chart_sheets_are_left_out():
    book = openpyxl.Workbook()
    first: Any = book.active
    first.title = "Hidden"
    first.sheet_state = "hidden"
    second: Any = book.create_sheet("Orders")
    second.append([1, 2])
    chart = BarChart()
    chart.add_data(Reference(second, min_col=1, max_col=2, min_row=1, max_row=1))
    book.create_chartsheet("Chart").add_chart(chart)
    book.create_sheet("Very").sheet_state = "veryHidden"
    data = saved(book)

    package = Package(io.BytesIO(data), Meter())
    reference = openpyxl.load_workbook(io.BytesIO(data), read_only=True)

    assert [(sheet.title, sheet.sheet_state) for sheet in package.sheets] == [
        (sheet.title, sheet.sheet_state) for sheet in reference.worksheets
    ]
    assert [sheet.title for sheet in package.sheets] == ["Hidden", "Orders", "Very"]


def test_a_document_type_declaration_is_refused():
    data = with_sheet("")
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w") as target,
    ):
        for name in source.namelist():
            part = source.read(name)
            if name == "xl/worksheets/sheet1.xml":
                part = b'<!DOCTYPE w [<!ENTITY a "aaaaaaaaaa">]>' + part
            target.writestr(name, part)

    with pytest.raises(Damaged):
        our_rows(out.getvalue(), "Sheet")
