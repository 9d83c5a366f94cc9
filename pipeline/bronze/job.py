"""Bronze job: one Structured Streaming query per topic, Kafka -> Delta, checkpointed."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from pipeline.schemas import BRONZE
from pipeline.settings import Settings
from pipeline.tables import ORDERS_RAW, PAYMENTS_RAW, Table


def bronze_rows(kafka_records: DataFrame) -> DataFrame:
    """Kafka source records -> Bronze rows. The value stays byte for byte as it arrived
    (a string column holds the bytes even when they are not valid UTF-8)."""
    return kafka_records.select(
        F.col("key").cast("string").alias("raw_key"),
        F.col("value").cast("string").alias("raw_value"),
        "topic",
        "partition",
        "offset",
        F.col("timestamp").alias("kafka_timestamp"),
        F.current_timestamp().alias("ingest_ts"),
    ).select(*BRONZE.fieldNames())


# Bronze tables are made with the change data feed on; Silver records Delta versions in its bookmarks
# for such tables and reads only the files committed since (as Parquet: see silver/job.py). Bronze is
# append-only, so the feed costs no extra files.
CHANGE_DATA_FEED = "delta.enableChangeDataFeed"


def ensure_table(spark: SparkSession, uri: str) -> None:
    """The Bronze table at `uri`, created empty if missing (so Silver can read it before the first
    message arrives), with its change data feed on (turned on for tables made before it was used)."""
    spark.createDataFrame([], BRONZE).write.format("delta").mode("ignore") \
        .option(CHANGE_DATA_FEED, "true").save(uri)
    if not has_change_data_feed(spark, uri):
        spark.sql(f"ALTER TABLE delta.`{uri}` SET TBLPROPERTIES ({CHANGE_DATA_FEED} = true)")


def has_change_data_feed(spark: SparkSession, uri: str) -> bool:
    # SHOW TBLPROPERTIES reads the table's metadata only (DESCRIBE DETAIL would list every file).
    properties = spark.sql(f"SHOW TBLPROPERTIES delta.`{uri}`").collect()
    return any(row["key"] == CHANGE_DATA_FEED and row["value"] == "true" for row in properties)


def topic_tables(settings: Settings) -> dict[str, Table]:
    return {settings.topic_order_events: ORDERS_RAW, settings.topic_payment_events: PAYMENTS_RAW}


def start(spark: SparkSession, settings: Settings, available_now: bool) -> list[StreamingQuery]:
    """Start one query per topic; with available_now they stop once they have caught up."""
    queries = []
    for topic, table in topic_tables(settings).items():
        ensure_table(spark, table.uri(settings))
        records = (
            spark.readStream.format("kafka")
            .option("kafka.bootstrap.servers", settings.kafka_bootstrap)
            .option("subscribe", topic)
            .option("startingOffsets", "earliest")
            .load()
        )
        writer = (
            bronze_rows(records).writeStream.format("delta")
            .queryName(f"bronze_{table.name}")
            .outputMode("append")
            .option("checkpointLocation", settings.checkpoint_uri(f"bronze/{table.name}"))
        )
        writer = writer.trigger(availableNow=True) if available_now else writer.trigger(
            processingTime=f"{settings.bronze_trigger_seconds} seconds")
        queries.append(writer.start(table.uri(settings)))
    return queries


def run_available_now(spark: SparkSession, settings: Settings) -> None:
    """Ingest everything in the topics now, then return."""
    queries = start(spark, settings, available_now=True)
    try:
        for query in queries:
            query.awaitTermination()
            if query.exception() is not None:
                raise query.exception()
    finally:
        for query in queries:
            query.stop()
