"""Bronze job: one Structured Streaming query per topic, Kafka -> Delta, checkpointed.

Each micro-batch is appended by `foreachBatch` (`append_batch`) rather than by Delta's streaming sink. The sink
asks the table which batch its query committed last (Delta's `txnVersion`), and Delta 4.4 answers from the
table's whole state, rebuilt by three Spark jobs at every micro-batch of every table: more work than the write
itself, all the time `pipeline run` streams (on two cores, ~1-2 s a batch taken from Silver). Exactly once
stays: each commit names its query and batch in its `userMetadata`, read back from the newest commits of the
Delta log as files (`committed_batch`); a batch the table holds already, because the process died between
the commit and the checkpoint, is skipped when the restarted query replays it.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import DataStreamWriter, StreamingQuery

from pipeline import deltalog, objectstore
from pipeline.objectstore import Files
from pipeline.schemas import BRONZE
from pipeline.settings import Settings
from pipeline.spark import INTERPRETED, session_conf
from pipeline.tables import ORDERS_RAW, PAYMENTS_RAW, Table

# The key of a Bronze commit's userMetadata: {"bronze_batch": {"query": <streaming query id>, "batch": <n>}}.
BATCH_KEY = "bronze_batch"


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


def has_change_data_feed(spark: SparkSession, uri: str, files: Files | None = None) -> bool:
    """Whether the table's change data feed is on: from the checksum of its latest version when `files`
    (the lakehouse's) are given and it has one, without a Spark query; otherwise from Spark."""
    known = None if files is None else deltalog.properties(uri, files)
    if known is not None:
        return known.get(CHANGE_DATA_FEED) == "true"
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
            bronze_rows(records).writeStream
            .foreachBatch(append_batch(table.uri(settings), objectstore.files(settings)))
            .queryName(f"bronze_{table.name}")
            .option("checkpointLocation", settings.checkpoint_uri(f"bronze/{table.name}"))
        )
        trigger_seconds = None if available_now else settings.bronze_trigger_seconds
        queries.append(start_query(spark, writer, table.uri(settings), trigger_seconds))
    return queries


def start_query(spark: SparkSession, writer: DataStreamWriter, path: str,
                trigger_seconds: int | None) -> StreamingQuery:
    """Start `writer`'s query: a micro-batch every `trigger_seconds`, interpreted, or with None once through
    what is there (availableNow), with generated code: few, large batches earn it.

    Structured Streaming turns `current_timestamp()` (ingest_ts) into a literal of each micro-batch's time, so
    with generated code every micro-batch compiled a class of its own, and the JIT compiled it again: under
    200 events/s with a 2 s trigger, Bronze alone took 0.73 of a core, a third of it the JIT's compiler
    threads. A micro-batch of a few hundred rows gains nothing from generated code."""
    if trigger_seconds is None:
        return writer.trigger(availableNow=True).start(path)
    # A query takes a copy of the session's settings when it starts.
    with session_conf(spark, INTERPRETED):
        return writer.trigger(processingTime=f"{trigger_seconds} seconds").start(path)


def append_batch(uri: str, files: Files) -> Callable[[DataFrame, int], None]:
    """The foreachBatch function of the query writing the Bronze table at `uri`: append the micro-batch in
    one commit that records the query and the batch, unless that batch is in the table already."""

    def append(rows: DataFrame, batch: int) -> None:
        query = rows.sparkSession.sparkContext.getLocalProperty("sql.streaming.queryId")
        done = committed_batch(uri, query, files)
        if done is not None and done >= batch:
            return  # replayed after a restart: the process died after this batch's commit, before its checkpoint
        marker = json.dumps({BATCH_KEY: {"query": query, "batch": batch}})
        rows.write.format("delta").mode("append").option("userMetadata", marker).save(uri)

    return append


def committed_batch(uri: str, query: str, files: Files) -> int | None:
    """The latest micro-batch of streaming query `query` in the table at `uri`: from the newest commit written
    by a Bronze query (commits by others, `maintain`'s OPTIMIZE say, may sit on top), by its userMetadata or,
    for commits of Delta's streaming sink that wrote Bronze before, by its `txn` action. None when the newest
    such commit is another query's (a new checkpoint starts a new query) or there is none."""
    for _, text in deltalog.commit_texts(uri, files):
        recorded = _recorded_batch(text)
        if recorded is not None:
            return recorded[1] if recorded[0] == query else None
    return None


def _recorded_batch(commit: str) -> tuple[str, int] | None:
    """(query, batch) of a commit written by a Bronze query; None for any other commit."""
    for line in commit.splitlines():
        action = json.loads(line)
        if "txn" in action:
            return action["txn"]["appId"], int(action["txn"]["version"])
        metadata = (action.get("commitInfo") or {}).get("userMetadata") or ""
        if BATCH_KEY in metadata:
            recorded = json.loads(metadata)[BATCH_KEY]
            return recorded["query"], int(recorded["batch"])
    return None


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
