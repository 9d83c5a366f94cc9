"""The Silver job on a local Delta lake: incremental, idempotent, and the same however Bronze arrives in runs."""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings as hypothesis_settings, strategies as st
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import BinaryType, StructField, StructType
from pyspark.testing import assertDataFrameEqual

from pipeline.contract import BRONZE
from pipeline.settings import Settings
from pipeline.silver import bookmark, job
from pipeline.tables import BRONZE_TABLES, ORDER_PAYMENTS_ENRICHED, ORDERS_RAW, PAYMENTS_RAW, SILVER_TABLES, Table
from simulator.generator import generate
from simulator.model import Message
from simulator.oracle import silver_state

ORDERS, PAYMENTS = "orders.events", "payments.events"
PARTITIONS = 3
FIRST_INGEST = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
# Enough orders for redeliveries, late arrivals and payments before orders; small enough for many runs.
MESSAGES = generate(40, seed=11, order_topic=ORDERS, payment_topic=PAYMENTS)


def lake_settings(folder: Path) -> Settings:
    return Settings.from_env({"LAKEHOUSE_HOME": str(folder), "LAKEHOUSE_URI": (folder / "lake").as_uri()})


def bronze_rows(spark: SparkSession, messages: list[Message], first_offsets: dict[tuple[str, int], int],
                first_position: int) -> dict[Table, DataFrame]:
    """Kafka's view of `messages`: partition by key, offsets in production order, a second apart
    (the same Bronze rows however the messages are cut into runs)."""
    as_bytes = StructType([StructField(f.name, BinaryType()) if f.name == "raw_value" else f for f in BRONZE.fields])
    rows: dict[str, list] = {ORDERS: [], PAYMENTS: []}
    for position, message in enumerate(messages, start=first_position):
        ingested = ingest_time(position)
        partition = zlib.crc32((message.key or "").encode()) % PARTITIONS
        offset = first_offsets.get((message.topic, partition), 0)
        first_offsets[(message.topic, partition)] = offset + 1
        rows[message.topic].append((message.key, message.value, message.topic, partition, offset, ingested, ingested))
    return {
        table: spark.createDataFrame(rows[topic], as_bytes).withColumn("raw_value", F.col("raw_value").cast("string"))
        for table, topic in ((ORDERS_RAW, ORDERS), (PAYMENTS_RAW, PAYMENTS))
    }


def ingest_time(position: int) -> datetime:
    return FIRST_INGEST + timedelta(seconds=position)


def ingest_in_runs(spark: SparkSession, settings: Settings, cuts: list[int]) -> None:
    """Append MESSAGES to Bronze in slices cut at `cuts`, running the Silver job after each slice."""
    offsets: dict[tuple[str, int], int] = {}
    bounds = [0, *cuts, len(MESSAGES)]
    for start, end in zip(bounds, bounds[1:]):
        for table, rows in bronze_rows(spark, MESSAGES[start:end], offsets, start).items():
            rows.write.format("delta").mode("append").save(table.uri(settings))
        job.run(spark, settings)


def silver(spark: SparkSession, settings: Settings, table: Table) -> DataFrame:
    frame = spark.read.format("delta").load(table.uri(settings))
    # updated_ts is the watermark of the run that last touched the order: it depends on the runs by design.
    return frame.drop("updated_ts") if table == ORDER_PAYMENTS_ENRICHED else frame


@pytest.fixture(scope="module")
def one_run(spark, tmp_path_factory) -> Settings:
    settings = lake_settings(tmp_path_factory.mktemp("one-run"))
    ingest_in_runs(spark, settings, cuts=[])
    return settings


def test_one_run_matches_the_oracle(spark, one_run):
    expected = silver_state(MESSAGES, ORDERS, PAYMENTS)
    enriched = {row["order_id"]: row for row in silver(spark, one_run, ORDER_PAYMENTS_ENRICHED).collect()}
    assert {order_id: (row["total_amount"], row["paid_amount"], row["fully_paid"])
            for order_id, row in enriched.items()} == {
        order_id: (state.latest.total_amount, state.paid_amount, state.fully_paid)
        for order_id, state in expected.orders.items()
    }


def test_a_run_with_nothing_new_commits_nothing(spark, one_run):
    versions = {t: _version(spark, one_run, t) for t in SILVER_TABLES}
    outcome = job.run(spark, one_run)
    assert set(outcome.values()) == {"up to date"}
    assert {t: _version(spark, one_run, t) for t in SILVER_TABLES} == versions


def test_each_table_records_the_bronze_position_it_reached(spark, one_run):
    produced = {ORDERS_RAW.name: ORDERS, PAYMENTS_RAW.name: PAYMENTS}
    for table in SILVER_TABLES:
        position = bookmark.read(spark, table.uri(one_run))
        last = ingest_time(len(MESSAGES) - 1)
        assert position is not None and position.watermark == f"{last:%Y-%m-%dT%H:%M:%S}.000000Z"
        for bronze_table, topic in produced.items():
            assert sum(last + 1 for last in position.offsets[bronze_table].values()) == sum(
                1 for message in MESSAGES if message.topic == topic)


# Each example is a few Spark jobs per run: few examples, and no shrinking (a failure prints its cuts).
@hypothesis_settings(max_examples=6, deadline=None, phases=(Phase.explicit, Phase.generate),
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(1, len(MESSAGES) - 1), min_size=1, max_size=3, unique=True).map(sorted))
def test_k_incremental_runs_equal_one_run_over_everything(spark, one_run, tmp_path_factory, cuts):
    settings = lake_settings(tmp_path_factory.mktemp("runs"))
    ingest_in_runs(spark, settings, cuts)
    for table in SILVER_TABLES:
        assertDataFrameEqual(silver(spark, settings, table), silver(spark, one_run, table), checkRowOrder=False)


def _version(spark: SparkSession, settings: Settings, table: Table) -> int:
    from delta.tables import DeltaTable

    return DeltaTable.forPath(spark, table.uri(settings)).history(1).collect()[0]["version"]
