"""Bronze rows for tests: messages at Kafka coordinates (a broker's, or chosen ones), as Bronze stores them."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import BinaryType, StructField, StructType

from pipeline.bronze.job import ensure_table
from pipeline.schemas import BRONZE
from pipeline.settings import Settings
from pipeline.tables import BRONZE_TABLES
from simulator.model import Message
from tests.messages import ORDERS, PAYMENTS

PARTITIONS = 3
# Every message's Kafka timestamp: the producer sent them all at once; Bronze ingests them a second apart from then on.
PRODUCED = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
# Kafka hands the value over as bytes and Bronze casts it to a string (invalid UTF-8 reads back as U+FFFD).
RAW_VALUE_AS_BYTES = StructType([
    StructField(f.name, BinaryType()) if f.name == "raw_value" else f for f in BRONZE.fields
])


@dataclass(frozen=True)
class Delivery:
    """One message at its Kafka coordinates; `position` is its place in arrival order."""

    message: Message
    partition: int
    offset: int
    position: int

    @classmethod
    def at(cls, partition: int, offset: int, message: Message) -> Delivery:
        """The message at coordinates of the test's choosing (for tie-breaks Kafka's own numbering cannot
        set up), ingested `offset` seconds after PRODUCED."""
        return cls(message, partition, offset, position=offset)


def ingest_time(position: int) -> datetime:
    """Messages reach Bronze a second apart, in arrival order."""
    return PRODUCED + timedelta(seconds=position)


def partition_of(key: str | None, partitions: int = PARTITIONS) -> int:
    return zlib.crc32((key or "").encode()) % partitions


class Kafka:
    """Hands out coordinates as a broker would: the key's partition (or a chosen one), its next offset."""

    def __init__(self, partitions: int = PARTITIONS) -> None:
        self.partitions = partitions
        self._next_offset: dict[tuple[str, int], int] = {}
        self._position = 0

    def deliver(self, messages: Iterable[Message], partition: int | None = None) -> list[Delivery]:
        deliveries = []
        for message in messages:
            chosen = partition_of(message.key, self.partitions) if partition is None else partition
            offset = self._next_offset.get((message.topic, chosen), 0)
            self._next_offset[(message.topic, chosen)] = offset + 1
            deliveries.append(Delivery(message, chosen, offset, self._position))
            self._position += 1
        return deliveries


class BronzeFrames(NamedTuple):
    """The rows of the two Bronze tables, in the order of pipeline.tables.BRONZE_TABLES."""

    orders: DataFrame
    payments: DataFrame


def bronze_frames(spark: SparkSession, deliveries: Iterable[Delivery], order_topic: str = ORDERS,
                  payment_topic: str = PAYMENTS) -> BronzeFrames:
    """The Bronze tables' rows for these deliveries: raw_value from the bytes, Kafka timestamp PRODUCED,
    ingest_ts ingest_time(position)."""
    rows: dict[str, list[tuple]] = {order_topic: [], payment_topic: []}
    for delivery in deliveries:
        message = delivery.message
        rows[message.topic].append((message.key, message.value, message.topic, delivery.partition, delivery.offset,
                                    PRODUCED, ingest_time(delivery.position)))
    frames = (spark.createDataFrame(rows[topic], RAW_VALUE_AS_BYTES) for topic in (order_topic, payment_topic))
    return BronzeFrames(*(frame.withColumn("raw_value", F.col("raw_value").cast("string")) for frame in frames))


def append(frames: BronzeFrames, settings: Settings) -> None:
    """Append Bronze rows to the lake's Bronze Delta tables, as the Bronze stream does."""
    for table, frame in zip(BRONZE_TABLES, frames, strict=True):
        ensure_table(frame.sparkSession, table.uri(settings))
        frame.write.format("delta").mode("append").save(table.uri(settings))
