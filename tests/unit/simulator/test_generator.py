"""Unit tests of the generator: deterministic bytes, every message valid, and the contract's cases all present."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from itertools import islice

import pytest

from simulator.generator import DEFAULT_START, EventStream, generate, generate_endless
from simulator.knobs import Knobs
from simulator.model import Message
from simulator.oracle import expect, silver_state
from simulator.validation import Valid, validate_order, validate_payment
from tests.messages import ORDERS, PAYMENTS
from tests.unit.simulator.reading import event_of, payments_by_order, replayed_runs
from tests.unit.simulator.recount import gold_by_sql


@pytest.fixture(scope="module")
def messages() -> list[Message]:
    return generate(2000, 42, ORDERS, PAYMENTS)


@pytest.fixture(scope="module")
def raw(messages) -> list[tuple[Message, dict]]:
    """Each message with its JSON as written: money as Decimal when it was a number, str when a string."""
    return [(message, json.loads(message.value, parse_float=Decimal)) for message in messages]


def test_same_seed_gives_identical_bytes():
    assert generate(300, 7, ORDERS, PAYMENTS) == generate(300, 7, ORDERS, PAYMENTS)


def test_different_seeds_differ():
    first, second = generate(300, 7, ORDERS, PAYMENTS), generate(300, 8, ORDERS, PAYMENTS)
    assert {m.value for m in first}.isdisjoint({m.value for m in second})


def test_topics_are_the_given_names():
    assert {m.topic for m in generate(50, 1, "a", "b")} == {"a", "b"}


def test_start_without_zone_is_refused():
    with pytest.raises(ValueError, match="time zone"):
        generate(1, 1, ORDERS, PAYMENTS, start=datetime(2026, 11, 26, 10))


def test_every_message_is_valid_and_keyed_by_its_order(messages):
    for message in messages:
        outcome = validate_order(message.value) if message.topic == ORDERS else validate_payment(message.value)
        assert isinstance(outcome, Valid), (outcome, message)
        assert message.key == outcome.event.order_id


def test_every_order_event_totals_its_items(raw):
    for message, value in raw:
        if message.topic == ORDERS:
            items_total = sum(Decimal(item["unit_price"]) * item["quantity"] for item in value["items"])
            assert Decimal(value["total_amount"]) == items_total
            assert 1 <= len(value["items"]) <= 4
            assert {type(value["total_amount"])} == {type(item["unit_price"]) for item in value["items"]}


def test_orders_are_created_within_the_hour_after_start(messages):
    silver = silver_state(messages, ORDERS, PAYMENTS)
    created = sorted(state.order_ts for state in silver.orders.values())
    assert len(silver.orders) == 2000
    assert DEFAULT_START <= created[0] and created[-1] < DEFAULT_START + timedelta(minutes=60)
    # Several orders in every minute of the hour.
    assert len({ts.replace(second=0, microsecond=0) for ts in created}) == 60


def test_messages_arrive_mostly_in_event_time_order(messages):
    times = [
        (validate_order(m.value) if m.topic == ORDERS else validate_payment(m.value)).event.event_ts for m in messages
    ]
    backwards = sum(later < earlier - timedelta(seconds=1) for earlier, later in zip(times, times[1:]))
    assert 0 < backwards < len(messages) * 0.1


def test_redeliveries_repeat_earlier_bytes_later_in_the_stream(messages):
    first_seen: dict[bytes, int] = {}
    redelivered = []
    for position, message in enumerate(messages):
        if message.value in first_seen:
            redelivered.append(position - first_seen[message.value])
        first_seen.setdefault(message.value, position)
    assert len(messages) * 0.01 < len(redelivered) < len(messages) * 0.03
    assert min(redelivered) > 0


def test_timestamps_come_in_utc_and_offset_spellings(raw):
    suffixes = {value["event_ts"][-6:] for _, value in raw if not value["event_ts"].endswith("Z")}
    assert suffixes == {"+01:00", "-05:00"}
    utc_spellings = [value["event_ts"] for _, value in raw if value["event_ts"].endswith("Z")]
    fractions = {len(ts.rstrip("Z").split(".")[-1]) if "." in ts else 0 for ts in utc_spellings}
    assert fractions == {0, 3, 6}


def test_money_comes_as_strings_and_as_numbers(raw):
    kinds = {type(value["total_amount"]) for message, value in raw if message.topic == ORDERS}
    assert kinds == {str, Decimal}
    for message, value in raw:
        if message.topic == ORDERS:
            assert Decimal(value["total_amount"]).as_tuple().exponent == -2, value["total_amount"]


def test_some_payments_have_no_payment_id(raw):
    spellings = {
        "absent" if "payment_id" not in value else "null" if value["payment_id"] is None else "id"
        for message, value in raw
        if message.topic == PAYMENTS
    }
    assert spellings == {"absent", "null", "id"}


def test_mix_contains_every_payment_case(messages):
    silver = silver_state(messages, ORDERS, PAYMENTS)
    payments = payments_by_order(messages)
    split = one_cent_short = failed_then_paid = refunded = other_currency = 0
    for order_id, state in silver.orders.items():
        order, own = state.latest, payments.get(order_id, {})
        captured = [p for p in own.values() if p.status == "captured"]
        if len(captured) == 2 and sum(p.amount for p in captured) == order.total_amount:
            split += 1
        if state.paid_amount == order.total_amount - Decimal("0.01"):
            one_cent_short += 1
        if any(p.status == "failed" for p in own.values()) and state.fully_paid:
            failed_then_paid += 1
        if any(p.status == "refunded" for p in own.values()) and not state.fully_paid:
            refunded += 1
        if captured and all(p.currency != order.currency for p in captured):
            other_currency += 1
    assert min(split, one_cent_short, failed_then_paid, refunded, other_currency) >= 5


def test_mix_contains_cancelled_updated_and_unpaid_orders(messages):
    silver = silver_state(messages, ORDERS, PAYMENTS)
    payments = payments_by_order(messages)
    created_totals = {
        event.order_id: event.total_amount
        for m in messages
        if m.topic == ORDERS and (event := validate_order(m.value).event).status == "created"
    }
    states = silver.orders.values()
    cancelled_paid = [s for s in states if s.latest.status == "cancelled" and s.paid_amount >= s.latest.total_amount]
    cancelled_unpaid = [s for s in states if s.latest.status == "cancelled" and s.paid_amount == 0]
    updated_and_paid = [
        s
        for s in states
        if s.latest.status == "updated" and s.latest.total_amount != created_totals[s.latest.order_id] and s.fully_paid
    ]
    unpaid = [s for s in states if s.latest.status == "created" and not payments.get(s.latest.order_id)]
    assert min(len(cancelled_paid), len(cancelled_unpaid), len(updated_and_paid), len(unpaid)) >= 5


def test_some_payments_arrive_before_their_order(messages):
    seen_orders: set[str] = set()
    early = set()
    for message in messages:
        if message.topic == ORDERS:
            seen_orders.add(message.key)
        elif message.key not in seen_orders:
            early.add(message.key)
    assert early


def test_oracle_gold_on_generated_events(messages):
    expected = expect(messages, ORDERS, PAYMENTS)
    assert expected.gold
    assert all(row.gmv.as_tuple().exponent == -2 and row.gmv > 0 for row in expected.gold)
    assert [row.minute_bucket for row in expected.gold] == sorted({row.minute_bucket for row in expected.gold})
    assert expected.gold == gold_by_sql(messages, ORDERS, PAYMENTS)
    assert 0.5 < expected.total_paid_orders / expected.silver_orders < 0.9
    assert expected.orders.quarantined == expected.payments.quarantined == 0
    assert expected.orders.duplicates + expected.payments.duplicates > 0
    assert expected.gold[0].minute_bucket.tzinfo == timezone.utc


# -- knobs -----------------------------------------------------------------------------------------------


def test_default_knobs_are_the_knobs_left_out():
    assert generate(200, 3, ORDERS, PAYMENTS, knobs=Knobs()) == generate(200, 3, ORDERS, PAYMENTS)


def test_replayed_batches_repeat_contiguous_runs_of_sent_messages_later():
    knobs = Knobs(redelivered_share=0.0, replayed_batches=3, replayed_batch_size=40)
    messages = generate(200, 3, ORDERS, PAYMENTS, knobs=knobs)
    runs = replayed_runs(messages)
    assert [length for _, length in runs] == [40, 40, 40]
    assert len(messages) == len(generate(200, 3, ORDERS, PAYMENTS, knobs=Knobs(redelivered_share=0.0))) + 120


def test_malformed_twins_come_next_to_their_events_and_never_validate():
    knobs = Knobs(malformed_share=0.5, redelivered_share=0.0)
    messages = generate(100, 3, ORDERS, PAYMENTS, knobs=knobs)
    valid_keys = [m.key if event_of(m) is not None else None for m in messages]
    twins = [position for position, key in enumerate(valid_keys) if key is None]
    # Half the events have a twin on top: a third of the messages.
    assert len(twins) == pytest.approx(len(messages) / 3, rel=0.1)
    for position in twins:
        assert messages[position].key in valid_keys[max(0, position - 30) : position + 30]


def test_malformed_only_sends_nothing_valid():
    messages = generate(50, 3, ORDERS, PAYMENTS, knobs=Knobs(malformed_share=1.0, malformed_only=True))
    assert messages and all(event_of(message) is None for message in messages)


def test_endless_generation_is_deterministic_and_lazy(monkeypatch):
    played = []
    play_window = EventStream.play_window

    def counted(stream: EventStream, start: datetime):
        played.append(start)
        return play_window(stream, start)

    monkeypatch.setattr(EventStream, "play_window", counted)
    first = list(islice(generate_endless(100, 3, ORDERS, PAYMENTS), 1000))
    assert played == [DEFAULT_START + timedelta(hours=n) for n in range(len(played))] and 3 <= len(played) <= 5
    assert first == list(islice(generate_endless(100, 3, ORDERS, PAYMENTS), 1000))


def test_endless_windows_follow_one_another_in_event_time():
    messages = list(islice(generate_endless(100, 3, ORDERS, PAYMENTS), 3000))
    silver = silver_state(messages, ORDERS, PAYMENTS)
    hours = {state.order_ts.replace(minute=0, second=0, microsecond=0) for state in silver.orders.values()}
    assert {DEFAULT_START + timedelta(hours=n) for n in range(8)} <= hours
    assert len({order_id for order_id in silver.orders}) == len(silver.orders) > 800
    times = [event_of(message).event_ts for message in messages]
    assert sum(later < earlier - timedelta(minutes=1) for earlier, later in zip(times, times[1:])) < len(times) * 0.05
