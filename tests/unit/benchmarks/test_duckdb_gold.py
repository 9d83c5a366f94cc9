"""The DuckDB baseline computes the same Gold as the oracle, minute by minute to the cent (CONTRACT.md rules 1-5)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import duckdb_gold, goldcheck
from simulator import eventlog
from simulator.model import Message
from simulator.generator import generate
from simulator.oracle import reconcile
from simulator.scenario import knobs_from

ORDERS, PAYMENTS = "orders.events", "payments.events"

# Redeliveries and replayed batches, split and short payments, late and overtaking events: all at once.
TRICKY = knobs_from({
    "stories": {"paid": 10, "split_paid": 10, "split_one_cent_short": 5, "one_cent_short": 5, "overpaid": 5,
                "failed_then_paid": 5, "refunded": 5, "stale_authorized": 5, "cancelled_after_paid": 5,
                "updated_after_paid": 5, "updated_then_paid": 5, "other_currency_paid": 5, "unpaid": 5},
    "window": "2h",
    "redelivered_share": 0.1,
    "replayed_batches": 2,
    "replayed_batch_size": 50,
    "late_share": 0.1,
    "late_delay": ["30m", "3h"],
    "payment_before_order_share": 0.25,
    "cancel_before_create_share": 0.5,
    "update_before_create_share": 0.5,
})


def order(event_id: str, order_id: str, status: str, total: str | float, ts: str, currency: str = "USD") -> Message:
    value = {"event_id": event_id, "order_id": order_id, "user_id": "u-1", "status": status, "currency": currency,
             "total_amount": total, "event_ts": ts}
    return Message(ORDERS, order_id, json.dumps(value).encode())


def payment(event_id: str, order_id: str, status: str, cents: int | float, ts: str, payment_id: str | None = None,
            currency: str = "USD") -> Message:
    value = {"event_id": event_id, "order_id": order_id, "status": status, "amount_cents": cents,
             "currency": currency, "event_ts": ts}
    if payment_id is not None:
        value["payment_id"] = payment_id
    return Message(PAYMENTS, order_id, json.dumps(value).encode())


# Ties on event_ts go to the later line; copies of an event count once; money as numbers and strings;
# payments without payment_id; a payment in another currency; an offset timestamp in another minute.
HAND_WRITTEN = [
    order("e1", "o-1", "created", "10.00", "2026-11-26T10:00:10Z"),
    order("e2", "o-1", "updated", "20.00", "2026-11-26T10:00:10Z"),  # same event_ts, later line: it wins
    payment("e3", "o-1", "captured", 1500, "2026-11-26T10:01:00Z", payment_id="p-1"),
    payment("e4", "o-1", "captured", 500.0, "2026-11-26T10:01:01.5Z"),  # no payment_id
    payment("e4", "o-1", "captured", 500.0, "2026-11-26T10:01:01.5Z"),  # a copy
    order("e5", "o-2", "created", 7.5, "2026-11-26T11:00:59.999+01:00"),  # 10:00 UTC, a JSON number
    payment("e6", "o-2", "captured", 750, "2026-11-26T10:02:00Z", currency="EUR"),  # another currency
    payment("e7", "o-2", "captured", 750, "2026-11-26T10:03:00Z", payment_id="p-2"),
    payment("e8", "o-2", "authorized", 750, "2026-11-26T10:02:30Z", payment_id="p-2"),  # stale: arrives later
    order("e9", "o-3", "created", "5.00", "2026-11-26T10:05:00Z"),
    payment("e10", "o-3", "captured", 500, "2026-11-26T10:05:30Z", payment_id="p-3"),
    order("e11", "o-3", "cancelled", "5.00", "2026-11-26T10:06:00Z"),
    order("e12", "o-4", "created", "1.00", "2026-11-26T10:07:00.123456Z"),
    payment("e13", "o-4", "captured", 99, "2026-11-26T10:07:30Z", payment_id="p-4"),  # one cent short
]


@pytest.mark.parametrize("messages", [
    pytest.param(HAND_WRITTEN, id="hand-written"),
    pytest.param(generate(400, 5, ORDERS, PAYMENTS, knobs=TRICKY), id="generated"),
])
def test_duckdb_gold_equals_the_oracle(messages: list[Message], tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    eventlog.write(log, messages)

    rows, _seconds = duckdb_gold.gold(log, ORDERS, PAYMENTS)

    expected = reconcile(messages, ORDERS, PAYMENTS).gold
    assert expected, "a log whose Gold is empty proves nothing"
    assert goldcheck.compare({"DuckDB": rows, "oracle": expected})["first_differences"] == []
    assert rows == expected
