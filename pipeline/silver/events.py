"""Shared steps of the clean event tables: keep the valid messages, type them, drop redeliveries."""

from __future__ import annotations

from functools import cache

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from pipeline.schemas import EventKind
from pipeline.silver.validation import event_timestamp, line_items, with_reason

COORDINATES = ("topic", "partition", "offset")
# For a Delta MERGE of new events (s) into a clean table (t) on event_id: the first_delivery rule
# across runs, so k incremental runs keep the same delivery as one run over everything.
EARLIER_DELIVERY = "s.partition < t.partition OR (s.partition = t.partition AND s.offset < t.offset)"


def validate(bronze: DataFrame, kind: EventKind) -> DataFrame:
    """Bronze rows plus `reason` (null when valid) and one typed column per contract field, read
    from the message parsed once. The clean tables and quarantine are both made from this, so a
    job that keeps it validates each message once; the raw text is kept only where it is needed,
    for the quarantine."""
    checked = with_reason(bronze, kind)
    raw_value = F.when(F.col("reason").isNotNull(), F.col("raw_value")).alias("raw_value")
    bronze_columns = [raw_value if name == "raw_value" else F.col(name) for name in bronze.columns]
    return checked.select(*bronze_columns, "reason", *_typed_fields(kind))


@cache
def _typed_fields(kind: EventKind) -> tuple[Column, ...]:
    """One typed column per contract field, read from `_doc`, the message parsed once (so neither the
    checks nor the typed fields parse it again); built once per process and kind, as with_reason's are."""
    doc = F.col("_doc")
    return tuple(
        (line_items(doc) if f.name == "items" else F.try_variant_get(doc, f"$.{f.name}", f.dataType.simpleString()))
        .alias(f.name)
        for f in kind.schema.fields
    )


def validated(bronze: DataFrame, kind: EventKind) -> DataFrame:
    """Bronze rows as `validate` returns them; rows validated already are taken as they are."""
    return bronze if "reason" in bronze.columns else validate(bronze, kind)


def typed_events(bronze: DataFrame, kind: EventKind) -> DataFrame:
    """The valid messages of a Bronze table (raw or validated), one typed column per contract field."""
    return (
        validated(bronze, kind)
        .where(F.col("reason").isNull())
        .select(*kind.schema.fieldNames(), *COORDINATES, "ingest_ts")
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
