"""Files as partners send them, through the real state machine: each variant of one table ends
like our plain CSV (the same orders stored, the same rows rejected with the same codes, at the
row numbers of the file sent), and the files we do not read are refused with their own code."""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from orderflow_cli.emulator.runtime import EmbeddedAWS
from tests.conftest import run, stored_items

OURS = ["OrderId", "item-id", "item-desc", "qty", "name", "email"]
THEIRS = ["Order ID", "Item ID", "Description", "Quantity", "Name", "Email"]

# One table: data at rows 2, 3, 5, 6 and 7, a blank row 4. `{id}` is the variant's OrderId.
ROWS: list[list[Any] | None] = [
    [1, "101", "Desk lamp", 1, "Ann Lee", "ann@example.com"],
    [2, "102", "Chair", 0, "Bo Chan", "bo@example.com"],
    None,
    [3, "103", "Shelf; oak", 2, "", "cy@example.com"],
    [4, "104", "-Mat", -1, "Di Park", "di@example.com"],
    [5, "105", "Rug", 3, "Ed Moss", "ed@example.com"],
]
REJECTED = {3: "qty.not_positive_integer", 5: "name.empty", 6: "qty.not_positive_integer"}


def order_id(base: int, row: list[Any]) -> str:
    return str(base + row[0])


def text_rows(base: int) -> list[list[str]]:
    return [[] if row is None else [order_id(base, row), *map(str, row[1:])] for row in ROWS]


def delimited(header: list[str], base: int, delimiter: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(text_rows(base))
    return out.getvalue()


def plain_csv(path: Path, base: int) -> None:
    path.write_text(delimited(OURS, base, ","), newline="")


def semicolon_csv(path: Path, base: int) -> None:
    # what Excel writes in most of Europe: semicolons, a UTF-8 BOM
    path.write_bytes(codecs.BOM_UTF8 + delimited(THEIRS, base, ";").encode())


def order_id_headers(path: Path, base: int) -> None:
    path.write_text(delimited(THEIRS, base, ","), newline="")


def utf16_export(path: Path, base: int) -> None:
    # Excel's "Unicode text": UTF-16 LE with a BOM, tab-separated, named .txt
    path.write_bytes(codecs.BOM_UTF16_LE + delimited(THEIRS, base, "\t").encode("utf-16-le"))


def tsv(path: Path, base: int) -> None:
    path.write_text(delimited(OURS, base, "\t"), newline="")


def xlsx(path: Path, base: int) -> None:
    # numbers typed as Excel holds them: every number a float
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Orders"
    sheet.append(THEIRS)
    for row in ROWS:
        if row is None:
            sheet.append([])
            continue
        sheet.append([float(base + row[0]), 1.0 * int(row[1]), row[2], float(row[3]), *row[4:]])
    book.save(path)


VARIANTS: dict[str, Callable[[Path, int], None]] = {
    "plain.csv": plain_csv,
    "semicolon.csv": semicolon_csv,
    "order-id-headers.csv": order_id_headers,
    "unicode-text.txt": utf16_export,
    "orders.tsv": tsv,
    "workbook.xlsx": xlsx,
}


def report_rows(local: EmbeddedAWS, batch: dict[str, Any]) -> dict[int, str]:
    key = batch["report_keys"]["jsonl"]
    body = local.s3.get_object(Bucket=local.settings.bucket, Key=key)["Body"].read()
    lines = [json.loads(line) for line in body.decode().splitlines()]
    return {line["row"]: line["errors"][0]["code"] for line in lines}


def without_ids(item: dict[str, Any]) -> tuple[Any, ...]:
    info = {k: v for k, v in item["order-info"].items() if k != "OrderId"}
    return json.dumps(info, sort_keys=True, default=str), json.dumps(item["contact-info"])


def test_every_variant_ends_like_the_plain_csv(local: EmbeddedAWS, tmp_path: Path) -> None:
    paths = []
    for index, (name, write) in enumerate(VARIANTS.items()):
        write(tmp_path / name, (index + 1) * 1000)
        paths.append(tmp_path / name)

    batches = dict(zip(VARIANTS, run(local, *paths), strict=True))

    items = stored_items(local)
    by_variant: dict[str, set[tuple[Any, ...]]] = {name: set() for name in VARIANTS}
    for order_id_, item in items.items():
        name = list(VARIANTS)[int(order_id_) // 1000 - 1]
        by_variant[name].add(without_ids(item))
    plain = by_variant["plain.csv"]
    assert len(plain) == 2
    for name, batch in batches.items():
        assert batch["status"] == "succeeded", (name, batch.get("error"))
        assert (batch["total"], batch["stored"], batch["rejected"]) == (5, 2, 3), name
        assert report_rows(local, batch) == REJECTED, name
        assert by_variant[name] == plain, name
    base = (list(VARIANTS).index("workbook.xlsx") + 1) * 1000
    assert str(base + 1) in items  # the float 6001.0 is the OrderId "6001"
    # the CSV report neutralises "-1" and "-Mat" for a spreadsheet
    key = batches["workbook.xlsx"]["report_keys"]["csv"]
    report = local.s3.get_object(Bucket=local.settings.bucket, Key=key)["Body"].read().decode()
    row6 = next(r for r in csv.DictReader(io.StringIO(report)) if r["_row"] == "6")
    assert (row6["item-desc"], row6["qty"]) == ("'-Mat", "'-1")


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("legacy.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1000), "file.xls"),
        ("orders.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "file.pdf"),
    ],
)
def test_files_we_do_not_read_are_quarantined_with_their_own_code(
    local: EmbeddedAWS, tmp_path: Path, name: str, data: bytes, code: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)

    (batch,) = run(local, path)

    assert batch["status"] == "quarantined"
    assert batch["error"]["code"] == code
    assert stored_items(local) == {}
