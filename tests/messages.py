"""Event messages for tests: a valid order or payment with chosen fields changed, as bytes or as a Message."""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import count

from simulator.model import Message

ORDERS, PAYMENTS = "orders.events", "payments.events"
DROP = object()  # a field value meaning "leave the field out"


@dataclass(frozen=True)
class Raw:
    """A JSON literal written verbatim, to control how a number or a string is spelled."""

    text: str


def utf8(text: str) -> Raw:
    """The text as a JSON string that holds non-ASCII characters as UTF-8, escaping only what JSON must."""
    return Raw(json.dumps(text, ensure_ascii=False))


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


_new_events = count(1)


def order_message(**changes) -> Message:
    """`order(**changes)` on ORDERS, keyed by its order_id: a new event (oe-<n>) unless event_id is given."""
    changes.setdefault("event_id", f"oe-{next(_new_events)}")
    return Message(ORDERS, _key(changes), order(**changes))


def payment_message(**changes) -> Message:
    """`payment(**changes)` on PAYMENTS, keyed by its order_id: a new event (pe-<n>) unless event_id is given."""
    changes.setdefault("event_id", f"pe-{next(_new_events)}")
    return Message(PAYMENTS, _key(changes), payment(**changes))


def _key(changes: dict) -> str | None:
    order_id = changes.get("order_id", "o-1")
    return order_id if isinstance(order_id, str) else None
