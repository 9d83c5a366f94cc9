"""Faults injected into the running pipeline, recovered from the way an operator would, and then checked:
Bronze holds exactly one row per produced message, Silver equals an uninterrupted run over that Bronze,
and Gold equals the oracle to the cent."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from harness import reconcile
from pipeline import catalog, lakehouse, run
from pipeline.bronze.job import topic_tables
from pipeline.settings import Settings
from pipeline.silver import job as silver
from pipeline.stack import supervisor
from pipeline.stack.trino import METASTORE_DIR
from pipeline.tables import BRONZE_TABLES, GOLD_SCHEMA, ORDERS_CLEAN, ORDERS_RAW, SILVER_TABLES, Table
from simulator.oracle import Expected
from simulator.play import run_produce
from simulator.scenario import load
from tests.bronze import Kafka, append, bronze_frames
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


def wait_until(what: str, done: Callable[[], object], process: subprocess.Popen, log: Path,
               poll: float = POLL_SECONDS, seconds: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert process.poll() is None, f"the process ended before {what}:\n{log.read_text()[-4000:]}"
        assert time.monotonic() < deadline, f"no {what} in {seconds}s:\n{log.read_text()[-4000:]}"
        time.sleep(poll)


class Producer(threading.Thread):
    """The simulator sending `orders` of the mixed scenario at `rate` in the background, recording them to
    `event_log`, until `hurry` lets the rest go at full speed; `expected` is its oracle's outcome once it is
    done (`join`), `error` what stopped it."""

    def __init__(self, settings: Settings, event_log: Path, orders: int = ORDERS, rate: float = RATE):
        super().__init__(daemon=True)
        self.settings = settings
        self.event_log = event_log
        self.orders, self.rate = orders, rate
        self.hurried = threading.Event()
        self.expected: Expected | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            # The pacing's waits end early once hurried: the messages left go out as fast as Kafka takes them.
            self.expected = run_produce(self.settings, scenario="mixed", orders=self.orders, rate=self.rate,
                                        record=self.event_log, sleep=self.hurried.wait)[0]
        except BaseException as error:
            self.error = error

    def hurry(self) -> None:
        """The fault is behind us: no need to keep the pipeline waiting for the rest of the minute."""
        self.hurried.set()

    def outcome(self) -> Expected:
        self.join()
        assert self.error is None, f"the simulator failed: {self.error!r}"
        return self.expected


def first_micro_batch(settings: Settings, producer: Producer, running: subprocess.Popen, log: Path) -> None:
    """Wait for the Bronze table, start producing, and wait for the first micro-batch of it."""
    wait_until("Bronze table", lambda: commits(settings, ORDERS_RAW), running, log)
    producer.start()
    wait_until("first Bronze micro-batch", lambda: len(commits(settings, ORDERS_RAW)) >= 2, running, log)


def exactly_once_and_equal_to_the_oracle(spark: SparkSession, settings: Settings, expected: Expected,
                                        event_log: Path, elsewhere: Path, title: str) -> None:
    bronze_is_exactly_once(spark, settings, reconcile.logged_messages([event_log]))
    silver_equals_an_uninterrupted_run(spark, settings, elsewhere)
    result = reconcile.reconcile(settings, expected, [event_log])
    assert result.matches, result.summary(title)


def test_streaming_bronze_killed_mid_batch_while_producing_loses_and_doubles_nothing(fast, spark, recovered,
                                                                                     tmp_path):
    lakehouse.empty(fast, spark)
    log, producer = tmp_path / "run.log", Producer(fast, tmp_path / "events.jsonl")
    running = children.start(fast, log, "run")
    try:
        first_micro_batch(fast, producer, running, log)
        # Kill as the next micro-batch commits: between its Delta commit and the checkpoint's record of it.
        seen = commits(fast, ORDERS_RAW)
        wait_until("next Bronze micro-batch", lambda: commits(fast, ORDERS_RAW) != seen, running, log)
        assert producer.is_alive(), "the producer finished before the kill: raise ORDERS or lower RATE"
    finally:
        children.kill(running)
    producer.hurry()
    expected = producer.outcome()

    # What an operator does: run it again. Here in this process, whose warm JVM knows this Bronze only from its
    # checkpoints and files (that a killed run's locks let the next one in: tests/unit/pipeline/test_locks.py).
    with recovered("a. `pipeline run` (streaming Bronze) SIGKILLed mid-micro-batch: run it again"):
        run.run_once(spark, fast)

    exactly_once_and_equal_to_the_oracle(spark, fast, expected, producer.event_log, tmp_path / "uninterrupted",
                                         "mixed, Bronze killed mid-batch")


KAFKA_DOWN_SECONDS = 5


def test_kafka_killed_and_restarted_under_a_running_pipeline_loses_and_doubles_nothing(fast, spark, recovered,
                                                                                       tmp_path):
    lakehouse.empty(fast, spark)
    log, producer = tmp_path / "run.log", Producer(fast, tmp_path / "events.jsonl")
    running = children.start(fast, log, "run")
    try:
        first_micro_batch(fast, producer, running, log)
        [kafka] = [service for service in supervisor.status(fast) if service.name == "kafka"]
        os.kill(kafka.pid, signal.SIGKILL)
        try:
            time.sleep(KAFKA_DOWN_SECONDS)
            assert producer.is_alive(), (f"the producer ended before the broker was back ({producer.error!r}): "
                                         "raise ORDERS or lower RATE")
        finally:
            # The operator's one action: start the broker again. Whatever happened: the tests after this one need it.
            supervisor.up(fast)
        producer.hurry()
        expected = producer.outcome()

        def caught_up() -> bool:
            try:
                return reconcile.reconcile(fast, expected, [producer.event_log]).matches
            except Exception:  # a table not registered yet, say
                return False

        # Nobody touches the pipeline: its streams and cycles carry on by themselves.
        with recovered("b. Kafka SIGKILLed under `pipeline run`: start the broker again (`stack up`), nothing "
                       "else; until Gold equals the oracle"):
            wait_until("Gold equal to the oracle", caught_up, running, log)
    finally:
        children.kill(running)
    exactly_once_and_equal_to_the_oracle(spark, fast, expected, producer.event_log, tmp_path / "uninterrupted",
                                         "mixed, Kafka killed and restarted")


# -- Gold: the model is a view over versions of it (dbt/macros/copy_on_write.sql). A run writes a new version
# (CREATE TABLE AS) and then points the view at it, so a kill anywhere leaves the view on a whole version. ----

FACT = "fct_sales_minute"
VERSION = re.compile(rf"{FACT}__v\d+")
READ_SECONDS = 0.02


@pytest.fixture(scope="module")
def gold(settings, spark, tmp_path_factory) -> tuple[Expected, Path]:
    """A lakehouse with Gold built from the mixed scenario; what the oracle says it must hold, and the event log."""
    lakehouse.empty(settings, spark)
    event_log = tmp_path_factory.mktemp("gold") / "mixed.jsonl"
    expected, _ = run_produce(settings, scenario="mixed", orders=ORDERS, record=event_log)
    run.run_once(spark, settings)
    return expected, event_log


def gold_tables(settings: Settings) -> set[str]:
    return {name for (name,) in catalog.query(settings, f"SHOW TABLES FROM {catalog.CATALOG}.{GOLD_SCHEMA}")}


def shown_version(settings: Settings) -> str:
    [(definition,)] = catalog.query(settings, f"SELECT view_definition FROM {catalog.CATALOG}.information_schema.views "
                                              "WHERE table_schema = ? AND table_name = ?", (GOLD_SCHEMA, FACT))
    return VERSION.search(definition)[0]


def a_version_beyond(settings: Settings, known: set[str]) -> Callable[[], bool]:
    """True once a version not in `known` has committed: its folder in Trino's file metastore appears then."""
    folder = settings.lake_path / METASTORE_DIR / GOLD_SCHEMA
    return lambda: any(VERSION.fullmatch(path.name) and path.name not in known for path in folder.iterdir())


def gold_equals_the_oracle(settings: Settings, played: tuple[Expected, Path]) -> None:
    expected, event_log = played
    result = reconcile.reconcile(settings, expected, [event_log])
    assert result.matches, result.summary("Gold after a fault")


def gold_is_whole(settings: Settings, played: tuple[Expected, Path]) -> None:
    """After a run: Gold equals the oracle, and besides the version its view shows there is at most the one that
    version replaced (kept for queries that began on it)."""
    shown = shown_version(settings)
    others = {name for name in gold_tables(settings) if name.startswith(f"{FACT}__")} - {shown}
    assert len(others) <= 1 and all(VERSION.fullmatch(name) and name < shown for name in others), (shown, others)
    gold_equals_the_oracle(settings, played)


@contextmanager
def reading(settings: Settings) -> Iterator[list[str]]:
    """Gold read through Trino over and over while the block runs: yields the failures, filled in at its end."""
    failures, reads, stop = [], [], threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                reads.append(catalog.query(settings, f"SELECT count(*) FROM {catalog.CATALOG}.{GOLD_SCHEMA}.{FACT}"))
            except Exception as error:
                failures.append(str(error).splitlines()[0])
            stop.wait(READ_SECONDS)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield failures
    finally:
        stop.set()
        reader.join()
    assert reads, "Gold was never read"


def test_dbt_killed_as_it_writes_gold_leaves_it_whole_and_the_next_run_drops_what_it_left(settings, gold, recovered,
                                                                                          tmp_path):
    log, shown = tmp_path / "gold.log", shown_version(settings)
    with reading(settings) as failures:
        building = children.start(settings, log, "gold")
        try:
            wait_until("a new Gold version", a_version_beyond(settings, gold_tables(settings)), building, log,
                       poll=0.005)
        finally:
            children.kill(building)
        assert shown_version(settings) == shown, "the kill came after the swap: nothing was left"
        [left] = {name for name in gold_tables(settings) if VERSION.fullmatch(name) and name > shown}
        gold_equals_the_oracle(settings, gold)  # no run since the kill: the view shows the version before

        with recovered("d. dbt SIGKILLed as Gold is written (Gold stays whole and readable): the next Gold run"):
            children.run(settings, log, "gold")  # its swap is read through too
    assert failures == [], f"reading Gold failed {len(failures)} times, first: {failures[0]}"
    assert f'{left}", left by a run that did not finish' in log.read_text(), log.read_text()[-4000:]
    assert left not in gold_tables(settings) and shown_version(settings) != shown
    gold_is_whole(settings, gold)


def test_trino_killed_as_gold_is_written_then_restarted_shows_it_whole_and_a_run_goes_on(settings, gold, recovered,
                                                                                         tmp_path):
    log = tmp_path / "gold.log"
    building = children.start(settings, log, "gold")
    [trino] = [service for service in supervisor.status(settings) if service.name == "trino"]
    try:
        wait_until("a new Gold version", a_version_beyond(settings, gold_tables(settings)), building, log,
                   poll=0.005)
        os.kill(trino.pid, signal.SIGKILL)
        assert building.wait(children.RUN_TIMEOUT_SECONDS) != 0, "dbt finished with Trino killed under it"
    finally:
        children.kill(building)
        with recovered("c. Trino SIGKILLed as Gold is written: start Trino again (`stack up`); Gold is whole "
                       "and readable from then on"):
            supervisor.up(settings)
    gold_equals_the_oracle(settings, gold)  # before any run

    with recovered("c. Trino SIGKILLed as Gold is written, then restarted: the next Gold run"):
        children.run(settings, log, "gold")
    gold_is_whole(settings, gold)


def test_a_version_the_view_does_not_show_is_dropped_not_read(settings, gold, tmp_path):
    # What a run killed before its swap leaves, here wrong (no rows) and newer than the version shown: reading
    # it, as the newest, instead of the view's would show.
    unshown = f"{FACT}__v99999999999999999999"
    catalog.query(settings, f"CREATE TABLE {catalog.CATALOG}.{GOLD_SCHEMA}.{unshown} AS "
                            f"SELECT * FROM {catalog.CATALOG}.{GOLD_SCHEMA}.{FACT} WITH NO DATA")
    log = tmp_path / "gold.log"

    children.run(settings, log, "gold")

    assert f'{unshown}", left by a run that did not finish' in log.read_text(), log.read_text()[-4000:]
    assert unshown not in gold_tables(settings), gold_tables(settings)
    gold_is_whole(settings, gold)


def test_gold_left_as_a_table_by_an_earlier_release_becomes_the_view_over_versions(settings, gold, tmp_path):
    # Earlier releases swapped a table in by two renames; a run killed between them left `__dbt_new` and
    # `__dbt_old`, here wrong (no rows), so reading them instead of dropping them would show.
    fact, shown = f"{catalog.CATALOG}.{GOLD_SCHEMA}.{FACT}", shown_version(settings)
    catalog.query(settings, f"DROP VIEW {fact}")
    catalog.query(settings, f"CREATE TABLE {fact} AS SELECT * FROM {catalog.CATALOG}.{GOLD_SCHEMA}.{shown}")
    for leftover in ("__dbt_new", "__dbt_old"):
        catalog.query(settings, f"CREATE TABLE {fact}{leftover} AS SELECT * FROM {fact} WITH NO DATA")
    log = tmp_path / "gold.log"

    children.run(settings, log, "gold")

    assert "with a view over its versions" in log.read_text(), log.read_text()[-4000:]
    gold_is_whole(settings, gold)


# -- Storage: the lakehouse's disk fills up (root ignores file modes, so a full disk is how a write is
# refused here) ----------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 32 MiB tmpfs of its own for the lakehouse."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount)], capture_output=True,
                             text=True)
    assert mounted.returncode == 0, f"cannot mount a tmpfs for the full-disk test (it needs root): {mounted.stderr}"
    yield mount
    subprocess.run(["umount", "--lazy", str(mount)], check=True)


def fill(folder: Path) -> Path:
    """A file that takes every byte left on folder's device."""
    filler = folder / "filler"
    subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=1M"], capture_output=True)
    return filler


def test_silver_on_a_full_disk_fails_plainly_commits_nothing_and_completes_once_space_is_freed(
        settings, spark, small_disk, recovered, tmp_path):
    topics = (settings.topic_order_events, settings.topic_payment_events)
    bronze = bronze_frames(spark, Kafka().deliver(load("mixed").messages(*topics, orders=ORDERS)), *topics)
    full = Settings.from_env({**settings.env, "LAKEHOUSE_HOME": str(tmp_path / "home"),
                              "LAKEHOUSE_URI": small_disk.as_uri()})
    reference = Settings.from_env({**settings.env, "LAKEHOUSE_HOME": str(tmp_path / "reference"),
                                   "LAKEHOUSE_URI": (tmp_path / "reference" / "lake").as_uri()})
    for lake in (full, reference):
        append(bronze, lake)
    silver.run(spark, reference)
    filler = fill(small_disk)
    log = tmp_path / "silver.log"

    refused = children.start(full, log, "silver")
    assert refused.wait(children.RUN_TIMEOUT_SECONDS) == 1, log.read_text()[-4000:]
    assert re.search(rf"error: cannot write {ORDERS_CLEAN.qualified} at {re.escape(ORDERS_CLEAN.uri(full))}: "
                     r"No space left on device\. Nothing of it was committed", log.read_text()), log.read_text()[-4000:]
    assert not [table.qualified for table in SILVER_TABLES if commits(full, table)], "a Silver commit landed"

    filler.unlink()
    with recovered("f. Silver on a full disk (it stops, naming the path; nothing committed): free space, run again"):
        silver.run(spark, full)  # the next run: in this process, whose warm JVM knows that lake only from its files
    for table in SILVER_TABLES:
        assertDataFrameEqual(spark.read.format("delta").load(table.uri(full)),
                             spark.read.format("delta").load(table.uri(reference)), checkRowOrder=False)
