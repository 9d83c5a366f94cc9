"""The Spark types of each layer, and each event kind's fields and statuses (from `contract`) with its schema."""

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

import contract

MONEY = DecimalType(18, 2)

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
    required=contract.ORDER_FIELDS,
    statuses=contract.ORDER_STATUSES,
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
    required=contract.PAYMENT_FIELDS,
    statuses=contract.PAYMENT_STATUSES,
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
