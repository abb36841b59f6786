"""The registry of every code a client or an operator can see, by family.

Each code maps to its one-line meaning. The families:

* `file`: a file that cannot be read at all (quarantined), whoever raises it (the readers, or
  the pipeline around them: prepare, trigger); the API answers a body the pipeline would
  quarantine with the same code.
* `row`: one row of a file that cannot be read as an order (dead-lettered; its neighbours go on).
* `mapping`: a column mapping (`ColumnMapping.from_json`) that cannot be used.
* `order`: every code `validation.validate_order` returns; the meaning is also the message of
  its `FieldError`. Its subset `VALUE_ERROR_CODES` is what no order may hold, whatever its format
  (`limits.check_value`, the JSON reader). `<field>.invalid` is the fallback for a problem
  pydantic raises that has no code (it should not happen; the field is filled in).
* `store`: an order that is valid but cannot be stored as it is (`pipeline.process`).
* `pipeline`: a batch that failed for the pipeline's own reason, not the file's (`error.code` of
  `GET /batches/{id}` and of the completion event).
* `api`: the `code` of the API's error body `{"error": {"code", "message", "details"}}`, beside
  the `file.*` and `mapping.invalid` codes it passes on; its meaning gives the HTTP status, in
  parentheses, when that is not 400.

The families are disjoint and `ALL_CODES` is their union. Every code is written as a literal
where it is raised (`order` codes built from pydantic's problems aside, see `validation`), and
`tests/unit/test_codes.py` scans the product for the literals of each family, both ways: each one
raised is here, and each one here is raised. The numbers in a meaning (`MAX_DEPTH`, the file's
budget) are checked against their constants there too.

Not codes: a webhook delivery's status (`callbacks.DELIVERY_STATUSES`) and a batch's status are
states of a record, not reasons; the CLI's exit codes are `orderflow_cli.exits.ExitCode`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = [
    "ALL_CODES",
    "API_ERROR_CODES",
    "CODES_BY_FAMILY",
    "FILE_ERROR_CODES",
    "MAPPING_ERROR_CODES",
    "ORDER_ERROR_CODES",
    "PIPELINE_ERROR_CODES",
    "ROW_ERROR_CODES",
    "STORE_ERROR_CODES",
    "VALUE_ERROR_CODES",
]

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

#: What no order may hold, whatever format it came in (`limits`, `jsontext`): part of the order
#: family. `order.too_deep`'s depth is `limits.MAX_DEPTH`.
VALUE_ERROR_CODES: Final[dict[str, str]] = {
    "order.invalid_text": "the order holds text that is not valid Unicode (a lone UTF-16 "
    "surrogate escape such as \\udfff, half of a pair)",
    "order.too_deep": "the order nests objects or arrays more than 32 levels deep",
    "order.number_out_of_range": "the order holds a number too large or too small to be read "
    "(such as 1e400 or 1e-400); send such values as strings",
    "order.repeated_member": "the order holds one member twice in the same object (JSON such as"
    ' "OrderId": "C", "OrderId": "D"): which value is meant cannot be told',
}

#: Every code `validation.validate_order` can return; the meaning is its `FieldError`'s message.
#: `OrderId.too_long`'s length is `validation.ORDER_ID_MAX_LENGTH`.
ORDER_ERROR_CODES: Final[dict[str, str]] = {
    "order.not_object": "the order must be a JSON object",
    "order.invalid": "the order contains a value that cannot be represented as JSON",
    **VALUE_ERROR_CODES,
    "order-info.missing": "order-info is required",
    "order-info.not_object": "order-info must be a JSON object",
    "contact-info.missing": "contact-info is required",
    "contact-info.not_object": "contact-info must be a JSON object",
    "OrderId.missing": "OrderId is required",
    "OrderId.not_string": "OrderId must be a string",
    "OrderId.empty": "OrderId must not be empty",
    "OrderId.too_long": "OrderId must be at most 64 characters",
    "OrderId.invisible_character": "OrderId must not hold a control or invisible character"
    " (NUL, a zero-width space, a direction mark) inside it, which a person cannot see; remove"
    " it from the file",
    "item-id.missing": "item-id is required",
    "item-id.not_string": "item-id must be a string or a whole number",
    "item-id.empty": "item-id must not be empty",
    "item-desc.not_string": "item-desc must be a string",
    "qty.missing": "qty is required",
    "qty.not_positive_integer": "qty must be a whole number of at least 1",
    "name.missing": "name is required",
    "name.not_string": "name must be a string",
    "name.empty": "name must not be empty",
    "email.missing": "email is required",
    "email.invalid": "email must be a valid email address",
    "<field>.invalid": "fallback for any unexpected problem with <field> (should not happen)",
}

#: A valid order that cannot be stored as it is (`pipeline.process`): dead-lettered.
STORE_ERROR_CODES: Final[dict[str, str]] = {
    "OrderId.conflict": "the OrderId is already stored with other content; nothing was overwritten",
    "order.store_failed": "the order could not be written after every retry; the message says why",
    "order.not_storable": "the order holds a number DynamoDB cannot hold (beyond its range, such"
    " as 1e-200, or more than 38 significant digits)",
    "order.too_large": "the order is larger than DynamoDB's 400 KB item limit; it is never"
    " retried (the message gives its size)",
    "order.reserved_field": "a top-level field of the order has the name of one of the stored"
    " item's own attributes (sender_shard, sender, OrderId, content_hash, batch_id, source_row)"
    " and another value, which storing would overwrite; the message names it",
}

#: A batch that failed for the pipeline's own reason, not the file's (`pipeline.finish`): the
#: batch ends `failed` with this `error`.
PIPELINE_ERROR_CODES: Final[dict[str, str]] = {
    "pipeline.prepare_failed": "PrepareFile failed after its retries for a reason that is not "
    "the file's (an unexpected error): nothing of the file was read; the message gives the "
    "error's type and message.",
    "pipeline.chunks_unprocessed": "Some orders could not be processed, even when RecordBatch "
    "processed their chunk again: the message counts them and says why for each chunk.",
}

#: The `code` of the API's error body (`chalicelib.api.errors`; `route_not_found` is also the
#: deployed API Gateway's answer, set by `orderflow_cli.deploy`).
API_ERROR_CODES: Final[dict[str, str]] = {
    "bad_request": "The request is malformed: a body that is not the object a route takes, or "
    "a member of the wrong type.",
    "invalid_json": "The body of POST /uploads is not valid JSON.",
    "order_not_object": "An element of POST /orders' order list is not an object (details "
    "lists their positions).",
    "bad_idempotency_key": "The Idempotency-Key header is empty or longer than 255 characters.",
    "idempotency_key_reused": "The Idempotency-Key was already used with a different body (409).",
    "conflict": "The request contradicts an earlier one or the state of what it names (409; "
    "the default of `Conflict`, whose uses say idempotency_key_reused or batch_not_ended).",
    "bad_dry_run": "dry_run is not true or false.",
    "callback_refused": "The callback_url is not one the service will call: not a URL, not "
    "HTTPS where the stage requires it, or a host whose address is not public.",
    "bad_filename": "The filename of POST /uploads is longer than 255 characters.",
    "unsupported_content_type": "The content_type of POST /uploads is not one of the types "
    "an upload may have.",
    "unsupported_media_type": "The body is not sent as application/json, or POST /orders' "
    "body is not JSON text (gzip, a workbook, a PDF, an image) (415).",
    "payload_too_large": "The request carries more orders or bytes than one request may (413).",
    "bad_batch_id": "The batch_id of GET /reviews is not a batch id.",
    "bad_reason": "The reason of GET /reviews or GET /batches/{batch_id}/rejections is not "
    "invalid, conflict or store_failed.",
    "bad_cursor": "The cursor of GET /reviews, GET /batches or GET /batches/{batch_id}/rejections"
    " is not one this API handed out for that query (or the report it pages has been written "
    "again since).",
    "bad_limit": "The limit of a paged route is not a whole number in its range (GET /reviews: "
    "1 to 1000; GET /batches: 1 to 100; GET /batches/{batch_id}/rejections: 1 to 500).",
    "bad_corrects": "The corrects of POST /orders or POST /uploads does not name one of the "
    "caller's own batches, or names a dry run (which stored nothing to correct).",
    "batch_not_ended": "GET /batches/{batch_id}/rejections of a batch that has not ended yet: "
    "its rejection report is written when it ends (409).",
    "not_found": "No such batch or order among the caller's (404).",
    "route_not_found": "No route has this path (on API Gateway: or this method) (404).",
    "method_not_allowed": "The route does not take this method; the Allow header lists the "
    "ones it takes (405, `orders serve`; API Gateway answers route_not_found).",
    "internal_error": "The request could not be processed; nothing more is said (500).",
}

#: Family name -> code -> one-line meaning; the families are disjoint.
CODES_BY_FAMILY: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        "file": MappingProxyType(FILE_ERROR_CODES),
        "row": MappingProxyType(ROW_ERROR_CODES),
        "mapping": MappingProxyType(MAPPING_ERROR_CODES),
        "order": MappingProxyType(ORDER_ERROR_CODES),
        "store": MappingProxyType(STORE_ERROR_CODES),
        "pipeline": MappingProxyType(PIPELINE_ERROR_CODES),
        "api": MappingProxyType(API_ERROR_CODES),
    }
)

#: Every code of every family.
ALL_CODES: Final[dict[str, str]] = {
    code: meaning for family in CODES_BY_FAMILY.values() for code, meaning in family.items()
}
