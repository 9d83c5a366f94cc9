"""Hand-written raw messages for the validation tests: a valid event with chosen fields changed."""

from __future__ import annotations

import json
from dataclasses import dataclass

DROP = object()  # a field value meaning "leave the field out"


@dataclass(frozen=True)
class Raw:
    """A JSON literal written verbatim, to control how a number is spelled."""

    text: str


def literal(value: object) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(name)}:{literal(item)}" for name, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(literal(item) for item in value) + "]"
    return json.dumps(value)


def has_raw(value: object) -> bool:
    if isinstance(value, dict):
        return any(has_raw(item) for item in value.values())
    if isinstance(value, list):
        return any(has_raw(item) for item in value)
    return isinstance(value, Raw)


def encode(fields: dict) -> bytes:
    return literal(fields).encode("utf-8")


def _message(fields: dict, changes: dict) -> bytes:
    fields.update(changes)
    return encode({name: value for name, value in fields.items() if value is not DROP})


def order(**changes) -> bytes:
    return _message({
        "event_id": "e-1",
        "order_id": "o-1",
        "user_id": "u-1",
        "status": "created",
        "items": [{"sku": "sku-17", "quantity": 2, "unit_price": "19.99"}],
        "currency": "USD",
        "total_amount": "39.98",
        "event_ts": "2026-11-26T10:15:42.123Z",
    }, changes)


def payment(**changes) -> bytes:
    return _message({
        "event_id": "e-9",
        "payment_id": "p-1",
        "order_id": "o-1",
        "status": "captured",
        "amount_cents": Raw("3998"),
        "currency": "USD",
        "event_ts": "2026-11-26T10:16:03Z",
    }, changes)
