"""Reading generated messages back for the simulator tests: events by order, positions, replayed runs."""

from __future__ import annotations

import json
from collections import defaultdict

from simulator.model import Message, OrderEvent, PaymentEvent
from simulator.oracle import silver_state
from simulator.validation import Valid, validate_order, validate_payment
from tests.messages import ORDERS, PAYMENTS


def event_of(message: Message) -> OrderEvent | PaymentEvent | None:
    outcome = validate_order(message.value) if message.topic == ORDERS else validate_payment(message.value)
    return outcome.event if isinstance(outcome, Valid) else None


def json_kind(value: bytes | None) -> str | None:
    """What JSON value `value` is (object, array, string...) by Python's own json module, not simulator.validation;
    None when it is not JSON."""
    try:
        parsed = json.loads(value or b"")
    except ValueError:
        return None
    kinds = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
    return kinds.get(type(parsed), "null")


def payments_by_order(messages: list[Message]) -> dict[str, dict[str, PaymentEvent]]:
    """Each order's payments in their current state (after dedupe and latest-event-wins)."""
    by_order: dict[str, dict[str, PaymentEvent]] = defaultdict(dict)
    for payment in silver_state(messages, ORDERS, PAYMENTS).payments.values():
        by_order[payment.order_id][payment.payment_id] = payment
    return by_order


def first_arrivals(messages: list[Message]) -> dict[tuple[str, str, str], int]:
    """Position of the first arrival of each (topic, order_id, status) among the valid messages."""
    positions: dict[tuple[str, str, str], int] = {}
    for position, message in enumerate(messages):
        event = event_of(message)
        if event is not None:
            positions.setdefault((message.topic, event.order_id, event.status), position)
    return positions


def replayed_runs(messages: list[Message]) -> list[tuple[int, int]]:
    """(position, length) of each run of messages that repeats, in the same order, a run sent before it."""
    earlier: dict[tuple[str, bytes | None], list[int]] = defaultdict(list)
    runs: list[tuple[int, int]] = []
    origins: set[int] = set()  # where the copy the current run may be of has got to
    for position, message in enumerate(messages):
        sent_before = earlier[message.topic, message.value]
        continued = {origin for origin in sent_before if origin - 1 in origins}
        if continued:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
            origins = continued
        elif sent_before:
            runs.append((position, 1))
            origins = set(sent_before)
        else:
            origins = set()
        sent_before.append(position)
    return runs
