"""Bronze's micro-batch append: one commit per batch, naming its query and batch, and a replayed batch skipped."""

from __future__ import annotations

import json
import time
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from pipeline.bronze.job import (
    BATCH_KEY,
    CHANGE_DATA_FEED,
    append_batch,
    committed_batch,
    ensure_table,
    has_change_data_feed,
    start_query,
)
from pipeline.deltalog import delta_commits
from pipeline.objectstore import LOCAL
from pipeline.schemas import BRONZE

QUERY = "bf660f8b-90d8-4943-a7ab-992b8e104f88"


def write_commit(table: Path, version: int, *actions: dict) -> None:
    log = table / "_delta_log"
    log.mkdir(parents=True, exist_ok=True)
    (log / f"{version:020d}.json").write_text("".join(json.dumps(action) + "\n" for action in actions))


def batch_commit(query: str, batch: int) -> dict:
    metadata = json.dumps({BATCH_KEY: {"query": query, "batch": batch}})
    return {"commitInfo": {"operation": "WRITE", "userMetadata": metadata}}


def sink_commit(query: str, batch: int) -> list[dict]:
    """What Delta's streaming sink wrote for a micro-batch before Bronze appended by foreachBatch."""
    return [{"txn": {"appId": query, "version": batch, "lastUpdated": 1}},
            {"commitInfo": {"operation": "STREAMING UPDATE"}}]


OPTIMIZE = {"commitInfo": {"operation": "OPTIMIZE"}}
CREATE = {"commitInfo": {"operation": "WRITE"}}


def test_the_newest_batch_of_the_query_is_read_from_under_other_commits(tmp_path):
    write_commit(tmp_path, 0, CREATE)
    write_commit(tmp_path, 1, batch_commit(QUERY, 6))
    write_commit(tmp_path, 2, batch_commit(QUERY, 7))
    write_commit(tmp_path, 3, OPTIMIZE)  # `maintain` compacted Bronze since
    assert committed_batch(tmp_path.as_uri(), QUERY, LOCAL) == 7


def test_the_streaming_sinks_commits_count_too(tmp_path):
    # A checkpoint of the Delta sink's days, resumed: its last batch is in a txn action, not in userMetadata.
    write_commit(tmp_path, 0, CREATE)
    write_commit(tmp_path, 1, *sink_commit(QUERY, 41))
    assert committed_batch(tmp_path.as_uri(), QUERY, LOCAL) == 41


def test_nothing_is_committed_for_a_query_that_another_followed_or_that_never_wrote(tmp_path):
    write_commit(tmp_path, 0, CREATE)
    assert committed_batch(tmp_path.as_uri(), QUERY, LOCAL) is None
    write_commit(tmp_path, 1, batch_commit(QUERY, 9))
    write_commit(tmp_path, 2, batch_commit("a-new-checkpoint", 0))
    assert committed_batch(tmp_path.as_uri(), QUERY, LOCAL) is None


def test_a_batch_is_appended_once_however_often_it_is_replayed(spark: SparkSession, tmp_path):
    uri = (tmp_path / "orders_raw").as_uri()
    ensure_table(spark, uri)
    append = append_batch(uri, LOCAL)
    rows = spark.createDataFrame([("k", "v", "orders", 0, 5, None, None)], BRONZE)
    spark.sparkContext.setLocalProperty("sql.streaming.queryId", QUERY)  # what a streaming query's thread carries
    try:
        append(rows, 3)
        append(rows, 3)  # the process died after the commit, before the checkpoint: the restart replays batch 3
        append(rows, 4)
    finally:
        spark.sparkContext.setLocalProperty("sql.streaming.queryId", None)
    assert spark.read.format("delta").load(uri).count() == 2
    assert committed_batch(uri, QUERY, LOCAL) == 4
    batches = [json.loads(c.user_metadata)[BATCH_KEY]["batch"] for c in delta_commits(uri) if c.user_metadata]
    assert batches == [4, 3]


def test_the_change_data_feed_is_read_from_the_delta_log_without_spark(tmp_path):
    table = tmp_path / "orders_raw"
    write_commit(table, 0, CREATE)
    checksum = {"tableSizeBytes": 0, "metadata": {"configuration": {CHANGE_DATA_FEED: "true"}}}
    (table / "_delta_log" / f"{0:020d}.crc").write_text(json.dumps(checksum))

    class NoSpark:
        def sql(self, query):
            raise AssertionError(f"a Spark query where the checksum answers: {query}")

    assert has_change_data_feed(NoSpark(), table.as_uri(), LOCAL)


def compilations(spark: SparkSession) -> int:
    """How many classes Spark's code generation has compiled in this JVM so far."""
    return spark.sparkContext._jvm.org.apache.spark.metrics.source.CodegenMetrics.METRIC_COMPILATION_TIME().getCount()


def test_a_continuous_query_compiles_no_code_per_micro_batch(spark: SparkSession, tmp_path):
    # Each micro-batch's current_timestamp() is a literal of its own: generated code would be new Java every batch.
    compiled: list[int] = []

    def batch(rows, _):
        before = compilations(spark)
        rows.write.format("noop").mode("overwrite").save()
        compiled.append(compilations(spark) - before)

    stream = spark.readStream.format("rate").option("rowsPerSecond", 50).load()
    writer = (stream.select("value", F.current_timestamp().alias("ingest_ts")).writeStream.foreachBatch(batch)
              .option("checkpointLocation", str(tmp_path / "checkpoint")))
    query = start_query(spark, writer, str(tmp_path / "out"), trigger_seconds=1)
    try:
        deadline = time.monotonic() + 60
        while len(compiled) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        query.stop()
    assert len(compiled) >= 3 and set(compiled) == {0}
    # The session's own settings are as they were: only the query runs interpreted.
    assert spark.conf.get("spark.sql.codegen.factoryMode") == "FALLBACK"
