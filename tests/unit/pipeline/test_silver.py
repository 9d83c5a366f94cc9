"""Unit tests of the Silver transforms: inline Bronze or clean rows in, whole Silver frames compared out."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, LongType, StringType, StructField, StructType, TimestampType
from pyspark.testing import assertDataFrameEqual

from contract import MAX_MONEY
from pipeline.schemas import MONEY, ORDERS_CLEAN, PAYMENTS_CLEAN, QUARANTINE
from pipeline.silver.order_payments_enriched import enrich
from pipeline.silver.orders_clean import clean_orders
from pipeline.silver.payments_clean import clean_payments
from pipeline.silver.quarantine import quarantine
from simulator.generator import generate
from simulator.model import Message
from simulator.oracle import expect, silver_state
from simulator.validation import synthetic_payment_id
from tests.bronze import PRODUCED, Delivery, Kafka, bronze_frames, ingest_time
from tests.messages import DROP, ORDERS, PAYMENTS, Raw, order, order_message, payment, payment_message


ENRICHED = StructType([
    StructField("order_id", StringType()),
    StructField("user_id", StringType()),
    StructField("status", StringType()),
    StructField("total_amount", MONEY),
    StructField("paid_amount", MONEY),
    StructField("currency", StringType()),
    StructField("fully_paid", BooleanType()),
    StructField("order_ts", TimestampType()),
    StructField("last_payment_ts", TimestampType()),
    StructField("updated_ts", TimestampType()),
])
ORDER_OUTCOME = StructType([
    StructField("order_id", StringType()),
    StructField("total_amount", MONEY),
    StructField("paid_amount", MONEY),
    StructField("fully_paid", BooleanType()),
    StructField("order_ts", TimestampType()),
])
GOLD = StructType([
    StructField("minute_bucket", TimestampType()),
    StructField("gmv", MONEY),
    StructField("paid_orders", LongType()),
])


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)


# -- orders_clean --------------------------------------------------------------------------------------------


def test_clean_orders_types_money_and_time_and_keeps_the_earliest_delivery(spark):
    items = [("sku-17", 2, Decimal("19.99"))]
    actual = clean_orders(bronze_frames(spark, [
        Delivery.at(1, 0, order_message(event_id="e-1")),
        # The earliest delivery: partition 0 comes before partition 1.
        Delivery.at(0, 7, order_message(event_id="e-1")),
        # A replay of e-1 with other content still loses.
        Delivery.at(0, 9, order_message(event_id="e-1", status="updated")),
        Delivery.at(0, 8, order_message(event_id="e-2", total_amount="39.980", event_ts="2026-11-26T23:30:00.5-05:00")),
        Delivery.at(0, 10, order_message(event_id="e-3", total_amount=40,
                                         event_ts="2026-11-26T10:15:42.123456789+01:00")),
        Delivery.at(0, 11, Message(ORDERS, None, None)),
        Delivery.at(0, 12, Message(ORDERS, "o-1", b"{not json")),
        Delivery.at(0, 13, order_message(event_id="e-4", total_amount="39.985")),
    ]).orders)
    expected = [
        ("e-1", "o-1", "u-1", items, "USD", Decimal("39.98"), "created", utc(2026, 11, 26, 10, 15, 42, 123000),
         date(2026, 11, 26), ORDERS, 0, 7, ingest_time(7)),
        # 23:30 at -05:00 is 04:30 the next day in UTC, and event_date follows UTC.
        ("e-2", "o-1", "u-1", items, "USD", Decimal("39.98"), "created", utc(2026, 11, 27, 4, 30, 0, 500000),
         date(2026, 11, 27), ORDERS, 0, 8, ingest_time(8)),
        ("e-3", "o-1", "u-1", items, "USD", Decimal("40.00"), "created", utc(2026, 11, 26, 9, 15, 42, 123456),
         date(2026, 11, 26), ORDERS, 0, 10, ingest_time(10)),
    ]
    assertDataFrameEqual(actual, spark.createDataFrame(expected, ORDERS_CLEAN),
                         checkRowOrder=False, ignoreNullable=True)
    assert actual.schema["total_amount"].dataType == MONEY


# -- payments_clean ------------------------------------------------------------------------------------------


def test_clean_payments_divides_cents_exactly_and_derives_the_synthetic_id(spark):
    anonymous_ts = "2026-11-26T11:16:03.123456789+01:00"
    actual = clean_payments(bronze_frames(spark, [
        Delivery.at(0, 0, payment_message(event_id="e-1", amount_cents=3998)),
        Delivery.at(0, 1, payment_message(event_id="e-1", amount_cents=3998)),  # a redelivery
        Delivery.at(0, 2, payment_message(event_id="e-2", amount_cents=1, payment_id="p-2")),
        Delivery.at(0, 3, payment_message(event_id="e-3", amount_cents=999_999_999_999_999_999, payment_id="p-3")),
        Delivery.at(0, 4, payment_message(event_id="e-4", amount_cents=2000, payment_id=DROP, event_ts=anonymous_ts)),
        Delivery.at(0, 5, Message(PAYMENTS, "o-1", b"")),
        Delivery.at(0, 6, payment_message(event_id="e-5", amount_cents=-1)),
    ]).payments)
    at = utc(2026, 11, 26, 10, 16, 3)
    anonymous_at = utc(2026, 11, 26, 10, 16, 3, 123456)
    expected = [
        ("e-1", "p-1", "o-1", Decimal("39.98"), "USD", "captured", at, date(2026, 11, 26),
         PAYMENTS, 0, 0, ingest_time(0)),
        ("e-2", "p-2", "o-1", Decimal("0.01"), "USD", "captured", at, date(2026, 11, 26),
         PAYMENTS, 0, 2, ingest_time(2)),
        # Through a double this would come out as 10000000000000000.00.
        ("e-3", "p-3", "o-1", Decimal("9999999999999999.99"), "USD", "captured", at, date(2026, 11, 26),
         PAYMENTS, 0, 3, ingest_time(3)),
        ("e-4", synthetic_payment_id("o-1", 2000, "USD", anonymous_at), "o-1", Decimal("20.00"), "USD", "captured",
         anonymous_at, date(2026, 11, 26), PAYMENTS, 0, 4, ingest_time(4)),
    ]
    assertDataFrameEqual(actual, spark.createDataFrame(expected, PAYMENTS_CLEAN),
                         checkRowOrder=False, ignoreNullable=True)


# -- quarantine ----------------------------------------------------------------------------------------------


def test_quarantine_keeps_the_reason_the_raw_value_and_the_kafka_coordinates(spark):
    bad_order = order(event_id="e-1", total_amount="1.234")
    bronze = bronze_frames(spark, [
        Delivery.at(0, 0, order_message(event_id="e-0")),
        Delivery.at(2, 41, Message(ORDERS, "o-1", bad_order)),
        Delivery.at(0, 42, Message(ORDERS, None, None)),
        Delivery.at(1, 3, Message(ORDERS, "o-1", b'{"event_id": "\xff"}')),
        Delivery.at(0, 0, payment_message(event_id="e-9")),
        Delivery.at(3, 17, payment_message(event_id="e-8", currency="usd")),
        Delivery.at(0, 18, Message(PAYMENTS, "o-1", b"[]")),
    ])
    actual = quarantine(bronze.orders, bronze.payments)
    expected = [
        ("order", "too_many_decimals:total_amount", "o-1", bad_order.decode(), ORDERS, 2, 41, PRODUCED,
         ingest_time(41)),
        ("order", "empty_message", None, None, ORDERS, 0, 42, PRODUCED, ingest_time(42)),
        # Bronze holds the Kafka bytes as a string; invalid UTF-8 reads back as U+FFFD.
        ("order", "invalid_utf8", "o-1", '{"event_id": "\ufffd"}', ORDERS, 1, 3, PRODUCED, ingest_time(3)),
        ("payment", "invalid_currency", "o-1", payment(event_id="e-8", currency="usd").decode(), PAYMENTS, 3, 17,
         PRODUCED, ingest_time(17)),
        ("payment", "not_an_object", "o-1", "[]", PAYMENTS, 0, 18, PRODUCED, ingest_time(18)),
    ]
    assertDataFrameEqual(actual, spark.createDataFrame(expected, QUARANTINE), checkRowOrder=False, ignoreNullable=True)


# One inline Bronze row per case of CONTRACT.md rule 6, with the reason Silver must give it.
RULE_6_ORDERS = [
    (b'{"event_id": "e-1", ', "invalid_json"),
    (order(event_id="e-2", user_id=DROP), "missing_field:user_id"),
    (order(event_id="e-3", total_amount=Raw("true")), "wrong_type:total_amount"),
    (order(event_id="e-4", total_amount="-39.98"), "negative_amount:total_amount"),
    (order(event_id="e-5", total_amount="39.985"), "too_many_decimals:total_amount"),
    (order(event_id="e-6", status="shipped"), "unknown_status"),
    (order(event_id="e-7", currency="US"), "invalid_currency"),
    (order(event_id="e-8", event_ts="2026-11-26T10:15:42"), "event_ts_without_zone"),
]
RULE_6_PAYMENTS = [
    (b"not json", "invalid_json"),
    (payment(event_id="e-11", amount_cents=DROP), "missing_field:amount_cents"),
    (payment(event_id="e-12", amount_cents="3998"), "wrong_type:amount_cents"),
    (payment(event_id="e-13", amount_cents=-1), "negative_amount:amount_cents"),
    (payment(event_id="e-14", amount_cents=Raw("39.98")), "wrong_type:amount_cents"),
    (payment(event_id="e-15", status="settled"), "unknown_status"),
    (payment(event_id="e-16", currency="EURO"), "invalid_currency"),
    (payment(event_id="e-17", event_ts="2026-11-26T10:16:03.5"), "event_ts_without_zone"),
]


def test_every_rule_6_case_is_quarantined_with_its_reason_and_never_reaches_the_clean_tables(spark):
    orders, payments = bronze_frames(spark, [
        *(Delivery.at(0, offset, Message(ORDERS, "o-1", value)) for offset, (value, _) in enumerate(RULE_6_ORDERS)),
        *(Delivery.at(1, offset, Message(PAYMENTS, "o-1", value)) for offset, (value, _) in enumerate(RULE_6_PAYMENTS)),
    ])
    expected = [
        (kind, reason, "o-1", value.decode(), topic, partition, offset, PRODUCED, ingest_time(offset))
        for kind, topic, partition, cases in (("order", ORDERS, 0, RULE_6_ORDERS), ("payment", PAYMENTS, 1, RULE_6_PAYMENTS))
        for offset, (value, reason) in enumerate(cases)
    ]
    assertDataFrameEqual(quarantine(orders, payments), spark.createDataFrame(expected, QUARANTINE),
                         checkRowOrder=False, ignoreNullable=True)
    assert clean_orders(orders).count() == 0 and clean_payments(payments).count() == 0


# -- order_payments_enriched ---------------------------------------------------------------------------------


def orders_clean(spark: SparkSession, *rows: tuple) -> DataFrame:
    """orders_clean rows from (order_id, status, total, event_ts, offset, currency); items left null."""
    data = [
        (f"oe-{order_id}-{offset}", order_id, "u-1", None, currency, Decimal(total), status, ts, ts.date(),
         ORDERS, 0, offset, ingest_time(offset))
        for order_id, status, total, ts, offset, currency in rows
    ]
    return spark.createDataFrame(data, ORDERS_CLEAN)


def payments_clean(spark: SparkSession, *rows: tuple) -> DataFrame:
    """payments_clean rows from (payment_id, order_id, status, amount, event_ts, offset, currency)."""
    data = [
        (f"pe-{payment_id}-{offset}", payment_id, order_id, Decimal(amount), currency, status, ts, ts.date(),
         PAYMENTS, 0, offset, ingest_time(offset))
        for payment_id, order_id, status, amount, ts, offset, currency in rows
    ]
    return spark.createDataFrame(data, PAYMENTS_CLEAN)


T0 = utc(2026, 11, 26, 10, 0)


# The Silver run's watermark that enrich stamps on every order it computes.
STAMP = "2026-11-26T13:00:00.000000Z"
STAMPED = utc(2026, 11, 26, 13, 0)


def at(minutes: int, seconds: int = 0) -> datetime:
    return T0.replace(minute=minutes, second=seconds)


def test_enrich_applies_the_state_and_payment_rules(spark):
    orders = orders_clean(
        spark,
        # o-latest: the update is the latest by event_ts although it arrived first.
        ("o-latest", "updated", "50.00", at(5), 1, "USD"),
        ("o-latest", "created", "39.98", at(1), 2, "USD"),
        # o-tie: same event_ts, the later offset wins; order_ts is the earliest event_ts.
        ("o-tie", "created", "10.00", at(2), 3, "USD"),
        ("o-tie", "updated", "12.00", at(4), 4, "USD"),
        ("o-tie", "updated", "11.00", at(4), 5, "USD"),
        ("o-split", "created", "39.98", at(6), 6, "USD"),
        ("o-short", "created", "39.98", at(7), 7, "USD"),
        ("o-cancelled", "created", "39.98", at(8), 8, "USD"),
        ("o-cancelled", "cancelled", "39.98", at(9), 9, "USD"),
        ("o-refunded", "created", "39.98", at(10), 10, "USD"),
        ("o-currency", "created", "39.98", at(11), 11, "USD"),
        ("o-early", "created", "39.98", at(30), 12, "USD"),
        ("o-unpaid", "created", "5.00", at(13), 13, "EUR"),
        ("o-huge", "created", "9999999999999999.99", at(14), 14, "USD"),
    )
    payments = payments_clean(
        spark,
        ("p-latest", "o-latest", "captured", "50.00", at(6), 0, "USD"),
        ("p-tie", "o-tie", "captured", "11.00", at(5), 1, "USD"),
        # Split payments add up: 20.00 + 20.00 pays 39.98.
        ("p-split-1", "o-split", "captured", "20.00", at(7), 2, "USD"),
        ("p-split-2", "o-split", "captured", "20.00", at(7, 30), 3, "USD"),
        ("p-short", "o-short", "captured", "39.97", at(8), 4, "USD"),
        ("p-cancelled", "o-cancelled", "captured", "39.98", at(8, 30), 5, "USD"),
        # Refunded after capture, and a failed one: neither counts.
        ("p-refunded", "o-refunded", "captured", "39.98", at(11), 6, "USD"),
        ("p-refunded", "o-refunded", "refunded", "39.98", at(20), 7, "USD"),
        ("p-failed", "o-refunded", "failed", "39.98", at(12), 8, "USD"),
        # A payment's events tied on event_ts: the later offset (authorized) is its state.
        ("p-tied", "o-refunded", "captured", "39.98", at(13), 9, "USD"),
        ("p-tied", "o-refunded", "authorized", "39.98", at(13), 10, "USD"),
        ("p-currency", "o-currency", "captured", "39.98", at(12), 11, "EUR"),
        # Paid twenty minutes before the order event it pays for.
        ("p-early", "o-early", "captured", "39.98", at(10), 12, "USD"),
        # A payment whose order never arrived makes no row.
        ("p-orphan", "o-missing", "captured", "1.00", at(14), 13, "USD"),
        # Two payments adding up to more than decimal(18,2) holds: capped, paid in full, no failed run.
        ("p-huge-1", "o-huge", "captured", "9000000000000000.00", at(15), 14, "USD"),
        ("p-huge-2", "o-huge", "captured", "9000000000000000.00", at(16), 15, "USD"),
    )
    d = Decimal
    expected = [
        ("o-latest", "u-1", "updated", d("50.00"), d("50.00"), "USD", True, at(1), at(6), STAMPED),
        ("o-tie", "u-1", "updated", d("11.00"), d("11.00"), "USD", True, at(2), at(5), STAMPED),
        ("o-split", "u-1", "created", d("39.98"), d("40.00"), "USD", True, at(6), at(7, 30), STAMPED),
        ("o-short", "u-1", "created", d("39.98"), d("39.97"), "USD", False, at(7), at(8), STAMPED),
        ("o-cancelled", "u-1", "cancelled", d("39.98"), d("39.98"), "USD", False, at(8), at(8, 30), STAMPED),
        ("o-refunded", "u-1", "created", d("39.98"), d("0.00"), "USD", False, at(10), at(20), STAMPED),
        ("o-currency", "u-1", "created", d("39.98"), d("0.00"), "USD", False, at(11), at(12), STAMPED),
        ("o-early", "u-1", "created", d("39.98"), d("39.98"), "USD", True, at(30), at(10), STAMPED),
        ("o-unpaid", "u-1", "created", d("5.00"), d("0.00"), "EUR", False, at(13), None, STAMPED),
        ("o-huge", "u-1", "created", MAX_MONEY, MAX_MONEY, "USD", True, at(14), at(16), STAMPED),
    ]
    assertDataFrameEqual(enrich(orders, payments, updated_ts=STAMP), spark.createDataFrame(expected, ENRICHED),
                         checkRowOrder=False, ignoreNullable=True)


# -- the whole of Silver against the oracle --------------------------------------------------------------------


def test_silver_matches_oracle_on_generated_events(spark):
    messages = generate(300, seed=20261126, order_topic=ORDERS, payment_topic=PAYMENTS)
    # One partition per topic, offsets in production order: the oracle's tie-break is production order.
    orders, payments = bronze_frames(spark, Kafka().deliver(messages, partition=0))
    enriched = enrich(clean_orders(orders), clean_payments(payments), updated_ts=STAMP).cache()

    oracle = silver_state(messages, ORDERS, PAYMENTS)
    expected_orders = [
        (order_id, state.latest.total_amount, state.paid_amount, state.fully_paid, state.order_ts)
        for order_id, state in oracle.orders.items()
    ]
    assert len(expected_orders) == 300
    assert 0 < sum(state.fully_paid for state in oracle.orders.values()) < 300
    assertDataFrameEqual(enriched.select(*ORDER_OUTCOME.fieldNames()),
                         spark.createDataFrame(expected_orders, ORDER_OUTCOME), checkRowOrder=False)

    gold = (
        enriched.where("fully_paid")
        .groupBy(F.date_trunc("minute", "order_ts").alias("minute_bucket"))
        .agg(F.sum("total_amount").cast(MONEY).alias("gmv"), F.count("*").alias("paid_orders"))
    )
    expected_gold = [(row.minute_bucket, row.gmv, row.paid_orders)
                     for row in expect(messages, ORDERS, PAYMENTS).gold]
    assertDataFrameEqual(gold, spark.createDataFrame(expected_gold, GOLD), checkRowOrder=False)
    enriched.unpersist()
