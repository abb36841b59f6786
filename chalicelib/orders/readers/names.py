"""Which names a column may carry for each of the order's fields.

A field (`records.ORDER_FIELDS`) is named by its own name or one of its `SYNONYMS`, both compared
`normalise`d (case, spaces and punctuation ignored): `Order ID`, `order_id` and `ORDERID` are
`OrderId`, `Quantity` is `qty`. No normalised name means two fields, and `SYNONYMS` lists the
fields of `records.ORDER_FIELDS` in their order (tests/unit/readers/test_columns.py checks
both). `closest` finds the headers closest to a field that is missing (for the batch's
`file.suggestions` and, said by `near`, for the `file.missing_columns` message): never a guess
taken as a match.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Final

from chalicelib.orders.records import ORDER_FIELDS

__all__ = ["BY_NAME", "BY_SYNONYM", "SYNONYMS", "closest", "near", "normalise"]

#: Other names partners give our fields, one entry per field of `records.ORDER_FIELDS`, in its
#: order (docs/formats.md's synonyms table lists the same).
SYNONYMS: Final[dict[str, tuple[str, ...]]] = {
    "OrderId": ("Order Number", "Order No", "Order Nr", "Order Ref", "Order Reference", "Order"),
    "item-id": (
        "Item",
        "Item Number",
        "Item No",
        "SKU",
        "Product ID",
        "Product Code",
        "Article Number",
        "Article No",
        "Part Number",
    ),
    "item-desc": (
        "Description",
        "Item Description",
        "Item Name",
        "Desc",
        "Product",
        "Product Name",
        "Product Description",
    ),
    "qty": ("Quantity", "Qty Ordered", "Quantity Ordered", "Units", "Pieces", "Pcs", "Count"),
    "name": (
        "Customer",
        "Customer Name",
        "Full Name",
        "Contact",
        "Contact Name",
        "Buyer",
        "Buyer Name",
        "Recipient",
    ),
    "email": ("Email Address", "Mail", "Customer Email", "Contact Email", "Buyer Email"),
}


def normalise(header: str) -> str:
    """`header` in lower case with everything but letters and digits removed."""
    return "".join(char for char in header.casefold() if char.isalnum())


#: normalised name -> the field it is the own name of
BY_NAME: Final = {normalise(name): name for name in ORDER_FIELDS}
#: normalised synonym -> the field it names
BY_SYNONYM: Final = {normalise(s): name for name, synonyms in SYNONYMS.items() for s in synonyms}

_CLOSE: Final = 0.6  # how alike a header must be to a field's names to be named as close


def closest(headers: Sequence[str], *wanted: str) -> list[str]:
    """The (at most 3) of `headers` closest to any of `wanted`, best first (ties in header
    order); a header is close when its normalised name is at least `_CLOSE` alike to a
    normalised `wanted` (difflib's ratio). Cheap upper bounds of the ratio rule most headers
    out before it is computed."""
    scores: dict[str, float] = {}
    targets = [normalise(target) for target in wanted]
    matcher = difflib.SequenceMatcher(None)
    for name in headers:
        matcher.set_seq2(normalise(name))  # the side SequenceMatcher prepares, once per header
        for target in targets:
            matcher.set_seq1(target)
            if matcher.real_quick_ratio() < _CLOSE or matcher.quick_ratio() < _CLOSE:
                continue
            scores[name] = max(scores.get(name, 0.0), matcher.ratio())
    return sorted((n for n, r in scores.items() if r >= _CLOSE), key=lambda n: -scores[n])[:3]


def near(close: Sequence[str]) -> str:
    """`closest()`'s answer as a message says it: `closest headers: "Qty.", ...` or `no
    header is close`."""
    if not close:
        return "no header is close"
    return "closest headers: " + ", ".join(f'"{name}"' for name in close)
