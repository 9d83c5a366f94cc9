"""The event contract (CONTRACT.md) as data: fields, statuses and the Spark types of each layer."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql.types import (
    ArrayType,
    DateType,
    DecimalType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

MONEY = DecimalType(18, 2)
# A money value must fit decimal(18, 2): at most 16 digits before the point.
MAX_MONEY_INTEGER_DIGITS = 16
MAX_AMOUNT_CENTS = 999_999_999_999_999_999

ITEM = StructType([
    StructField("sku", StringType()),
    StructField("quantity", LongType()),
    StructField("unit_price", MONEY),
])


@dataclass(frozen=True)
class EventKind:
    """One topic's events: what they must carry and how Silver types them."""

    name: str
    required: tuple[str, ...]
    statuses: tuple[str, ...]
    # The event as Silver reads it out of the JSON, field by field (never inferred).
    schema: StructType


ORDER = EventKind(
    name="order",
    required=("event_id", "order_id", "user_id", "status", "currency", "total_amount", "event_ts"),
    statuses=("created", "updated", "cancelled"),
    schema=StructType([
        StructField("event_id", StringType()),
        StructField("order_id", StringType()),
        StructField("user_id", StringType()),
        StructField("status", StringType()),
        StructField("items", ArrayType(ITEM)),
        StructField("currency", StringType()),
        StructField("total_amount", MONEY),
        StructField("event_ts", StringType()),
    ]),
)

PAYMENT = EventKind(
    name="payment",
    required=("event_id", "order_id", "status", "amount_cents", "currency", "event_ts"),
    statuses=("authorized", "captured", "failed", "refunded"),
    schema=StructType([
        StructField("event_id", StringType()),
        StructField("payment_id", StringType()),
        StructField("order_id", StringType()),
        StructField("status", StringType()),
        StructField("amount_cents", LongType()),
        StructField("currency", StringType()),
        StructField("event_ts", StringType()),
    ]),
)

# Fields that must be JSON strings when present.
STRING_FIELDS = ("event_id", "order_id", "user_id", "payment_id", "status", "currency", "event_ts")

KAFKA_COORDINATES = [
    StructField("topic", StringType()),
    StructField("partition", IntegerType()),
    StructField("offset", LongType()),
]

BRONZE = StructType([
    StructField("raw_key", StringType()),
    StructField("raw_value", StringType()),
    *KAFKA_COORDINATES,
    StructField("kafka_timestamp", TimestampType()),
    StructField("ingest_ts", TimestampType()),
])

ORDERS_CLEAN = StructType([
    StructField("event_id", StringType(), False),
    StructField("order_id", StringType(), False),
    StructField("user_id", StringType(), False),
    StructField("items", ArrayType(ITEM)),
    StructField("currency", StringType(), False),
    StructField("total_amount", MONEY, False),
    StructField("status", StringType(), False),
    StructField("event_ts", TimestampType(), False),
    StructField("event_date", DateType(), False),
    *KAFKA_COORDINATES,
    StructField("ingest_ts", TimestampType()),
])

PAYMENTS_CLEAN = StructType([
    StructField("event_id", StringType(), False),
    StructField("payment_id", StringType(), False),
    StructField("order_id", StringType(), False),
    StructField("amount", MONEY, False),
    StructField("currency", StringType(), False),
    StructField("status", StringType(), False),
    StructField("event_ts", TimestampType(), False),
    StructField("event_date", DateType(), False),
    *KAFKA_COORDINATES,
    StructField("ingest_ts", TimestampType()),
])

QUARANTINE = StructType([
    StructField("event_kind", StringType(), False),
    StructField("reason", StringType(), False),
    StructField("raw_key", StringType()),
    StructField("raw_value", StringType()),
    *KAFKA_COORDINATES,
    StructField("kafka_timestamp", TimestampType()),
    StructField("ingest_ts", TimestampType()),
])
