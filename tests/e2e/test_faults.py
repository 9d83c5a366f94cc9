"""Faults injected into the running pipeline, recovered from the way an operator would, and then checked:
Bronze holds exactly one row per produced message, Silver equals an uninterrupted run over that Bronze,
and Gold equals the oracle to the cent."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from pipeline import lakehouse, reconcile
from pipeline.settings import Settings
from pipeline.silver import job as silver
from pipeline.bronze.job import topic_tables
from pipeline.tables import BRONZE_TABLES, ORDERS_RAW, SILVER_TABLES, Table
from simulator.run import run_produce
from tests.e2e import children

ORDERS = 120
RATE = 15  # messages per second: about a minute of sending, still going when the kill comes
POLL_SECONDS = 0.05
WAIT_SECONDS = 240


def commits(settings: Settings, table: Table) -> set[str]:
    return {path.name for path in (settings.lake_path / table.schema / table.name / "_delta_log").glob("*.json")}


def bronze_is_exactly_once(spark: SparkSession, settings: Settings, produced: dict[str, int]) -> None:
    for topic, table in topic_tables(settings).items():
        rows = spark.read.format("delta").load(table.uri(settings))
        counts = rows.agg(F.count("*").alias("rows"),
                          F.count_distinct("topic", "partition", "offset").alias("records")).first()
        assert (counts["rows"], counts["records"]) == (produced[topic], produced[topic]), (
            f"{table.qualified}: {counts['rows']} rows of {counts['records']} Kafka records, {produced[topic]} produced")


def silver_equals_an_uninterrupted_run(spark: SparkSession, settings: Settings, elsewhere: Path) -> None:
    """Silver as the faulted runs left it equals Silver rebuilt in one run from the same Bronze (copied to a
    lake of its own). updated_ts records which run last saw an order, so it differs by design."""
    fresh = Settings.from_env({**settings.env, "LAKEHOUSE_HOME": str(elsewhere),
                               "LAKEHOUSE_URI": (elsewhere / "lake").as_uri()})
    for table in BRONZE_TABLES:
        spark.read.format("delta").load(table.uri(settings)).write.format("delta").save(table.uri(fresh))
    silver.run(spark, fresh, full_refresh=True)
    for table in SILVER_TABLES:
        assertDataFrameEqual(_comparable(spark, settings, table), _comparable(spark, fresh, table),
                             checkRowOrder=False)


def _comparable(spark: SparkSession, settings: Settings, table: Table) -> DataFrame:
    rows = spark.read.format("delta").load(table.uri(settings))
    return rows.drop("updated_ts") if "updated_ts" in rows.columns else rows


@pytest.fixture
def fast(settings) -> Settings:
    """The session's stack, with the continuous pipeline's cadence short enough for a test."""
    return Settings.from_env({**settings.env, "BRONZE_TRIGGER_SECONDS": "1", "SILVER_INTERVAL_SECONDS": "2"})


def wait_until(what: str, done, process, log: Path) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not done():
        assert process.poll() is None, f"`pipeline run` ended before {what}:\n{log.read_text()[-4000:]}"
        assert time.monotonic() < deadline, f"no {what} in {WAIT_SECONDS}s:\n{log.read_text()[-4000:]}"
        time.sleep(POLL_SECONDS)


def test_streaming_bronze_killed_mid_batch_while_producing_loses_and_doubles_nothing(fast, spark, tmp_path):
    lakehouse.empty(fast, spark)
    log = tmp_path / "run.log"
    sent = {}
    producer = threading.Thread(target=lambda: sent.update(
        expected=run_produce(fast, scenario="mixed", orders=ORDERS, rate=RATE)[0]))
    running = children.start(fast, log, "run")
    try:
        wait_until("Bronze table", lambda: commits(fast, ORDERS_RAW), running, log)
        producer.start()
        wait_until("first Bronze micro-batch", lambda: len(commits(fast, ORDERS_RAW)) >= 2, running, log)
        # Kill as the next micro-batch commits: between its Delta commit and the checkpoint's record of it.
        seen = commits(fast, ORDERS_RAW)
        wait_until("next Bronze micro-batch", lambda: commits(fast, ORDERS_RAW) != seen, running, log)
        assert producer.is_alive(), "the producer finished before the kill: raise ORDERS or lower RATE"
    finally:
        children.kill(running)
    producer.join()

    children.run(fast, log, "run", "--once")  # what an operator does: run it again

    expected = sent["expected"]
    bronze_is_exactly_once(spark, fast, {fast.topic_order_events: expected.orders.produced,
                                         fast.topic_payment_events: expected.payments.produced})
    silver_equals_an_uninterrupted_run(spark, fast, tmp_path / "uninterrupted")
    result = reconcile.reconcile(fast, expected)
    assert result.matches, result.summary("mixed, Bronze killed mid-batch")
