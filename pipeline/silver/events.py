"""Shared steps of the clean event tables: keep the valid messages, type them, drop redeliveries."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from pipeline.contract import EventKind
from pipeline.silver.validation import event_timestamp, first_reason, line_items, parsed

COORDINATES = ("topic", "partition", "offset")
# For a Delta MERGE of new events (s) into a clean table (t) on event_id: the first_delivery rule
# across runs, so k incremental runs keep the same delivery as one run over everything.
EARLIER_DELIVERY = "s.partition < t.partition OR (s.partition = t.partition AND s.offset < t.offset)"


def with_rejection_reason(bronze: DataFrame, kind: EventKind) -> DataFrame:
    """Bronze rows plus `_doc`, the message parsed once (a column of its own, so neither the checks
    nor the typed fields parse it again), and `reason`, null when the message is valid."""
    return (
        bronze.withColumn("_doc", parsed(F.col("raw_value")))
        .withColumn("reason", first_reason(F.col("raw_value"), F.col("_doc"), kind))
    )


def typed_events(bronze: DataFrame, kind: EventKind) -> DataFrame:
    """The valid messages of a Bronze table, one typed column per contract field."""
    doc = F.col("_doc")
    fields: list[Column] = [
        (line_items(doc) if f.name == "items" else F.try_variant_get(doc, f"$.{f.name}", f.dataType.simpleString()))
        .alias(f.name)
        for f in kind.schema.fields
    ]
    return (
        with_rejection_reason(bronze, kind)
        .where(F.col("reason").isNull())
        .select(*fields, *COORDINATES, "ingest_ts")
        .withColumn("event_ts", event_timestamp(F.col("event_ts")))
        .withColumn("event_date", F.to_date("event_ts"))
    )


def first_delivery(events: DataFrame) -> DataFrame:
    """One row per event_id: the earliest delivery by (partition, offset); later ones are redeliveries."""
    earliest = Window.partitionBy("event_id").orderBy("partition", "offset")
    return events.withColumn("_delivery", F.row_number().over(earliest)).where("_delivery = 1").drop("_delivery")


def latest_first(*keys: str) -> Window:
    """Latest event first by event_ts; ties go to the later Kafka (partition, offset)."""
    return Window.partitionBy(*keys).orderBy(F.desc("event_ts"), F.desc("partition"), F.desc("offset"))
