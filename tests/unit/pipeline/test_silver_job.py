"""The Silver job on a local Delta lake: incremental, idempotent, and the same however Bronze arrives in runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from delta.tables import DeltaTable
from hypothesis import HealthCheck, Phase, example, given, settings as hypothesis_settings, strategies as st
from pyspark.sql import DataFrame, SparkSession
from pyspark.testing import assertDataFrameEqual

from pipeline.settings import Settings
from pipeline.silver import bookmark, job
from pipeline.tables import ORDER_PAYMENTS_ENRICHED, ORDERS_RAW, PAYMENTS_RAW, SILVER_TABLES, Table
from simulator.oracle import reconcile, silver_state
from simulator.scenario import load
from tests.bronze import ORDERS, PAYMENTS, Kafka, append, bronze_frames, ingest_time

# Few orders, but every kind of trouble: redeliveries and batches replayed hours later (so a cut
# parts an event from its redelivery), late events, payments before orders, malformed messages.
MESSAGES = load("mixed").messages(ORDERS, PAYMENTS, orders=20)


def lake_settings(folder: Path) -> Settings:
    return Settings.from_env({"LAKEHOUSE_HOME": str(folder), "LAKEHOUSE_URI": (folder / "lake").as_uri()})


def ingest_in_runs(spark: SparkSession, settings: Settings, cuts: list[int]) -> None:
    """Append MESSAGES to Bronze in slices cut at `cuts`, running the Silver job after each slice
    (the Bronze rows are the same however the messages are cut)."""
    kafka = Kafka()
    bounds = [0, *cuts, len(MESSAGES)]
    for start, end in zip(bounds, bounds[1:]):
        append(bronze_frames(spark, kafka.deliver(MESSAGES[start:end])), settings)
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


def test_the_messages_hold_every_kind_of_trouble():
    expected = reconcile(MESSAGES, ORDERS, PAYMENTS)
    for topic in (expected.orders, expected.payments):
        assert topic.duplicates > 0
    assert expected.orders.quarantined + expected.payments.quarantined > 0


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


# Each run is a dozen Delta reads, merges and commits (seconds, whatever the row count): the
# explicit splits are the telling ones, and a few generated ones add others. No shrinking: a
# failure prints its cuts.
@hypothesis_settings(max_examples=2, deadline=None, phases=(Phase.explicit, Phase.generate),
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(1, len(MESSAGES) - 1), min_size=1, max_size=3, unique=True).map(sorted))
# The first run sees a single message; the last run only the last one.
@example(cuts=[1, len(MESSAGES) - 1])
# Halves: the replayed batches of the first half are redelivered in the second.
@example(cuts=[len(MESSAGES) // 2])
def test_k_incremental_runs_equal_one_run_over_everything(spark, one_run, tmp_path_factory, cuts):
    settings = lake_settings(tmp_path_factory.mktemp("runs"))
    ingest_in_runs(spark, settings, cuts)
    for table in SILVER_TABLES:
        assertDataFrameEqual(silver(spark, settings, table), silver(spark, one_run, table), checkRowOrder=False)


def _version(spark: SparkSession, settings: Settings, table: Table) -> int:
    return DeltaTable.forPath(spark, table.uri(settings)).history(1).collect()[0]["version"]
