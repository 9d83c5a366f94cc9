"""Malformed twins of valid events: for each kind of bad input in CONTRACT.md rule 6, ways to write it.

A kind is named after the quarantine reason it earns (`huge` earns `invalid_json`). Its variants are
taken in turn, so a run that makes a kind n times shows its first n variants, and `missing_field` and
`wrong_type` walk through every field of the topic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from simulator.jsontext import to_json
from contract import ORDER_FIELDS, PAYMENT_FIELDS

# Oversized messages stay under 900 KB: Kafka takes at most 1 MB per message by default.
HUGE_PAYLOAD_BYTES = (100_000, 850_000)
_DROP = object()  # a field value meaning "leave the field out"
_ZONE = re.compile(r"(Z|[+-][0-9]{2}:[0-9]{2})$")
T = TypeVar("T")


@dataclass(frozen=True)
class EventShape:
    """The fields of one topic's events that malformed twins break."""

    required: tuple[str, ...]
    optional: tuple[str, ...]
    money: str


ORDER_SHAPE = EventShape(ORDER_FIELDS, ("items",), "total_amount")
PAYMENT_SHAPE = EventShape(PAYMENT_FIELDS, ("payment_id",), "amount_cents")
Corruption = Callable[[dict[str, Any], EventShape, int], "bytes | None"]


def applies(kind: str, shape: EventShape) -> bool:
    # A payment's amount is whole cents: a fraction there is a wrong type, not too many decimals.
    return kind != "too_many_decimals" or shape is ORDER_SHAPE


def malformed(kind: str, fields: dict[str, Any], shape: EventShape, variant: int) -> bytes | None:
    """The `variant`-th way of writing the event `fields` (as the generator built it) as bad input of `kind`."""
    return KINDS[kind](fields, shape, variant)


def padded(fields: dict[str, Any], size: int) -> dict[str, Any]:
    """The event with an unknown field of `size` characters: still valid, but a large message."""
    return {**fields, "note": "x" * size}


def huge_size(variant: int) -> int:
    low, high = HUGE_PAYLOAD_BYTES
    return low + variant * 211_111 % (high - low)


def _pick(options: Sequence[T], variant: int) -> T:
    return options[variant % len(options)]


def _encode(fields: dict[str, Any], name: str, value: object) -> bytes:
    if value is _DROP:
        changed = {key: item for key, item in fields.items() if key != name}
    else:
        changed = {**fields, name: value}
    return to_json(changed).encode("utf-8")


def _invalid_json(fields: dict[str, Any], shape: EventShape, variant: int) -> bytes:
    text = to_json(fields)
    variants = [text[: len(text) // 2], text + " x", "{" + text, text.replace('"', "'"), "not json"]
    return _pick(variants, variant).encode()


def _empty_message(fields: dict[str, Any], shape: EventShape, variant: int) -> bytes | None:
    return _pick([b"", None], variant)


def _not_an_object(fields: dict[str, Any], shape: EventShape, variant: int) -> bytes:
    text = to_json(fields)
    return _pick(["[" + text + "]", json.dumps(text), "42", "null"], variant).encode()


def _invalid_utf8(fields: dict[str, Any], shape: EventShape, variant: int) -> bytes:
    data = to_json(fields).encode()
    return _pick(
        [
            data.replace(b'":"', b'":"\xff', 1),
            data[:-1] + b',"note":"caf\xe9"}',  # Latin-1, not UTF-8
            data[:-1] + b',"note":"\xe2\x82"}',  # a three-byte character cut short
        ],
        variant,
    )


def _missing_field(fields: dict[str, Any], shape: EventShape, variant: int) -> bytes:
    name = _pick(shape.required, variant)
    return _encode(fields, name, _pick([_DROP, None, "", " \t"], variant // len(shape.required)))


WRONG_TYPES: dict[str, tuple[object, ...]] = {
    "total_amount": (True, "12,50", [1]),
    "amount_cents": ("3998", Decimal("3998.5"), True),
    "items": ({"sku": "sku-01"}, "sku-01"),
    "payment_id": (17, ["p-1"]),
}
STRING_WRONG_TYPES = (12, True, ["text"])


def _wrong_type(fields: dict[str, Any], shape: EventShape, variant: int) -> bytes:
    names = shape.required + shape.optional
    name = _pick(names, variant)
    return _encode(fields, name, _pick(WRONG_TYPES.get(name, STRING_WRONG_TYPES), variant // len(names)))


def _negative_amount(fields: dict[str, Any], shape: EventShape, variant: int) -> bytes:
    amount = fields[shape.money]
    return _encode(fields, shape.money, "-" + amount if isinstance(amount, str) else -amount)


def _too_many_decimals(fields: dict[str, Any], shape: EventShape, variant: int) -> bytes:
    total, more = fields["total_amount"], _pick(["5", "001", "999"], variant)
    return _encode(fields, "total_amount", total + more if isinstance(total, str) else Decimal(f"{total}{more}"))


OUT_OF_RANGE: dict[str, tuple[object, ...]] = {
    "total_amount": ("12345678901234567.00", Decimal("99999999999999999")),
    "amount_cents": (10**18, 99_999_999_999_999_999_999),
}


def _amount_out_of_range(fields: dict[str, Any], shape: EventShape, variant: int) -> bytes:
    return _encode(fields, shape.money, _pick(OUT_OF_RANGE[shape.money], variant))


def _unknown_status(fields: dict[str, Any], shape: EventShape, variant: int) -> bytes:
    return _encode(fields, "status", _pick(["paid", "Created", "settled", "CAPTURED", "pending"], variant))


def _invalid_currency(fields: dict[str, Any], shape: EventShape, variant: int) -> bytes:
    return _encode(fields, "currency", _pick(["usd", "US", "EURO", "\u20ac\u20ac\u20ac", "U$D"], variant))


def _event_ts_without_zone(fields: dict[str, Any], shape: EventShape, variant: int) -> bytes:
    return _encode(fields, "event_ts", _ZONE.sub("", fields["event_ts"]))


def _invalid_event_ts(fields: dict[str, Any], shape: EventShape, variant: int) -> bytes:
    written = fields["event_ts"]
    return _encode(fields, "event_ts", _pick([written.replace("T", " "), written[:10], "yesterday"], variant))


def _huge(fields: dict[str, Any], shape: EventShape, variant: int) -> bytes:
    # An oversized event cut off before its end, as a producer with a size limit might leave it.
    text = to_json(padded(fields, huge_size(variant)))
    return text[: len(text) * 9 // 10].encode()


KINDS: dict[str, Corruption] = {
    "invalid_json": _invalid_json,
    "empty_message": _empty_message,
    "not_an_object": _not_an_object,
    "invalid_utf8": _invalid_utf8,
    "missing_field": _missing_field,
    "wrong_type": _wrong_type,
    "negative_amount": _negative_amount,
    "too_many_decimals": _too_many_decimals,
    "amount_out_of_range": _amount_out_of_range,
    "unknown_status": _unknown_status,
    "invalid_currency": _invalid_currency,
    "event_ts_without_zone": _event_ts_without_zone,
    "invalid_event_ts": _invalid_event_ts,
    "huge": _huge,
}
