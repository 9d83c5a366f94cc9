"""Properties of the Silver transforms on generated event sets, each test named for its invariant.

An example is several independent event sets (a few orders, a few payments each, redeliveries,
malformed messages), each with its own id prefix, so that one Spark job checks them all: a Spark
job costs about a second however few rows it reads.
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from functools import reduce

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings, strategies as st
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StructField, StructType
from pyspark.testing import assertDataFrameEqual

from contract import MAX_AMOUNT_CENTS
from pipeline.schemas import ORDER, PAYMENT
from pipeline.silver.events import COORDINATES, first_delivery, typed_events
from pipeline.silver.order_payments_enriched import enrich
from pipeline.silver.orders_clean import clean_orders
from pipeline.silver.payments_clean import cents_to_amount, clean_payments
from pipeline.silver.quarantine import quarantine
from simulator.model import Message
from simulator.oracle import silver_state
from simulator.validation import Valid, validate_order, validate_payment
from tests.bronze import Kafka, bronze_frames
from tests.messages import DROP, ORDERS, PAYMENTS, Raw, order, order_message, payment, payment_message
from tests.profiles import examples, is_thorough

pytestmark = pytest.mark.usefixtures("interpreted")

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=timezone.utc)
STAMP = "2026-11-26T13:00:00.000000Z"
if is_thorough():
    # As wide as CONTRACT.md allows: any three capital letters, any amount up to decimal(18,2)'s
    # limit, events days apart, in any offset up to ±18:00, with up to 9 fraction digits.
    CURRENCY = st.text(string.ascii_uppercase, min_size=3, max_size=3)
    # Half the draws in the upper half: two such payments sum beyond the limit, where paid_amount is capped.
    TOTAL_CENTS = PAYMENT_CENTS = st.one_of(st.integers(0, MAX_AMOUNT_CENTS),
                                            st.integers(MAX_AMOUNT_CENTS // 2, MAX_AMOUNT_CENTS))
    TRAILING_ZEROS = st.sampled_from(("", "0", "000"))  # by value: 39.980 is 39.98
    ZONE = st.integers(-18 * 60, 18 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
    FRACTION = st.sampled_from(("", ".000", ".5", ".123456", ".999999999"))
    SLOT_SECONDS = 2 * 24 * 3600
    TIE_SECONDS = 9 * 3600 + 7 * 60
else:
    CURRENCY = st.sampled_from(("USD", "EUR"))
    # Around the totals, so that one payment, two payments or one cent short all happen.
    TOTAL_CENTS = st.sampled_from((1000, 1999, 2000, 3998, 4000))
    PAYMENT_CENTS = st.sampled_from((0, 1, 999, 1000, 1999, 2000, 3998, 3999, 4000))
    TRAILING_ZEROS = st.just("")
    # The same instant can be written in several zones: a tie on event_ts need not look like one.
    ZONE = st.sampled_from((timezone.utc, timezone(timedelta(hours=1)), timezone(-timedelta(hours=5, minutes=30))))
    FRACTION = st.sampled_from(("", ".000"))
    SLOT_SECONDS = 60
    TIE_SECONDS = 1
# Fields of a clean row that say where and when it arrived, not what happened.
ARRIVAL = (*COORDINATES, "ingest_ts", "kafka_timestamp")
VALIDATE = {ORDERS: validate_order, PAYMENTS: validate_payment}
# Spark jobs are slow, generating events is not: no shrinking (a failure prints its example).
SPARK_EXAMPLES = dict(deadline=None, phases=(Phase.explicit, Phase.generate),
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

BAD_ORDERS = (
    lambda event_id, order_id: order(event_id=event_id, order_id=order_id, currency="usd"),
    lambda event_id, order_id: order(event_id=event_id, order_id=order_id, total_amount="1.234"),
    lambda event_id, order_id: order(event_id=event_id, order_id=order_id, total_amount=Raw("-1.00")),
    lambda event_id, order_id: order(event_id=event_id, order_id=order_id, event_ts="2026-11-26T10:00:00"),
    lambda event_id, order_id: order(event_id=event_id, order_id=order_id, user_id=DROP),
    lambda event_id, order_id: order(event_id=event_id, order_id=order_id, status="shipped"),
    lambda event_id, order_id: b'{"event_id": "' + event_id.encode() + b'", "order_id": ',
    lambda event_id, order_id: b"[]",
    lambda event_id, order_id: None,
)
BAD_PAYMENTS = (
    lambda event_id, order_id: payment(event_id=event_id, order_id=order_id, amount_cents=Raw("-1")),
    lambda event_id, order_id: payment(event_id=event_id, order_id=order_id, amount_cents="3998"),
    lambda event_id, order_id: payment(event_id=event_id, order_id=order_id, amount_cents=Raw("39.98")),
    lambda event_id, order_id: payment(event_id=event_id, order_id=order_id, status="settled"),
    lambda event_id, order_id: payment(event_id=event_id, order_id=order_id, event_ts="26/11/2026 10:00"),
    lambda event_id, order_id: b'{"event_id": "\xff"}',
    lambda event_id, order_id: b"",
)


# -- generated events ------------------------------------------------------------------------------------


@st.composite
def event_ts(draw, second: int) -> str:
    """T0 + `second`, written in a ZONE, with a FRACTION of a second (beyond the microsecond, cut off)."""
    local = (T0 + timedelta(seconds=second)).astimezone(draw(ZONE))
    offset = local.strftime("%z")
    zone = "Z" if offset == "+0000" else f"{offset[:3]}:{offset[3:]}"
    return local.strftime("%Y-%m-%dT%H:%M:%S") + draw(FRACTION) + zone


@st.composite
def money(draw, cents: int) -> str | Raw:
    """`cents` as a decimal string or a JSON number."""
    text = f"{cents // 100}.{cents % 100:02d}" + draw(TRAILING_ZEROS)
    return Raw(text) if draw(st.booleans()) else text


@st.composite
def instants(draw, count: int, ties: bool, slot: int = 0) -> list[int]:
    """Seconds after T0 for `count` events of one key: a few TIE_SECONDS apart, so that they tie, when
    `ties`; otherwise distinct, within the `slot`th SLOT_SECONDS after T0."""
    if ties:
        return [n * TIE_SECONDS for n in draw(st.lists(st.integers(0, 3), min_size=count, max_size=count))]
    first = slot * SLOT_SECONDS
    return draw(st.lists(st.integers(first, first + SLOT_SECONDS - 1), min_size=count, max_size=count, unique=True))


@st.composite
def order_events(draw, order_id: str, currency: str, total_cents: int, ties: bool) -> list[Message]:
    messages = []
    for n, second in enumerate(draw(instants(draw(st.integers(1, 3)), ties))):
        messages.append(order_message(
            event_id=f"{order_id}-e{n}", order_id=order_id, user_id=f"u-{order_id}",
            status=draw(st.sampled_from(("created", "updated", *ORDER.statuses))),
            # An update may change the currency, which decides which payments count, or the total.
            currency=draw(st.one_of(st.just(currency), CURRENCY)),
            total_amount=draw(money(draw(st.one_of(st.just(total_cents), TOTAL_CENTS)))),
            event_ts=draw(event_ts(second)),
        ))
    return messages


@st.composite
def payment_events(draw, order_id: str, number: int, currency: str, total_cents: int, ties: bool) -> list[Message]:
    """The transitions of the order's `number`th payment, mostly in the order's currency and for
    (part of) its total. Without a payment_id, each event gets a synthetic one of its own: without
    ties, each payment's events fall in a slot of their own, so no two synthetic ids meet."""
    payment_id = f"{order_id}-p{number}"
    anonymous = draw(st.integers(0, 4)) == 0
    cents = draw(st.one_of(st.sampled_from((total_cents, total_cents // 2 + 1, max(total_cents - 1, 0))),
                           PAYMENT_CENTS))
    currency = draw(st.one_of(st.just(currency), st.just(currency), CURRENCY))
    return [
        payment_message(
            event_id=f"{payment_id}-e{n}", payment_id=DROP if anonymous else payment_id, order_id=order_id,
            status=draw(st.sampled_from(("captured", *PAYMENT.statuses))), amount_cents=Raw(str(cents)),
            currency=currency, event_ts=draw(event_ts(second)),
        )
        for n, second in enumerate(draw(instants(draw(st.integers(1, 3)), ties, slot=number)))
    ]


@st.composite
def event_set(draw, prefix: str, ties: bool, replays: bool) -> list[Message]:
    """A few orders and their payments in a random arrival order, with byte-identical redeliveries,
    malformed messages (some reusing a valid event's id) and, when `replays`, valid events replayed
    with other content under the same event_id (the first delivery wins: rule 1)."""
    valid = []
    for n in range(draw(st.integers(1, 3))):
        order_id = f"{prefix}o{n}"
        currency, total_cents = draw(CURRENCY), draw(TOTAL_CENTS)
        # A payment may arrive for an order that never does (not the first: a set is never empty).
        if n == 0 or draw(st.integers(0, 5)):
            valid += draw(order_events(order_id, currency, total_cents, ties))
        for m in range(draw(st.integers(0, 3))):
            valid += draw(payment_events(order_id, m, currency, total_cents, ties))
    messages = list(valid)
    for n in range(draw(st.integers(0, 2))):
        original = draw(st.sampled_from(valid))
        event_id = draw(st.sampled_from((f"{prefix}bad{n}", json.loads(original.value)["event_id"])))
        corrupt = draw(st.sampled_from(BAD_ORDERS if original.topic == ORDERS else BAD_PAYMENTS))
        messages.append(Message(original.topic, original.key, corrupt(event_id, original.key)))
    if replays:
        for original in draw(st.lists(st.sampled_from(valid), max_size=2)):
            status = draw(st.sampled_from(ORDER.statuses if original.topic == ORDERS else PAYMENT.statuses))
            replayed = re.sub(rb'"status":"[a-z]+"', f'"status":"{status}"'.encode(), original.value)
            messages.append(Message(original.topic, original.key, replayed))
    messages += draw(st.lists(st.sampled_from(messages), max_size=3))
    return draw(st.permutations(messages))


@st.composite
def event_sets(draw, ties: bool = True, replays: bool = True) -> list[Message]:
    """Several independent event sets, one after the other."""
    sets = [draw(event_set(f"s{n}-", ties, replays)) for n in range(draw(st.integers(2, 8)))]
    return [message for messages in sets for message in messages]


# -- Silver on them --------------------------------------------------------------------------------------


def as_one_frame(**frames: DataFrame) -> DataFrame:
    """Several frames as one of (frame name, row as JSON), every column kept: compared whole, they
    cost one Spark job instead of one per frame."""
    return reduce(DataFrame.unionByName, [
        frame.select(F.lit(name).alias("frame"), F.to_json(F.struct(*frame.columns)).alias("row"))
        for name, frame in frames.items()
    ])


# -- invariants ------------------------------------------------------------------------------------------


@settings(max_examples=examples(ci=25, thorough=200), **SPARK_EXAMPLES)
@given(cents=st.lists(st.integers(0, MAX_AMOUNT_CENTS), min_size=1, max_size=200))
@example(cents=[0, 1, 10, 99, 100, 101, 2**53 + 1, 10**16 - 1, 10**16, MAX_AMOUNT_CENTS - 1, MAX_AMOUNT_CENTS])
def test_cents_to_amount_is_exact(spark, cents):
    amounts = spark.createDataFrame([(c,) for c in cents], StructType([StructField("cents", LongType())]))
    actual = [row["amount"] for row in amounts.select(cents_to_amount(F.col("cents")).alias("amount")).collect()]
    assert actual == [Decimal(c) / 100 for c in cents]
    # Exactly two decimals: 1 cent is 0.01, 100 cents 1.00.
    assert [amount.as_tuple().exponent for amount in actual] == [-2] * len(cents)


@settings(max_examples=examples(ci=3, thorough=200), **SPARK_EXAMPLES)
@given(messages=event_sets(), redelivered=st.data())
def test_dedupe_is_idempotent(spark, messages, redelivered):
    kafka = Kafka()
    first = kafka.deliver(messages)
    # Later deliveries of some of the same messages: to the key's partition (a producer retry)
    # or to the last one (a replay through another producer), always after the first.
    again = [*kafka.deliver(redelivered.draw(st.lists(st.sampled_from(messages), max_size=10))),
             *kafka.deliver(redelivered.draw(st.lists(st.sampled_from(messages), max_size=5)), partition=2)]
    orders, payments = bronze_frames(spark, first)
    orders_again, payments_again = bronze_frames(spark, first + again)
    once = {kind.name: first_delivery(typed_events(bronze, kind))
            for bronze, kind in ((orders_again, ORDER), (payments_again, PAYMENT))}
    assertDataFrameEqual(
        as_one_frame(**{kind: first_delivery(events) for kind, events in once.items()},
                     orders_clean=clean_orders(orders_again), payments_clean=clean_payments(payments_again)),
        as_one_frame(**once, orders_clean=clean_orders(orders), payments_clean=clean_payments(payments)),
        checkRowOrder=False)


@settings(max_examples=examples(ci=3, thorough=200), **SPARK_EXAMPLES)
@given(messages=event_sets(ties=False, replays=False), arrival=st.data())
def test_the_result_does_not_depend_on_arrival_order(spark, messages, arrival):
    # Distinct event_ts per order and per payment, and no replays with other content: with those,
    # rules 1-3 would rightly let the arrival order decide.
    shuffled = arrival.draw(st.permutations(messages))
    partitions = arrival.draw(st.sampled_from((1, 2, 4)))
    results = []
    for deliveries in (Kafka().deliver(messages), Kafka(partitions).deliver(shuffled)):
        orders, payments = bronze_frames(spark, deliveries)
        orders_clean, payments_clean = clean_orders(orders), clean_payments(payments)
        results.append(as_one_frame(
            order_payments_enriched=enrich(orders_clean, payments_clean, updated_ts=STAMP),
            orders_clean=orders_clean.drop(*ARRIVAL),
            payments_clean=payments_clean.drop(*ARRIVAL),
            quarantine=quarantine(orders, payments).drop(*ARRIVAL),
        ))
    assertDataFrameEqual(*results, checkRowOrder=False)


@settings(max_examples=examples(ci=5, thorough=200), **SPARK_EXAMPLES)
@given(messages=event_sets())
def test_nothing_is_lost(spark, messages):
    deliveries = Kafka().deliver(messages)
    orders, payments = bronze_frames(spark, deliveries)
    landed = (
        clean_orders(orders).select(F.lit("clean").alias("outcome"), *COORDINATES, "event_id")
        .unionByName(clean_payments(payments).select(F.lit("clean").alias("outcome"), *COORDINATES, "event_id"))
        .unionByName(quarantine(orders, payments).select(F.col("reason").alias("outcome"), *COORDINATES,
                                                         F.lit(None).cast("string").alias("event_id")))
    ).collect()
    expected = silver_state(messages, ORDERS, PAYMENTS)
    for topic, counts in ((ORDERS, expected.order_counts), (PAYMENTS, expected.payment_counts)):
        produced = {(d.partition, d.offset): d.message for d in deliveries if d.message.topic == topic}
        rows = [row for row in landed if row["topic"] == topic]
        places = Counter((row["partition"], row["offset"]) for row in rows)
        assert set(places) <= set(produced), f"{topic}: rows that are not in Bronze"
        assert all(n == 1 for n in places.values()), f"{topic}: a Bronze row landed twice"
        clean = {row["event_id"]: (row["partition"], row["offset"]) for row in rows if row["outcome"] == "clean"}
        # What landed nowhere is a later delivery of a valid event that landed clean (rule 1).
        duplicates = sorted(set(produced) - set(places))
        for coordinates in duplicates:
            outcome = VALIDATE[topic](produced[coordinates].value)
            assert isinstance(outcome, Valid) and clean.get(outcome.event.event_id, coordinates) < coordinates, (
                f"{topic} {coordinates} landed nowhere: {produced[coordinates].value!r}")
        reasons = Counter(row["outcome"] for row in rows if row["outcome"] != "clean")
        assert (len(produced), len(rows) - reasons.total(), len(duplicates), reasons) == (
            counts.produced, counts.clean, counts.duplicates, counts.quarantine_reasons)


@settings(max_examples=examples(ci=8, thorough=200), **SPARK_EXAMPLES)
@given(messages=event_sets())
def test_paid_amount_and_fully_paid_follow_rules_2_to_4(spark, messages):
    # One partition per key and offsets in production order: the oracle's tie-break is production order.
    orders, payments = bronze_frames(spark, Kafka().deliver(messages))
    enriched = enrich(clean_orders(orders), clean_payments(payments), updated_ts=STAMP)
    columns = ("order_id", "user_id", "status", "currency", "total_amount", "order_ts", "paid_amount", "fully_paid")
    expected = [
        (order_id, state.latest.user_id, state.latest.status, state.latest.currency, state.latest.total_amount,
         state.order_ts.replace(tzinfo=None), state.paid_amount, state.fully_paid)
        for order_id, state in silver_state(messages, ORDERS, PAYMENTS).orders.items()
    ]
    assert sorted(tuple(row) for row in enriched.select(*columns).collect()) == sorted(expected)
