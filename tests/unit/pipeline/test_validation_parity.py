"""Spark's with_reason and the Python validator give each raw message the same reason, and read it alike."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    DateType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)
from pyspark.testing import assertDataFrameEqual

from pipeline.schemas import ITEM, MONEY, ORDER, PAYMENT, EventKind
from pipeline.silver.orders_clean import clean_orders
from pipeline.silver.payments_clean import clean_payments
from pipeline.silver.validation import with_reason
from simulator.model import Message
from simulator.validation import Invalid, Valid, validate_order, validate_payment
from tests.bronze import Kafka, bronze_frames
from tests.generated_messages import ORDER_TEMPLATE, PAYMENT_TEMPLATE, event_message
from tests.messages import DROP, ORDERS, PAYMENTS, Raw, order, payment
from tests.profiles import examples


RAW_MESSAGES = StructType([
    StructField("n", IntegerType(), False),
    StructField("kind", StringType(), False),
    StructField("message", StringType(), False),
    StructField("raw_value", BinaryType()),
])
REASONS = StructType([
    StructField("n", IntegerType(), False),
    StructField("kind", StringType(), False),
    StructField("message", StringType(), False),
    StructField("reason", StringType()),
])
VALIDATORS = {ORDER.name: validate_order, PAYMENT.name: validate_payment}
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
READ_ORDER = StructType([
    StructField("event_id", StringType()),
    StructField("order_id", StringType()),
    StructField("user_id", StringType()),
    StructField("status", StringType()),
    StructField("currency", StringType()),
    StructField("total_amount", MONEY),
    StructField("event_ts", LongType()),
    StructField("event_date", DateType()),
    StructField("items", ArrayType(ITEM)),
])
READ_PAYMENT = StructType([
    StructField("event_id", StringType()),
    StructField("payment_id", StringType()),
    StructField("order_id", StringType()),
    StructField("status", StringType()),
    StructField("currency", StringType()),
    StructField("amount", MONEY),
    StructField("event_ts", LongType()),
    StructField("event_date", DateType()),
])


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# Messages either kind rejects before looking at a field.
STRUCTURAL = [
    None,
    b"",
    b" ",
    b"\n",
    b"\xff",
    b'{"event_id": "\xff"}',
    b"\xc0\xaf",  # overlong encoding of "/"
    b"\xed\xa0\x80",  # a UTF-16 surrogate encoded as UTF-8
    b"\xf4\x90\x80\x80",  # beyond U+10FFFF
    b'{"event_id": "\xe2\x82"}',  # truncated multi-byte character
    b"not json",
    b'{"event_id": "e-1"',
    b"{",
    b"}",
    b'{"a": 1,}',
    b"{'a': 1}",
    b'{a: 1}',
    b'{"a": NaN}',
    b"NaN",
    b"Infinity",
    b'{"total_amount": -Infinity}',
    b'{"a": 01}',
    b'{"a": .5}',
    b'{"a": 1.}',
    b'{"a": +1}',
    b'{"a": "\\x"}',
    b'{"a": "\x01"}',
    b"TRUE",
    b'{"event_id": "e-1", "event_id": "e-2"}',
    b'{"a": 1, "\\u0061": 2}',
    b'{"items": [{"sku": "a", "sku": "b"}]}',
    b"\xef\xbb\xbf{}",
    b"\x0b{}",
    b"{} x",
    b"{}{}",
    b"{}\x00",
    b"{} /* comment */",
    b"1], [2",
    b'{"order_id": "o-\\ud800"}',
    b'{"\\udc00": 1}',
    b'{"items": ["\\ude00\\ud83d"]}',
    nested(65),
    b'{"x": ' + b'{"y": ' * 64 + b"1" + b"}" * 65,
    nested(900),
    b'{"a": ' * 900 + b"1" + b"}" * 900,  # schema_of_variant on this overflowed the stack and took the JVM down
    b"[]",
    b"[{}]",
    b' "text" ',
    b"42",
    b"-0.5",
    b"null",
    b"true",
    nested(64),
    b"{}",
    b"\t{}\r\n",
]

ORDER_MESSAGES = [
    *STRUCTURAL,
    # valid
    order(),
    order(total_amount=Raw("39.98"), items=DROP),
    order(total_amount="39.980"),
    order(total_amount=Raw("39.980")),
    order(total_amount=Raw("40")),
    order(total_amount=Raw("40.000")),
    order(total_amount=Raw("-0.00")),
    order(total_amount="-0.00"),
    order(total_amount="0012.30"),
    order(total_amount="0000000000000000.50"),
    order(total_amount="9999999999999999"),
    order(total_amount=Raw("9999999999999999.99")),
    order(total_amount="1.230000000000000000000000000000000000000000"),
    order(event_ts="2026-11-26T11:15:42.123+01:00"),
    order(event_ts="2026-11-26T05:15:42-05:00"),
    order(event_ts="2026-11-27T04:15:42+18:00"),
    order(event_ts="2026-11-25T16:15:42-18:00"),
    order(event_ts="2026-11-26T10:15:42-00:00"),
    order(event_ts="2026-11-26T10:15:42.123456789Z"),
    order(event_ts="2024-02-29T23:59:59.5Z"),
    order(event_ts="0001-01-01T01:00:00+01:00"),
    order(event_ts="0000-12-31T23:00:00-01:00"),
    order(event_ts="0000-12-31T06:00:00.5-18:00"),
    order(event_ts="9999-12-31T23:59:59.999999999Z"),
    order(event_ts="1582-10-10T00:00:00Z"),
    order(items=None),
    order(items=[]),
    order(items=[{"sku": 17, "quantity": "2", "unit_price": "1.234"}, "junk", None, [], {}]),
    order(items=[
        {"sku": "a", "quantity": -3, "unit_price": "19.990"},
        {"sku": "", "quantity": Raw("2.0"), "unit_price": Raw("3.5")},
        {"sku": "b", "quantity": Raw("12345678901234567890"), "unit_price": "12345678901234567"},
        {"sku": None, "quantity": Raw("123456789012345678"), "unit_price": Raw("-1.5")},
        {"sku": ["a"], "quantity": Raw("2e0"), "unit_price": Raw("1e1")},
        {"sku": "c", "quantity": Raw("-0"), "unit_price": Raw("0.001")},
    ]),
    order(channel="web", coupon=None, extra={"deep": [[[[1]]]]}),
    order(extra=json.loads(nested(60))),
    order(user_id="Zoë 🛒 用户"),
    order(user_id="\u00a0"),  # NBSP is not ASCII whitespace
    order(user_id="o-\U0001f600"),
    order(user_id="nul\u0000byte"),
    order(order_id="'; DROP TABLE orders; --"),
    order(order_id="1 OR 1=1"),
    json.dumps(json.loads(order()), indent=2).encode(),
    order().replace(b'"event_id"', b'"event\\u005fid"'),
    # missing_field, in contract order
    *(order(**{name: blank}) for name in ORDER.required for blank in (DROP, None)),
    order(user_id=""),
    order(currency="  \t\n"),
    order(event_ts="\x0b"),
    order(total_amount=" "),
    order(event_id=7, currency=None, status=DROP),
    # wrong_type
    *(order(**{name: Raw("12")}) for name in ("event_id", "order_id", "user_id", "status", "currency", "event_ts")),
    order(status=True),
    order(currency=["USD"]),
    order(event_ts={"at": "2026-11-26T10:15:42Z"}),
    order(event_ts=Raw("1764152142")),
    order(event_ts=1, order_id=True, total_amount="x"),
    order(total_amount=Raw("3.998e1")),
    order(total_amount=Raw("4E1")),
    order(total_amount=Raw("1" * 39)),
    order(total_amount=Raw("1." + "0" * 38)),
    order(total_amount=Raw("9" * 500)),
    order(total_amount="3.998e1"),
    order(total_amount="12."),
    order(total_amount=".5"),
    order(total_amount=" 12"),
    order(total_amount="12\n"),
    order(total_amount="+12"),
    order(total_amount="12,50"),
    order(total_amount="１２"),
    order(total_amount=Raw("true")),
    order(total_amount=[1]),
    order(items={"sku": "a"}),
    order(items="sku-17"),
    # negative_amount
    order(total_amount="-0.01"),
    order(total_amount=Raw("-5")),
    order(total_amount="-1.234"),
    order(total_amount=Raw("-12345678901234567")),
    # too_many_decimals, by value
    order(total_amount="39.985"),
    order(total_amount=Raw("39.985")),
    order(total_amount="0.001"),
    order(total_amount=Raw("0.001")),
    order(total_amount="1.2300001"),
    order(total_amount="12345678901234567.001"),
    # amount_out_of_range
    order(total_amount="12345678901234567"),
    order(total_amount=Raw("12345678901234567")),
    order(total_amount=Raw("10000000000000000.00")),
    order(total_amount=Raw("12345678901234567.5")),
    order(total_amount="00000000000000001"),
    order(total_amount="00000000000000000.5"),
    # unknown_status
    *(order(status=status) for status in ("Created", "paid", "captured", " created", "created\n", "CREATED")),
    order(status="x", currency="x", event_ts="x"),
    # invalid_currency
    *(order(currency=currency) for currency in ("usd", "US", "USDD", "US1", "ＵＳＤ", "USD\n", " USD", "U$D")),
    order(currency="x", event_ts="x"),
    # event_ts_without_zone
    order(event_ts="2026-11-26T10:15:42"),
    order(event_ts="2026-11-26T10:15:42.123"),
    order(event_ts="2026-02-30T10:15:42"),
    # invalid_event_ts
    *(
        order(event_ts=written)
        for written in (
            "2026-11-26 10:15:42Z",
            "2026-11-26T10:15Z",
            "2026-11-26T10:15:42.1234567890Z",
            "2026-11-26T10:15:42z",
            "2026-11-26T10:15:42+0100",
            "2026-02-29T10:15:42Z",
            "2026-02-30T10:15:42Z",
            "2026-04-31T10:15:42Z",
            "1900-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-00-10T00:00:00Z",
            "2026-11-26T24:00:00Z",
            "2026-11-26T10:60:00Z",
            "2026-11-26T10:15:60Z",
            "2026-11-26T10:15:42+18:01",
            "2026-11-26T10:15:42-19:00",
            "2026-11-26T10:15:42-18:30",
            "2026-11-26T10:15:42+01:60",
            "2026-11-26T10:15:42+24:00",
            "2026-11-26T10:15:42Z\n",
            "２026-11-26T10:15:42Z",
            "0000-01-01T00:00:00Z",
            "0000-12-31T23:59:59.999999-00:00",
            "0000-02-29T23:00:00-01:00",
            "0000-02-30T23:00:00-01:00",
            "0001-01-01T00:59:59+01:00",
            "9999-12-31T23:59:59-01:00",
            "1764152142",
            "yesterday",
            "'; DROP TABLE orders; --",
        )
    ),
]

PAYMENT_MESSAGES = [
    *STRUCTURAL,
    # valid
    payment(),
    payment(payment_id=DROP),
    payment(payment_id=None),
    payment(payment_id=DROP, event_ts="2026-11-26T11:16:03.123456789+01:00"),
    payment(amount_cents=Raw("3998.0")),
    payment(amount_cents=Raw("3998.000")),
    payment(amount_cents=Raw("0")),
    payment(amount_cents=Raw("-0")),
    payment(amount_cents=Raw("-0.0")),
    payment(amount_cents=Raw("999999999999999999")),
    payment(amount_cents=Raw("999999999999999999.0")),
    *(payment(status=status) for status in ("authorized", "failed", "refunded")),
    payment(event_ts="2026-11-26T05:16:03-05:00"),
    payment(event_ts="2026-11-27T04:16:03+18:00"),
    payment(order_id="o-\U0001f600", payment_id="p-用户"),
    payment(payment_id="'; DELETE FROM payments; --"),
    payment(note={"nested": [1, 2.5, "x", None, True]}),
    # missing_field, in contract order
    *(payment(**{name: blank}) for name in PAYMENT.required for blank in (DROP, None)),
    payment(event_id=""),
    payment(order_id="\t"),
    payment(status="  "),
    payment(amount_cents=""),
    payment(event_ts="", order_id=None),
    # wrong_type
    *(payment(**{name: Raw("12")}) for name in ("event_id", "order_id", "status", "currency", "event_ts")),
    payment(payment_id=Raw("17")),
    payment(payment_id=["p-1"]),
    payment(amount_cents="3998"),
    payment(amount_cents=Raw("3998.5")),
    payment(amount_cents=Raw("3998.01")),
    payment(amount_cents=Raw("4e3")),
    payment(amount_cents=Raw("4E3")),
    payment(amount_cents=Raw("9" * 39)),
    payment(amount_cents=Raw("9" * 500 + ".0")),
    payment(amount_cents=Raw("true")),
    payment(amount_cents=Raw("{}")),
    payment(amount_cents=Raw("[3998]")),
    payment(currency=Raw("false"), amount_cents=Raw("1.5")),
    # negative_amount
    payment(amount_cents=Raw("-1")),
    payment(amount_cents=Raw("-1.0")),
    payment(amount_cents=Raw("-1000000000000000000")),
    # amount_out_of_range
    payment(amount_cents=Raw("1000000000000000000")),
    payment(amount_cents=Raw("1000000000000000000.0")),
    payment(amount_cents=Raw("9" * 38)),
    # unknown_status
    *(payment(status=status) for status in ("created", "Captured", "captured ", "settled", "")),
    payment(status="settled", currency="usd"),
    # invalid_currency
    *(payment(currency=currency) for currency in ("eur", "EURO", "E", "USD\n", "\tUSD", "€€€")),
    # event_ts
    payment(event_ts="2026-11-26T10:16:03"),
    payment(event_ts="2026-11-26T10:16:03.5"),
    payment(event_ts="2026-02-29T10:16:03Z"),
    payment(event_ts="2026-11-26T10:16:03.0000000001Z"),
    payment(event_ts="2026-11-26T10:16:03+18:01"),
    payment(event_ts="2026-11-26T10:16:03.123+05:61"),
    payment(event_ts="9999-12-31T23:59:59-00:01"),
    payment(event_ts="2026-11-26T10:16:03Z "),
]


def python_reason(value: bytes | None, kind: EventKind) -> str | None:
    outcome = VALIDATORS[kind.name](value)
    return outcome.reason if isinstance(outcome, Invalid) else None


def assert_same_reasons(spark: SparkSession, messages: list[tuple[EventKind, bytes | None]]) -> None:
    """One Spark job for the whole list: raw bytes -> string as Bronze holds them -> with_reason."""
    rows = [(n, kind.name, repr(value)[:300], value) for n, (kind, value) in enumerate(messages)]
    bronze = spark.createDataFrame(rows, RAW_MESSAGES).withColumn("raw_value", F.col("raw_value").cast("string"))
    by_kind = [with_reason(bronze.where(F.col("kind") == kind.name), kind) for kind in (ORDER, PAYMENT)]
    actual = by_kind[0].unionByName(by_kind[1]).select("n", "kind", "message", "reason")
    expected = spark.createDataFrame(
        [(n, kind.name, label, python_reason(value, kind)) for (n, _, label, value), (kind, _) in zip(rows, messages)],
        REASONS,
    )
    assertDataFrameEqual(actual, expected, checkRowOrder=False, showOnlyDiff=True)


@pytest.mark.parametrize(
    ("kind", "messages"), [(ORDER, ORDER_MESSAGES), (PAYMENT, PAYMENT_MESSAGES)], ids=["order", "payment"]
)
def test_spark_gives_every_hand_written_message_the_python_reason(spark, kind, messages):
    assert len(messages) >= 80
    assert_same_reasons(spark, [(kind, value) for value in messages])


def test_the_hand_written_corpus_covers_every_reason():
    order_reasons = {python_reason(value, ORDER) for value in ORDER_MESSAGES}
    payment_reasons = {python_reason(value, PAYMENT) for value in PAYMENT_MESSAGES}
    common = {"empty_message", "invalid_utf8", "invalid_json", "not_an_object", "unknown_status", "invalid_currency",
              "event_ts_without_zone", "invalid_event_ts", None}
    assert order_reasons == common | {
        *(f"missing_field:{name}" for name in ORDER.required),
        *(f"wrong_type:{name}" for name in (*ORDER.required, "items")),
        "negative_amount:total_amount", "too_many_decimals:total_amount", "amount_out_of_range:total_amount",
    }
    assert payment_reasons == common | {
        *(f"missing_field:{name}" for name in PAYMENT.required),
        *(f"wrong_type:{name}" for name in (*PAYMENT.required, "payment_id")),
        "negative_amount:amount_cents", "amount_out_of_range:amount_cents",
    }


# 150 messages from tests/generated_messages.py to a Spark job.
@settings(max_examples=examples(ci=10, thorough=100), deadline=None, suppress_health_check=list(HealthCheck))
@given(
    orders=st.lists(event_message(ORDER_TEMPLATE), min_size=75, max_size=75),
    payments=st.lists(event_message(PAYMENT_TEMPLATE), min_size=75, max_size=75),
)
def test_spark_and_python_validation_agree(spark, orders, payments):
    assert_same_reasons(spark, [(ORDER, value) for value in orders] + [(PAYMENT, value) for value in payments])


def with_unique_event_ids(messages: list[bytes | None]) -> list[bytes]:
    """The corpus reuses a few event_ids; give each message its own so no row is a redelivery."""
    return [
        value.replace(b'"e-1"', b'"e-1-%d"' % n, 1).replace(b'"e-9"', b'"e-9-%d"' % n, 1)
        for n, value in enumerate(messages)
        if value is not None
    ]


def micros(instant: datetime) -> int:
    # Compared as epoch microseconds: pyspark cannot collect a timestamp in year 1 as a datetime.
    return (instant - EPOCH) // timedelta(microseconds=1)


def test_valid_orders_are_read_as_python_reads_them(spark):
    messages = with_unique_event_ids(ORDER_MESSAGES)
    events = [outcome.event for value in messages if isinstance(outcome := validate_order(value), Valid)]
    bronze = bronze_frames(spark, Kafka().deliver((Message(ORDERS, None, value) for value in messages), partition=0))
    actual = (
        clean_orders(bronze.orders)
        .withColumn("event_ts", F.unix_micros("event_ts"))
        .select(*READ_ORDER.fieldNames())
    )
    expected = [
        (e.event_id, e.order_id, e.user_id, e.status, e.currency, e.total_amount, micros(e.event_ts),
         e.event_ts.date(), None if e.items is None else [(i.sku, i.quantity, i.unit_price) for i in e.items])
        for e in events
    ]
    assert len(expected) >= 30
    assertDataFrameEqual(actual, spark.createDataFrame(expected, READ_ORDER), checkRowOrder=False, showOnlyDiff=True)


def test_valid_payments_are_read_as_python_reads_them(spark):
    messages = with_unique_event_ids(PAYMENT_MESSAGES)
    events = [outcome.event for value in messages if isinstance(outcome := validate_payment(value), Valid)]
    bronze = bronze_frames(spark, Kafka().deliver((Message(PAYMENTS, None, value) for value in messages), partition=0))
    actual = (
        clean_payments(bronze.payments)
        .withColumn("event_ts", F.unix_micros("event_ts"))
        .select(*READ_PAYMENT.fieldNames())
    )
    expected = [
        (e.event_id, e.payment_id, e.order_id, e.status, e.currency, e.amount, micros(e.event_ts), e.event_ts.date())
        for e in events
    ]
    assert len(expected) >= 15
    assertDataFrameEqual(actual, spark.createDataFrame(expected, READ_PAYMENT), checkRowOrder=False, showOnlyDiff=True)
