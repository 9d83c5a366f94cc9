"""The DuckDB baseline computes the same Gold as the oracle, minute by minute to the cent (CONTRACT.md rules 1-5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import duckdb_gold, goldcheck
from simulator import eventlog
from simulator.model import Message
from simulator.generator import generate
from simulator.oracle import expect
from simulator.scenario import knobs_from
from tests.messages import DROP, ORDERS, PAYMENTS, order_message, payment_message

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


# Ties on event_ts go to the later line; copies of an event count once; money as numbers and strings;
# payments without payment_id; a payment in another currency; an offset timestamp in another minute.
HAND_WRITTEN = [
    order_message(event_id="e1", total_amount="10.00", event_ts="2026-11-26T10:00:10Z"),
    order_message(event_id="e2", status="updated", total_amount="20.00", event_ts="2026-11-26T10:00:10Z"),  # it wins
    payment_message(event_id="e3", amount_cents=1500, event_ts="2026-11-26T10:01:00Z"),
    payment_message(event_id="e4", payment_id=DROP, amount_cents=500.0, event_ts="2026-11-26T10:01:01.5Z"),
    payment_message(event_id="e4", payment_id=DROP, amount_cents=500.0, event_ts="2026-11-26T10:01:01.5Z"),  # a copy
    # 10:00 UTC, a JSON number
    order_message(event_id="e5", order_id="o-2", total_amount=7.5, event_ts="2026-11-26T11:00:59.999+01:00"),
    payment_message(event_id="e6", order_id="o-2", payment_id=DROP, amount_cents=750, currency="EUR",
                    event_ts="2026-11-26T10:02:00Z"),  # another currency
    payment_message(event_id="e7", order_id="o-2", payment_id="p-2", amount_cents=750, event_ts="2026-11-26T10:03:00Z"),
    payment_message(event_id="e8", order_id="o-2", payment_id="p-2", status="authorized", amount_cents=750,
                    event_ts="2026-11-26T10:02:30Z"),  # stale: arrives later
    order_message(event_id="e9", order_id="o-3", total_amount="5.00", event_ts="2026-11-26T10:05:00Z"),
    payment_message(event_id="e10", order_id="o-3", payment_id="p-3", amount_cents=500,
                    event_ts="2026-11-26T10:05:30Z"),
    order_message(event_id="e11", order_id="o-3", status="cancelled", total_amount="5.00",
                  event_ts="2026-11-26T10:06:00Z"),
    order_message(event_id="e12", order_id="o-4", total_amount="1.00", event_ts="2026-11-26T10:07:00.123456Z"),
    payment_message(event_id="e13", order_id="o-4", payment_id="p-4", amount_cents=99,
                    event_ts="2026-11-26T10:07:30Z"),  # one cent short
]


@pytest.mark.parametrize("messages", [
    pytest.param(HAND_WRITTEN, id="hand-written"),
    pytest.param(generate(400, 5, ORDERS, PAYMENTS, knobs=TRICKY), id="generated"),
])
def test_duckdb_gold_equals_the_oracle(messages: list[Message], tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    eventlog.write(log, messages)

    rows, _seconds = duckdb_gold.gold(log, ORDERS, PAYMENTS)

    expected = expect(messages, ORDERS, PAYMENTS).gold
    assert expected, "a log whose Gold is empty proves nothing"
    assert goldcheck.compare({"DuckDB": rows, "oracle": expected})["first_differences"] == []
    assert rows == expected
