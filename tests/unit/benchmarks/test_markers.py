"""Marker orders: valid events that the oracle counts as one fully paid order in the minute they were sent."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from benchmarks import markers
from simulator.oracle import GoldRow, expect
from simulator.validation import Valid, validate_order, validate_payment

SENT = datetime(2026, 11, 26, 10, 15, 42, 123456, tzinfo=timezone.utc)


def test_a_marker_is_one_fully_paid_order_in_its_minute():
    messages = markers.marker_messages("m-run-00001", SENT, "orders.events", "payments.events")
    assert [(m.topic, m.key) for m in messages] == [("orders.events", "m-run-00001"), ("payments.events", "m-run-00001")]
    assert isinstance(validate_order(messages[0].value), Valid)
    assert isinstance(validate_payment(messages[1].value), Valid)
    expected = expect(messages, "orders.events", "payments.events")
    assert expected.gold == [GoldRow(datetime(2026, 11, 26, 10, 15, tzinfo=timezone.utc), Decimal("1.00"), 1)]


def test_two_markers_are_two_orders_with_events_of_their_own():
    first, second = (markers.marker_messages(f"m-run-{n}", SENT, "o", "p") for n in (1, 2))
    assert {m.value for m in first}.isdisjoint({m.value for m in second})
    assert expect(first + second, "o", "p").total_paid_orders == 2


def test_marker_log_pairs_each_marker_with_when_it_was_seen(tmp_path):
    path = tmp_path / "run.markers.jsonl"
    log = markers.MarkerLog(path)
    log.produced("m-1", 100.0)
    log.produced("m-2", 105.0)
    log.seen("m-1", 112.5)
    log.seen("m-1", 130.0)  # seen again by a later poll: the first sighting counts
    log.seen("m-9", 140.0)  # never produced in this log: ignored
    log.close()
    assert markers.read(path) == {"m-1": {"produced_at": 100.0, "seen_at": 112.5},
                                  "m-2": {"produced_at": 105.0, "seen_at": None}}
    assert markers.read(tmp_path / "missing.jsonl") == {}
