"""The registry of the codes a file, a row of it or a column mapping can be refused with.

Each code maps to its one-line meaning; README's tables of error codes document every one
(`tests/unit/test_docs.py` compares the two both ways). Order codes live beside the rules that
raise them (`validation.ORDER_ERROR_CODES`), store codes beside the store
(`pipeline.process.STORE_ERROR_CODES`); the codes here are the files' own, whoever raises them.
"""

from __future__ import annotations

from typing import Final

__all__ = ["ALL_CODES", "FILE_ERROR_CODES", "MAPPING_ERROR_CODES", "ROW_ERROR_CODES"]

#: A file that cannot be read at all: it is quarantined with one of these.
FILE_ERROR_CODES: Final[dict[str, str]] = {
    "file.empty": "The file contains no orders: it is empty, holds only whitespace, or has an "
    "empty order list (JSON), only a header row (CSV, spreadsheet) or only blank lines.",
    "file.encoding": "The file is neither UTF-8 nor UTF-16 with a byte-order mark (for example "
    "UTF-16 without a byte-order mark, or UTF-8 mixed with another encoding), and for a CSV not "
    "Windows-1252 text either, or not the encoding its mapping names.",
    "file.gzip": "The file starts like gzip data but the compressed stream is corrupt or "
    "truncated.",
    "file.invalid_json": "The JSON document or array is not valid JSON (syntax error, truncated, "
    "or extra data after the end).",
    "file.no_orders_array": "The JSON is valid but holds no list of orders: the top-level "
    'object has no "orders" key, "orders" is not an array, or the top level is a scalar.',
    "file.duplicate_orders_key": 'The top-level object has the key "orders" more than once: '
    "JSON readers disagree on which list such a document means, so none is taken.",
    "file.invalid_jsonl": "The file was read as JSON Lines but not a single line is valid JSON.",
    "file.missing_columns": "The header (CSV or spreadsheet) lacks a required column, even "
    "after matching names loosely and by synonym, or a column the mapping names is absent.",
    "file.duplicate_columns": "The header names a column more than once, two columns mean the "
    'same field, or a column is named "order-info" or "contact-info".',
    "file.invalid_csv": "The CSV cannot be parsed any further, typically a quoted field that is "
    "never closed and runs past the field size limit.",
    "file.xls": "A legacy Excel 97-2003 workbook (.xls, an OLE2 compound file): save it as "
    ".xlsx or CSV.",
    "file.encrypted": "A password-protected (encrypted) workbook: save a copy without a password.",
    "file.ods": "An OpenDocument spreadsheet (.ods): save it as .xlsx or CSV.",
    "file.numbers": "An Apple Numbers document (.numbers): export it as .xlsx or CSV.",
    "file.pdf": "A PDF document: send the orders as a spreadsheet, CSV or JSON.",
    "file.image": "An image (PNG, JPEG or GIF): send the orders as a spreadsheet, CSV or JSON.",
    "file.zip": "A ZIP archive that is not an .xlsx workbook (for example several files "
    "zipped together): send one file at a time.",
    "file.invalid_xlsx": "An .xlsx workbook that cannot be read (damaged, or without worksheets).",
    "file.sheet_not_found": "The mapping names a sheet the workbook does not have.",
    # Past the file's budget (chalicelib/orders/readers/budget.py): refused the moment the
    # count passes, whatever the rest of the file holds.
    "file.too_large_uncompressed": "The file holds more than 1 GiB once decompressed (gzip, "
    "or the parts of a workbook read): split it into smaller files.",
    "file.compression_ratio": "The file (gzip) or a part of the workbook unpacks to more than "
    "100 times its compressed size: padding such as blank lines or zeros, a decompression "
    "bomb; send the orders without the padding.",
    "file.too_many_rows": "The file has more than 1,048,576 rows (lines, list elements or sheet"
    " rows, blank ones included): split it into smaller files.",
    "file.too_many_columns": "A row, the header or a JSON document's top level has more than "
    "1,024 columns (fields, cells present, members): send only the columns the orders need.",
    "file.too_many_cells": "The file has more than 20,000,000 cells (CSV fields, sheet cells "
    "present): split it, or send only the columns the orders need.",
    "file.row_too_large": "One row is larger than 1 MiB: a CSV record, a sheet row's XML, a "
    "JSON order or the whitespace around it (an unclosed quote, padding): fix that row.",
    "file.too_many_row_errors": "More than 10,000 rows cannot be read as orders (row.* codes), "
    "more than the rows that can: the file is not laid out as its header or format says; fix "
    "its layout and send it again.",
    "file.workbook_too_large": "The workbook is larger than 256 MiB, more than the temporary "
    "disk it is read from may hold: send the sheet as CSV (gzip-compressed), or split it.",
    "file.workbook_part_too_large": "A part of the workbook that is read (the sheet, the shared "
    "strings, the styles, its ZIP directory) is larger, or lists more items, than a part may: "
    "send the sheet as CSV (gzip-compressed), or split the workbook.",
    # Raised by the pipeline around the readers (prepare, trigger).
    "file.missing": "The file was deleted before it could be read (the batch is failed).",
    "file.replaced": "On an unversioned bucket, another upload replaced the file under its key "
    "before it could be read.",
    "file.duplicate_upload": "A second, different file was sent to a single-use upload URL's key.",
    "file.upload_too_large": "A presigned upload larger than its sender's upload limit.",
    "file.no_sender": "The file was uploaded outside any registered sender's folder "
    "(incoming/<sender id>/...): it is never given to a guessed sender.",
    "file.sender_disabled": "The file is in the folder of a sender that is disabled.",
}

#: One row that cannot be read: its neighbours go on.
ROW_ERROR_CODES: Final[dict[str, str]] = {
    "row.invalid_json": "A JSON Lines line that is not valid JSON.",
    "row.field_count": "A CSV row with more or fewer fields than the header, or a spreadsheet "
    "row with a value beyond the header's columns.",
    "row.inexact_number": "A spreadsheet row with a whole number of 2^53 or more in a number "
    "cell (a long OrderId typed as a number): the workbook kept only 15 significant digits.",
    "row.value_without_header": "A CSV or spreadsheet row with a value in a column whose header "
    "is empty: which field it belongs to cannot be told.",
    "row.empty_member_name": "A JSON order (a line, a list element, a POST) holding a member "
    'named "" at any level: DynamoDB cannot store an attribute without a name.',
    "row.formula_without_value": "A spreadsheet row with a formula saved without its computed "
    "value: open the workbook in Excel and save it again, or export CSV.",
    "row.totals": "The last row of a CSV or spreadsheet is a totals row (its OrderId empty or "
    '"Total", "Totals", "Sum", its other values mostly numbers), not an order.',
    "row.too_large": "An order (a row, a line, a list element) that is larger, as a chunk "
    "holds it, than a whole chunk may be (CHUNK_MAX_BYTES): rejected alone, with an excerpt.",
}

#: A column mapping (`ColumnMapping.from_json`) that cannot be used.
MAPPING_ERROR_CODES: Final[dict[str, str]] = {
    "mapping.invalid": "The column mapping is not what it must be: unknown field, a header "
    "that is not a non-empty string, one header for two fields, or a bad sheet, delimiter, "
    "encoding or header row.",
}

ALL_CODES: Final[dict[str, str]] = {
    **FILE_ERROR_CODES,
    **ROW_ERROR_CODES,
    **MAPPING_ERROR_CODES,
}
