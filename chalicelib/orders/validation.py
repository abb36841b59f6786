"""Validation and normalisation of one order.

An order as received (JSON; CSV rows are turned into the same shape by the reader, with every
value a string)::

    {"order-info": {"OrderId": "1", "item-id": "101", "item-desc": "Item One", "qty": "1"},
     "contact-info": {"name": "Foo Bar", "email": "foobar@test.com"}}

`validate_order` returns either a `ValidOrder` (the normalised order, in the same nested shape,
plus a content hash) or the list of every problem found, as `FieldError`s with stable codes
(registered in `codes.ORDER_ERROR_CODES`, whose meaning is each error's message).
It never raises for bad input.

How it is built:

* The rules live in three small pydantic v2 models (the order and its two groups), built once
  at import from `records.ORDER_GROUPS` (the one list of the order's fields) and `_RULES`.
  Each known field has a `PlainValidator` that does the whole check itself (pydantic's own
  coercion is bypassed, so `1` is not silently accepted as `"1"` for `OrderId`,
  nor `2.0` or `True` as a quantity) and raises `PydanticCustomError` whose error type *is*
  our code (e.g. `qty.not_positive_integer`).
* The few errors pydantic raises itself (a field missing, a group that is not an object) are
  turned into codes by `_BUILTIN_PROBLEMS`, in `_to_field_error`: the one place where pydantic
  errors become `FieldError`s. Anything else becomes `<field>.invalid`, so no error escapes
  without a code.
* Unknown fields (`extra="allow"`) are kept as sent, at the top level and inside the groups;
  only the known fields are trimmed and converted.
* Before any of that, `limits.check_value` measures the order without recursion: an order
  nested deeper than `limits.MAX_DEPTH` or holding text that is not valid Unicode is refused
  with its code (the readers already refuse both; this guards every other caller, such as the
  DLQ reviewer), so nothing recursive below ever meets a deep value.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Final

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError, create_model
from pydantic_core import ErrorDetails, PydanticCustomError

from chalicelib.orders.codes import ORDER_ERROR_CODES
from chalicelib.orders.limits import check_value
from chalicelib.orders.records import ORDER_GROUPS, FieldError

__all__ = [
    "ORDER_ERROR_CODES",
    "ORDER_ID_MAX_LENGTH",
    "ValidOrder",
    "order_content_hash",
    "validate_order",
]

ORDER_ID_MAX_LENGTH: Final = 64  # codes.ORDER_ERROR_CODES["OrderId.too_long"] says 64


# Pydantic's own error types -> our problem name; the code is "<field>.<problem>".
_BUILTIN_PROBLEMS: Final[dict[str, str]] = {
    "missing": "missing",
    "model_type": "not_object",
    "model_attributes_type": "not_object",
    "dict_type": "not_object",
}


def _fail(code: str) -> PydanticCustomError:
    return PydanticCustomError(code, ORDER_ERROR_CODES[code])


# --- field validators (each does the whole check; pydantic does no coercion) ----------------------


def _check_order_id(value: Any) -> str:
    """An OrderId as a person reads it: NFKC-normalised (a full-width digit seven, U+FF17, is
    `7`; a ligature is its letters), whitespace and invisible format characters (a byte-order
    mark, a zero-width space) trimmed at both ends, and refused when a control or invisible
    character is left inside (`NUL`, a zero-width space between digits): two ids that look the
    same are one id, or a rejection."""
    if not isinstance(value, str):
        raise _fail("OrderId.not_string")
    text = _trim_invisible(unicodedata.normalize("NFKC", value))
    if not text:
        raise _fail("OrderId.empty")
    if len(text) > ORDER_ID_MAX_LENGTH:
        raise _fail("OrderId.too_long")
    if any(unicodedata.category(char) in _UNSEEN for char in text):
        raise _fail("OrderId.invisible_character")
    return text


# Control (Cc), format (Cf: zero-width space, byte-order mark, bidi marks), line and paragraph
# separators (Zl, Zp), unassigned and private-use code points: nothing a person reads in an id.
_UNSEEN: Final = frozenset({"Cc", "Cf", "Zl", "Zp", "Cn", "Co", "Cs"})


def _trim_invisible(text: str) -> str:
    start, end = 0, len(text)
    while start < end and (text[start].isspace() or unicodedata.category(text[start]) == "Cf"):
        start += 1
    while end > start and (text[end - 1].isspace() or unicodedata.category(text[end - 1]) == "Cf"):
        end -= 1
    return text[start:end]


def _check_item_id(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise _fail("item-id.not_string")
    text = value.strip()
    if not text:
        raise _fail("item-id.empty")
    return text


def _check_item_desc(value: Any) -> str:
    if not isinstance(value, str):
        raise _fail("item-desc.not_string")
    return value.strip()


def _check_qty(value: Any) -> int:
    # Strict on purpose: an int, or a string of ASCII digits. Not bool (an int subclass), not
    # 2.0 / Decimal("2.0"), not "1e3", "+2", "1_000" or non-ASCII digits (which int() accepts).
    if isinstance(value, int) and not isinstance(value, bool):
        qty = value
    elif isinstance(value, str) and (text := value.strip()).isascii() and text.isdigit():
        try:
            qty = int(text)
        except ValueError:  # more digits than Python's int/str conversion limit
            raise _fail("qty.not_positive_integer") from None
    else:
        raise _fail("qty.not_positive_integer")
    if qty < 1:
        raise _fail("qty.not_positive_integer")
    return qty


def _check_name(value: Any) -> str:
    if not isinstance(value, str):
        raise _fail("name.not_string")
    text = value.strip()
    if not text:
        raise _fail("name.empty")
    return text


def _check_email(value: Any) -> str:
    # Syntax only (no DNS). The sender's trimmed string is kept, not email-validator's normalised
    # form. `test_environment` is deliberately not set: ordinary addresses such as
    # foobar@test.com or ana.nunez@example.org pass without it (only special-use domains such as
    # `*.test` or `localhost` are refused, which is what we want for real orders).
    if not isinstance(value, str):
        raise _fail("email.invalid")
    text = value.strip()
    if not _email_is_valid(text):
        raise _fail("email.invalid")
    return text


# The common shape of an address, which email-validator always accepts: ASCII letters and digits
# in runs joined by single `.`, `_`, `+` or `-` before the @; after it, two or more labels of
# letters and digits joined by single hyphens, the last of letters only and not a special-use
# name (`test`, `localhost`, ...), within email-validator's lengths. Anything else is asked of
# email-validator. tests/unit/test_email_shape.py checks the shape against email-validator.
_PLAIN_ADDRESS: Final = re.compile(
    r"[A-Za-z0-9]+(?:[._+-][A-Za-z0-9]+)*@(?:[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\.)+([A-Za-z]+)"
)
_SPECIAL_USE: Final = frozenset(SPECIAL_USE_DOMAIN_NAMES)


def _plain_address(address: str) -> bool:
    """True for an address of the common shape (`_PLAIN_ADDRESS`); False says nothing."""
    match = _PLAIN_ADDRESS.fullmatch(address)
    if match is None or len(address) > 254 or match.group(1).lower() in _SPECIAL_USE:
        return False
    local, _, domain = address.partition("@")
    return len(local) <= 64 and len(domain) <= 253 and max(map(len, domain.split("."))) <= 63


@functools.lru_cache(maxsize=16384)
def _email_is_valid(address: str) -> bool:
    # email-validator costs 20-60 us per call, more than everything else here together: the
    # common shape is answered without it, and files often repeat the same customers, so the
    # outcome is memoised (bounded: 16k addresses, a few MB).
    if _plain_address(address):
        return True
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


# --- models (built once, at import) ---------------------------------------------------------------

_GROUP_CONFIG: Final = ConfigDict(
    extra="allow",  # unknown fields are kept in the normalised order, not rejected
    populate_by_name=False,  # only the wire names ("OrderId", ...) are recognised
)


#: Each field's rule, by the name a sender writes it under; the fields and their groups are
#: `records.ORDER_GROUPS` (a field added there without a rule here fails at import).
_RULES: Final[Mapping[str, Any]] = {
    "OrderId": Annotated[str, PlainValidator(_check_order_id)],
    "item-id": Annotated[str, PlainValidator(_check_item_id)],
    "item-desc": Annotated[str | None, PlainValidator(_check_item_desc)],
    "qty": Annotated[int, PlainValidator(_check_qty)],
    "name": Annotated[str, PlainValidator(_check_name)],
    "email": Annotated[str, PlainValidator(_check_email)],
}
#: The fields an order may leave out (stays missing); a table's reader still wants the column.
_OPTIONAL: Final = frozenset({"item-desc"})


def _model(name: str, fields: Mapping[str, Any]) -> type[BaseModel]:
    """A model of `fields` (wire name -> type), each known by its wire name only."""
    definitions: dict[str, Any] = {
        wire.replace("-", "_"): (kind, Field(None if wire in _OPTIONAL else ..., alias=wire))
        for wire, kind in fields.items()
    }
    return create_model(name, __config__=_GROUP_CONFIG, **definitions)


_Order: Final = _model(
    "_Order",
    {
        group: _model(f"_{group}", {name: _RULES[name] for name in names})
        for group, names in ORDER_GROUPS.items()
    },
)


# --- public API -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ValidOrder:
    """A valid order, normalised.

    `order` has the same nested shape as received, with the known strings trimmed, `qty` an int,
    `item-id` a string, and unknown fields kept as sent; a missing `item-desc` stays missing.
    `content_hash` identifies the content: the first 32 hex characters of the SHA-256 of the
    canonical JSON of `order` (sorted keys, compact separators, UTF-8, not ASCII-escaped).
    """

    order_id: str
    order: dict[str, Any]
    content_hash: str


def validate_order(raw: Any) -> ValidOrder | list[FieldError]:
    """Returns the normalised order, or every problem found (never raises for bad input)."""
    problem = check_value(raw)
    if problem is not None:
        return [problem]
    try:
        model = _Order.model_validate(raw)
    except ValidationError as exc:
        return [_to_field_error(err) for err in exc.errors(include_url=False)]
    order = model.model_dump(by_alias=True, exclude_unset=True)
    try:
        digest = order_content_hash(order)
    except (TypeError, ValueError):  # not JSON data (only possible for non-parsed input)
        return [_error("order", "order.invalid", raw)]
    return ValidOrder(order_id=order["order-info"]["OrderId"], order=order, content_hash=digest)


def order_content_hash(order: dict[str, Any]) -> str:
    """First 32 hex characters of the SHA-256 of the canonical JSON of `order`."""
    text = _CANONICAL_JSON.encode(order)
    # "surrogatepass": never fails; `validate_order` has refused lone surrogates before this.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _json_default(value: Any) -> Any:
    # Numbers read back from DynamoDB are Decimal; hash them as the float the readers give, so
    # the same order hashes the same wherever it came from.
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON data")


# Built once: json.dumps would build a new encoder on every call.
_CANONICAL_JSON: Final = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
)


# --- pydantic errors -> FieldError (the one place) ------------------------------------------------


def _to_field_error(err: ErrorDetails) -> FieldError:
    loc = err["loc"]
    field = ".".join(str(part) for part in loc) if loc else "order"
    leaf = str(loc[-1]) if loc else "order"
    err_type = err["type"]
    if err_type in ORDER_ERROR_CODES:  # raised by our validators: the type is the code
        code = err_type
    else:
        problem = _BUILTIN_PROBLEMS.get(err_type)
        code = f"{leaf}.{problem}" if problem else ""
        if code not in ORDER_ERROR_CODES:
            return FieldError(field, f"{leaf}.invalid", err["msg"], _sent_value(err))
    return _error(field, code, _sent_value(err))


def _sent_value(err: ErrorDetails) -> Any:
    # For a missing field pydantic reports the enclosing object as the input; the sender sent
    # nothing for the field itself.
    return None if err["type"] == "missing" else err.get("input")


def _error(field: str, code: str, value: Any) -> FieldError:
    return FieldError(field=field, code=code, message=ORDER_ERROR_CODES[code], value=value)
