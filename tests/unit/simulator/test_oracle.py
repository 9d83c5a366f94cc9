"""Unit tests of the oracle: one hand-written message set per CONTRACT.md rule, compared with the Gold it implies."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.model import Message
from simulator.oracle import Expected, GoldRow, Oracle, TopicCounts, expect, silver_state
from simulator.validation import Invalid
from tests.messages import DROP, ORDERS, PAYMENTS, Raw, order_message, payment_message
from tests.unit.simulator.recount import topic_counts


def gold(*messages: Message) -> list[GoldRow]:
    return expect(messages, ORDERS, PAYMENTS).gold


def row(minute: str, gmv: str, paid_orders: int = 1) -> GoldRow:
    return GoldRow(datetime.fromisoformat(minute).replace(tzinfo=timezone.utc), Decimal(gmv), paid_orders)


PAID_ORDER_ROW = row("2026-11-26T10:15", "39.98")


def test_a_paid_order_makes_one_gold_row():
    assert gold(order_message(), payment_message()) == [PAID_ORDER_ROW]


def test_payments_adding_up_beyond_decimal_18_2_pay_in_full_with_paid_amount_capped():
    most = "9999999999999999.99"
    messages = [order_message(total_amount=Raw(most)),
                *(payment_message(payment_id=f"p-{n}", amount_cents=Raw("900000000000000000")) for n in (1, 2))]
    assert silver_state(messages, ORDERS, PAYMENTS).orders["o-1"].paid_amount == Decimal(most)
    assert gold(*messages) == [row("2026-11-26T10:15", most)]


# -- rule 1: an event_id counts once ----------------------------------------------------------------------------------


def test_duplicates_count_once():
    created, captured = order_message(), payment_message()
    expected = expect([created, captured, created, captured, captured], ORDERS, PAYMENTS)
    assert expected.gold == [PAID_ORDER_ROW]
    assert expected.orders == TopicCounts(ORDERS, produced=2, clean=1, duplicates=1, quarantined=0)
    assert expected.payments == TopicCounts(PAYMENTS, produced=3, clean=1, duplicates=2, quarantined=0)


def test_first_occurrence_of_an_event_id_wins():
    # A replay that reuses an event_id with other content is still the same event.
    original = order_message(total_amount="39.98", event_id="same")
    altered = order_message(total_amount="10.00", event_id="same", event_ts="2026-11-26T10:20:00Z")
    assert gold(original, altered, payment_message()) == [PAID_ORDER_ROW]


def test_a_batch_replayed_hours_later_counts_once():
    batch = [order_message(), payment_message()]
    replayed = [*batch, order_message(order_id="o-2", event_ts="2026-11-26T10:20:00Z"), *batch]
    expected = expect(replayed, ORDERS, PAYMENTS)
    assert expected.gold == [PAID_ORDER_ROW]
    assert (expected.orders.duplicates, expected.payments.duplicates) == (1, 1)


# -- rule 2: an order is its latest event by event_ts, ties to the later message; order_ts is the earliest ------------


def test_order_state_is_its_latest_event_by_event_ts_not_arrival():
    update = order_message(status="updated", total_amount="50.00", event_ts="2026-11-26T10:17:00Z")
    create = order_message(status="created", total_amount="39.98", event_ts="2026-11-26T10:15:42Z")
    assert gold(update, create, payment_message(amount_cents=3998)) == []
    assert gold(update, create, payment_message(amount_cents=5000)) == [row("2026-11-26T10:15", "50.00")]


def test_equal_event_ts_is_broken_by_the_later_message():
    same_ts = "2026-11-26T10:17:00Z"
    cancelled = order_message(status="cancelled", event_ts=same_ts)
    updated = order_message(status="updated", event_ts=same_ts)
    assert gold(updated, cancelled, payment_message()) == []
    assert gold(cancelled, updated, payment_message()) == [row("2026-11-26T10:17", "39.98")]


def test_equal_event_ts_written_in_other_zones_is_still_a_tie():
    cancelled = order_message(status="cancelled", event_ts="2026-11-26T10:17:00.000Z")
    updated = order_message(status="updated", event_ts="2026-11-26T11:17:00+01:00")
    assert gold(cancelled, updated, payment_message()) == [row("2026-11-26T10:17", "39.98")]


def test_order_ts_is_the_earliest_event_ts_whatever_arrives_first():
    update = order_message(status="updated", event_ts="2026-11-26T10:21:59Z")
    create = order_message(status="created", event_ts="2026-11-26T05:14:59.999-05:00")
    assert gold(update, payment_message(), create) == [row("2026-11-26T10:14", "39.98")]


# -- rule 3: a payment is its latest event; only captured ones in the order's currency count --------------------------


def test_only_captured_payments_count():
    authorized = payment_message(status="authorized", payment_id="p-1", event_ts="2026-11-26T10:16:00Z")
    failed = payment_message(status="failed", payment_id="p-2")
    assert gold(order_message(), authorized) == []
    assert gold(order_message(), failed) == []


def test_refund_undoes_a_capture_even_when_it_arrives_first():
    captured = payment_message(status="captured", event_ts="2026-11-26T10:16:03Z")
    refunded = payment_message(status="refunded", event_ts="2026-11-26T10:40:00Z")
    assert gold(order_message(), captured, refunded) == []
    assert gold(order_message(), refunded, captured) == []


def test_a_stale_authorization_arriving_after_the_capture_does_not_undo_it():
    authorized = payment_message(status="authorized", event_ts="2026-11-26T10:16:00Z")
    captured = payment_message(status="captured", event_ts="2026-11-26T10:16:03Z")
    assert gold(order_message(), captured, authorized) == [PAID_ORDER_ROW]
    assert silver_state([order_message(), captured, authorized], ORDERS, PAYMENTS).payments["p-1"].status == "captured"


def test_equal_event_ts_of_payments_is_broken_by_the_later_message():
    same_ts = "2026-11-26T10:16:03Z"
    refunded = payment_message(status="refunded", event_ts=same_ts)
    captured = payment_message(status="captured", event_ts=same_ts)
    assert gold(order_message(), refunded, captured) == [PAID_ORDER_ROW]
    assert gold(order_message(), captured, refunded) == []


def test_payment_in_another_currency_does_not_count():
    assert gold(order_message(currency="EUR"), payment_message(currency="USD")) == []
    # The order's current currency decides: an update to USD makes the USD payment count.
    switched = order_message(status="updated", currency="USD", event_ts="2026-11-26T10:16:30Z")
    assert gold(order_message(currency="EUR"), payment_message(currency="USD"), switched) == [PAID_ORDER_ROW]


def test_payment_of_an_order_that_never_appears_counts_for_nothing():
    expected = expect([payment_message(order_id="o-404"), order_message(), payment_message()], ORDERS, PAYMENTS)
    assert expected.gold == [PAID_ORDER_ROW]
    assert expected.payments.clean == 2


def test_events_without_payment_id_are_separate_payments_by_their_synthetic_id():
    # Each event hashes its own event_ts, so a refund without payment_id cannot undo a capture without one.
    captured = payment_message(status="captured", payment_id=DROP, event_ts="2026-11-26T10:16:03Z")
    refunded = payment_message(status="refunded", payment_id=DROP, event_ts="2026-11-26T10:40:00Z")
    silver = silver_state([order_message(), captured, refunded], ORDERS, PAYMENTS)
    assert sorted(p.status for p in silver.payments.values()) == ["captured", "refunded"]
    assert all(payment_id.startswith("syn-") for payment_id in silver.payments)
    assert gold(order_message(), captured, refunded) == [PAID_ORDER_ROW]


# -- rule 4: fully paid = not cancelled and paid_amount >= total_amount; partial payments add up ----------------------


def test_partial_payments_add_up():
    first = payment_message(amount_cents=2000, payment_id="p-1")
    second = payment_message(amount_cents=2000, payment_id="p-2", event_ts="2026-11-26T10:18:00Z")
    assert gold(order_message(total_amount="39.98"), first, second) == [PAID_ORDER_ROW]
    silver = silver_state([order_message(), first, second], ORDERS, PAYMENTS)
    assert silver.orders["o-1"].paid_amount == Decimal("40.00")


def test_one_cent_short_is_not_paid():
    assert gold(order_message(total_amount="39.98"), payment_message(amount_cents=3997)) == []
    halves = payment_message(amount_cents=1998, payment_id="a"), payment_message(amount_cents=1999, payment_id="b")
    assert gold(order_message(total_amount="39.98"), *halves) == []


def test_an_overpaid_order_is_fully_paid_for_its_total():
    expected = expect([order_message(total_amount="39.98"), payment_message(amount_cents=5000)], ORDERS, PAYMENTS)
    assert expected.gold == [PAID_ORDER_ROW]


def test_failed_then_retried_payment_pays():
    failed = payment_message(status="failed", payment_id="p-1", event_ts="2026-11-26T10:16:00Z")
    retried = payment_message(status="captured", payment_id="p-2", event_ts="2026-11-26T10:17:00Z")
    assert gold(order_message(), failed, retried) == [PAID_ORDER_ROW]


def test_cancelled_order_is_not_paid_even_when_captured():
    cancel = order_message(status="cancelled", event_ts="2026-11-26T10:30:00Z")
    assert gold(order_message(), payment_message(), cancel) == []
    assert gold(cancel, payment_message(), order_message()) == []


# -- rule 5: gold per minute of order_ts, only minutes with fully paid orders -----------------------------------------


def test_gold_sums_per_minute_and_skips_minutes_without_paid_orders():
    messages = [
        order_message(order_id="o-1", total_amount="10.00", event_ts="2026-11-26T10:00:59.999Z"),
        order_message(order_id="o-2", total_amount="0.01", event_ts="2026-11-26T10:00:00Z"),
        order_message(order_id="o-3", total_amount="5.55", event_ts="2026-11-26T10:01:30Z"),
        order_message(order_id="o-4", total_amount="7.00", event_ts="2026-11-26T10:03:00Z"),
        payment_message(amount_cents=1000, order_id="o-1", payment_id="p-1"),
        payment_message(amount_cents=1, order_id="o-2", payment_id="p-2"),
        payment_message(amount_cents=700, order_id="o-4", payment_id="p-4"),
    ]
    assert gold(*messages) == [row("2026-11-26T10:00", "10.01", 2), row("2026-11-26T10:03", "7.00", 1)]


# -- rule 6: bad input is kept, not counted; produced = clean + quarantined + duplicates ------------------------------


def test_bad_input_is_quarantined_and_never_counts():
    missing_total = order_message(event_id="bad", total_amount=DROP)
    messages = [
        Message(ORDERS, "o-1", b"{not json"),
        missing_total,
        missing_total,
        order_message(order_id="o-2", total_amount="1.234"),
        order_message(event_id="bad"),
        Message(PAYMENTS, "o-1", None),
        payment_message(),
    ]
    expected = expect(messages, ORDERS, PAYMENTS)
    assert expected.gold == [PAID_ORDER_ROW]
    reasons = Counter({"invalid_json": 1, "missing_field:total_amount": 2, "too_many_decimals:total_amount": 1})
    assert expected.orders == TopicCounts(ORDERS, 5, clean=1, duplicates=0, quarantined=4, quarantine_reasons=reasons)
    assert expected.payments == TopicCounts(PAYMENTS, 2, 1, 0, 1, Counter({"empty_message": 1}))
    assert (expected.silver_orders, expected.silver_payments) == (1, 1)


def test_a_malformed_message_is_never_a_duplicate_nor_hides_a_valid_one():
    valid = order_message(event_id="e-1")
    broken = Message(ORDERS, "o-1", valid.value.replace(b'"USD"', b'"usd"'))  # same event_id, invalid currency
    expected = expect([broken, broken, valid, valid], ORDERS, PAYMENTS)
    assert expected.orders == TopicCounts(
        ORDERS, produced=4, clean=1, duplicates=1, quarantined=2, quarantine_reasons=Counter({"invalid_currency": 2})
    )
    assert expect([broken, valid, payment_message()], ORDERS, PAYMENTS).gold == [PAID_ORDER_ROW]


def test_a_message_on_another_topic_is_an_error():
    with pytest.raises(ValueError, match="elsewhere"):
        expect([Message("elsewhere", None, b"{}")], ORDERS, PAYMENTS)


MESSAGE_POOL = [
    order_message(),
    order_message(status="cancelled", event_ts="2026-11-26T10:30:00Z"),
    order_message(order_id="o-2", total_amount="5.00"),
    payment_message(),
    payment_message(amount_cents=500, order_id="o-2", payment_id=DROP),
    payment_message(status="refunded", event_ts="2026-11-26T10:31:00Z"),
    Message(ORDERS, "o-1", b"[]"),
    Message(PAYMENTS, None, b"\xff"),
    Message(PAYMENTS, "o-2", None),
]
# The pool's bad input by its value, with the reason README's "Quarantine reasons" gives it; the rest is valid.
POOL_REASONS = {b"[]": "not_an_object", b"\xff": "invalid_utf8", None: "empty_message"}


def read_by_hand(message: Message) -> str | Invalid:
    if message.value in POOL_REASONS:
        return Invalid(POOL_REASONS[message.value])
    return json.loads(message.value)["event_id"]


@given(st.lists(st.sampled_from(MESSAGE_POOL), max_size=30))
def test_no_message_is_lost(messages):
    expected = expect(messages, ORDERS, PAYMENTS)
    readings = [read_by_hand(message) for message in messages]
    assert (expected.orders, expected.payments) == (
        topic_counts(messages, readings, ORDERS), topic_counts(messages, readings, PAYMENTS))


# -- rule 7: arrival order does not matter ----------------------------------------------------------------------------


def test_payment_before_its_order_still_pays_it():
    assert gold(payment_message(), order_message()) == [PAID_ORDER_ROW]


# Redeliveries and malformed messages move nothing either: every event_ts of one order or payment differs.
@given(st.permutations(MESSAGE_POOL + MESSAGE_POOL[:6]))
def test_gold_does_not_depend_on_arrival_order_when_event_ts_differ(messages):
    assert expect(messages, ORDERS, PAYMENTS).gold == [row("2026-11-26T10:15", "5.00")]


# -- folding and the expected file ------------------------------------------------------------------------------------


def test_the_oracle_can_report_midway_and_go_on():
    oracle = Oracle(ORDERS, PAYMENTS)
    for message in MESSAGE_POOL[:4]:
        oracle.add(message)
    assert oracle.expected() == expect(MESSAGE_POOL[:4], ORDERS, PAYMENTS)
    for message in MESSAGE_POOL[4:]:
        oracle.add(message)
    assert oracle.expected() == expect(MESSAGE_POOL, ORDERS, PAYMENTS)
    assert oracle.silver() == silver_state(MESSAGE_POOL, ORDERS, PAYMENTS)


def test_expected_json_round_trips_with_decimal_strings_and_utc_minutes():
    messages = [order_message(), payment_message(), order_message(), Message(ORDERS, "o-9", b"x")]
    expected = expect(messages, ORDERS, PAYMENTS)
    document = json.loads(expected.to_json())
    assert document == {
        "format": 1,
        "gold": [{"minute_bucket": "2026-11-26T10:15:00Z", "gmv": "39.98", "paid_orders": 1}],
        "totals": {"gmv": "39.98", "paid_orders": 1},
        "silver": {"orders": 1, "payments": 1},
        "topics": {
            "orders": {
                "topic": ORDERS,
                "produced": 3,
                "clean": 2,
                "duplicates": 0,
                "quarantined": 1,
                "quarantine_reasons": {"invalid_json": 1},
            },
            "payments": {
                "topic": PAYMENTS,
                "produced": 1,
                "clean": 1,
                "duplicates": 0,
                "quarantined": 0,
                "quarantine_reasons": {},
            },
        },
    }
    assert Expected.from_json(expected.to_json()) == expected
