"""A Silver run killed part-way (SIGKILL to its process group, JVM included) and run again leaves
exactly the Silver tables of an uninterrupted run.

Each test has two lakes of its own, A and B, with the same Bronze rows written directly (the
session's topics and lakehouse are left alone). A runs the Silver job without interruption; B runs
`python -m pipeline silver` in a child process that is killed at a chosen commit, then the next run
(in this process, whose JVM is warm: it knows B only from its files) finishes it. Bronze arrives in
two waves, so that the second test kills an incremental run.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.testing import assertDataFrameEqual

from pipeline.settings import Settings
from pipeline.silver import bookmark, job
from pipeline.tables import ORDER_PAYMENTS_ENRICHED, ORDERS_CLEAN, QUARANTINE, SILVER_TABLES, Table
from simulator.scenario import load
from tests.bronze import BronzeFrames, Kafka, append, bronze_frames
from tests.e2e import children

ORDERS = 200
# The scenario's last new event arrives after about half of its messages (replays follow): the
# second wave holds new events as well as redeliveries.
FIRST_WAVE_SHARE = 0.3
POLL_SECONDS = 0.02


def commit_file(settings: Settings, table: Table, version: int) -> Path:
    return settings.lake_path / table.schema / table.name / "_delta_log" / f"{version:020d}.json"


def lake(settings: Settings, folder: Path) -> Settings:
    return Settings.from_env({**settings.env, "LAKEHOUSE_HOME": str(folder),
                              "LAKEHOUSE_URI": (folder / "lake").as_uri()})


def kill_silver_at(lake_settings: Settings, commit: Path, log: Path) -> None:
    """Start a Silver run and SIGKILL its whole process group as soon as `commit` lands."""
    process = children.start(lake_settings, log, "silver")
    try:
        deadline = time.monotonic() + children.RUN_TIMEOUT_SECONDS
        while not commit.exists():
            assert process.poll() is None, f"the run ended before {commit} landed:\n{log.read_text()[-4000:]}"
            assert time.monotonic() < deadline, f"no {commit} after {children.RUN_TIMEOUT_SECONDS}s"
            time.sleep(POLL_SECONDS)
    finally:
        children.kill(process)


def read(spark: SparkSession, settings: Settings, table: Table) -> DataFrame:
    return spark.read.format("delta").load(table.uri(settings))


def rows(spark: SparkSession, settings: Settings, table: Table) -> set[tuple]:
    return {tuple(row) for row in read(spark, settings, table).collect()}


def silver_tables_equal(spark: SparkSession, a: Settings, b: Settings) -> None:
    for table in SILVER_TABLES:
        # Every column, updated_ts included: both lakes computed it from the same Bronze snapshot.
        assertDataFrameEqual(read(spark, b, table), read(spark, a, table), checkRowOrder=False)


@pytest.fixture(scope="module")
def waves(settings, spark) -> list[BronzeFrames]:
    """The Bronze rows of the two waves."""
    messages = load("mixed").messages(settings.topic_order_events, settings.topic_payment_events, orders=ORDERS)
    cut = int(len(messages) * FIRST_WAVE_SHARE)
    kafka = Kafka()
    return [
        bronze_frames(spark, kafka.deliver(part), settings.topic_order_events, settings.topic_payment_events)
        for part in (messages[:cut], messages[cut:])
    ]


def test_a_run_killed_after_its_first_commit_is_finished_by_the_next(settings, spark, waves, recovered, tmp_path):
    uninterrupted, killed = lake(settings, tmp_path / "a"), lake(settings, tmp_path / "b")
    for target in (uninterrupted, killed):
        append(waves[0], target)
    job.run(spark, uninterrupted)

    kill_silver_at(killed, commit_file(killed, ORDERS_CLEAN, 0), tmp_path / "silver.log")
    assert not commit_file(killed, ORDER_PAYMENTS_ENRICHED, 0).exists(), "the kill came too late"
    with recovered("e. Silver SIGKILLed after its first table's commit: run it again"):
        job.run(spark, killed)
    silver_tables_equal(spark, uninterrupted, killed)


def test_a_run_killed_in_its_last_step_is_finished_by_the_next(settings, spark, waves, recovered, tmp_path):
    uninterrupted, killed = lake(settings, tmp_path / "a"), lake(settings, tmp_path / "b")
    append(waves[0], uninterrupted)
    job.run(spark, uninterrupted)
    shutil.copytree(uninterrupted.lake_path, killed.lake_path)
    for target in (uninterrupted, killed):
        append(waves[1], target)
    job.run(spark, uninterrupted)

    # The quarantine's commit of the second wave comes just before the enriched table's step.
    kill_silver_at(killed, commit_file(killed, QUARANTINE, 1), tmp_path / "silver.log")
    reached = {table: bookmark.read(table.uri(killed)) for table in SILVER_TABLES}
    assert reached[ORDER_PAYMENTS_ENRICHED] != reached[ORDERS_CLEAN], "the kill came too late"
    before = orders(spark, killed)
    with recovered("e. Silver SIGKILLed in its last step, with rows left to add and update: run it again"):
        job.run(spark, killed)
    silver_tables_equal(spark, uninterrupted, killed)
    # The resumed run had real work left in the enriched table: orders to add, and orders whose values
    # (not just updated_ts, which a redelivery bumps too) it changed.
    after = orders(spark, killed)
    added = after.keys() - before.keys()
    updated = {order_id for order_id in before.keys() & after.keys() if before[order_id] != after[order_id]}
    assert added and updated, f"the resumed run added {len(added)} orders and updated {len(updated)}"


def orders(spark: SparkSession, settings: Settings) -> dict[str, tuple]:
    return {row["order_id"]: tuple(row) for row in
            read(spark, settings, ORDER_PAYMENTS_ENRICHED).drop("updated_ts").collect()}
