"""`pipeline maintain` on a local Delta lake: fewer files, the same rows, time travel within the retention, and a
dry run that changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.testing import assertDataFrameEqual

from pipeline import maintain
from pipeline.maintain import Target
from pipeline.settings import Settings
from pipeline.silver import job as silver
from pipeline.tables import BRONZE_TABLES, SILVER_TABLES
from simulator.scenario import load
from tests.bronze import Kafka, append, bronze_frames
from tests.messages import ORDERS, PAYMENTS

pytestmark = pytest.mark.usefixtures("interpreted")

MICRO_BATCHES = 4


def lake_settings(folder: Path) -> Settings:
    return Settings.from_env({"LAKEHOUSE_HOME": str(folder), "LAKEHOUSE_URI": (folder / "lake").as_uri()})


def version(spark: SparkSession, uri: str) -> int:
    return DeltaTable.forPath(spark, uri).history(1).first()["version"]


def at(spark: SparkSession, uri: str, version_as_of: int | None = None) -> DataFrame:
    reader = spark.read.format("delta")
    return (reader if version_as_of is None else reader.option("versionAsOf", version_as_of)).load(uri)


def files_under(folder: Path) -> dict[str, int]:
    """Every file in the table's folder, its log included, with its size."""
    return {str(path.relative_to(folder)): path.stat().st_size for path in folder.rglob("*") if path.is_file()}


@pytest.fixture(scope="module")
def maintained(spark, tmp_path_factory):
    """Bronze and Silver after MICRO_BATCHES small appends, each followed by a Silver run (the mixed scenario:
    redeliveries, late events, malformed messages), then maintained once with the default retention. Returns the
    settings, each table's latest version before maintenance, and what maintenance printed."""
    settings = lake_settings(tmp_path_factory.mktemp("maintained"))
    deliveries = Kafka().deliver(load("mixed").messages(ORDERS, PAYMENTS, orders=24))
    size = -(-len(deliveries) // MICRO_BATCHES)
    for start in range(0, len(deliveries), size):
        append(bronze_frames(spark, deliveries[start:start + size]), settings)
        silver.run(spark, settings)
    tables = (*BRONZE_TABLES, *SILVER_TABLES)
    versions = {table: version(spark, table.uri(settings)) for table in tables}
    printed: list[str] = []
    chosen = [(layer, (lambda group=group: [Target(t.qualified, t.uri(settings)) for t in group]))
              for layer, group in (("bronze", BRONZE_TABLES), ("silver", SILVER_TABLES))]
    outcomes = maintain.run(spark, settings, maintain.SAFE_RETAIN_HOURS, chosen=chosen, log=printed.append)
    return settings, versions, {o.table.name: o for o in outcomes}, printed


def test_maintain_cuts_the_file_count_and_leaves_every_table_as_it_was(spark, maintained):
    settings, versions, outcomes, printed = maintained
    assert set(outcomes) == {table.qualified for table in versions}
    for table, before in versions.items():
        outcome = outcomes[table.qualified]
        assert outcome.after.files == outcome.before.files - outcome.compacted + outcome.written, outcome
        assert outcome.after == maintain.footprint(spark, table.uri(settings))
        assertDataFrameEqual(at(spark, table.uri(settings)), at(spark, table.uri(settings), before),
                             checkRowOrder=False)
    # Bronze is unpartitioned: all of its small files become one.
    for table in BRONZE_TABLES:
        bronze = outcomes[table.qualified]
        assert (bronze.compacted, bronze.written, bronze.after.files) == (bronze.before.files, 1, 1), bronze
    assert any(outcomes[table.qualified].compacted for table in SILVER_TABLES), outcomes
    assert sum(o.after.files for o in outcomes.values()) < sum(o.before.files for o in outcomes.values())
    bronze = outcomes[BRONZE_TABLES[0].qualified]
    assert f"  {bronze.table.name}: {bronze.before} -> 1 file, " in printed[0], printed


def test_silver_finds_its_bookmarks_under_the_maintenance_commits_and_reads_nothing_twice(spark, maintained):
    settings, _, _, _ = maintained
    assert {table: str(what) for table, what in silver.run(spark, settings).items()} == \
        {table.qualified: "up to date" for table in SILVER_TABLES}


def test_vacuum_keeps_time_travel_within_the_retention(spark, maintained):
    settings, versions, outcomes, _ = maintained
    for table, before in versions.items():
        uri = table.uri(settings)
        assert outcomes[table.qualified].vacuumed == ()
        # The version before compaction reads from its own files, which compaction replaced and VACUUM kept.
        old_files = set(at(spark, uri, before).inputFiles())
        if outcomes[table.qualified].compacted:
            assert old_files - set(at(spark, uri).inputFiles()), table.qualified
        assert all(Path(name.removeprefix("file:")).exists() for name in old_files), table.qualified
        assertDataFrameEqual(at(spark, uri, before), at(spark, uri), checkRowOrder=False)
        assert outcomes[table.qualified].checkpoint == version(spark, uri)


@pytest.fixture
def small_files(spark, tmp_path) -> tuple[Settings, Target]:
    """One table of five one-row appends, compacted once: its first five files are no longer in it."""
    settings = lake_settings(tmp_path)
    target = Target("test.small", settings.table_uri("test", "small"))
    for number in range(5):
        rows = [(number, f"row {number}")] + ([(None, None)] if number == 4 else [])
        spark.createDataFrame(rows, "id int, name string").coalesce(1) \
            .write.format("delta").mode("append").save(target.uri)
    DeltaTable.forPath(spark, target.uri).optimize().executeCompaction()
    return settings, target


def test_a_forced_short_retention_deletes_what_older_versions_needed_and_only_that(spark, small_files):
    settings, target = small_files
    rows = at(spark, target.uri).collect()
    [outcome] = maintain.run(spark, settings, 0, chosen=[("bronze", lambda: [target])], log=lambda line: None)

    assert len(outcome.vacuumed) == 5 and all(path.endswith(".parquet") for path in outcome.vacuumed), outcome
    assertDataFrameEqual(at(spark, target.uri), rows, checkRowOrder=False)
    with pytest.raises(Exception, match="(?i)not found|not exist|FileNotFound"):
        at(spark, target.uri, 1).collect()


def test_a_dry_run_lists_what_it_would_delete_and_changes_nothing(spark, small_files):
    settings, target = small_files
    folder = Path(target.uri.removeprefix("file://"))
    before = files_under(folder)
    printed: list[str] = []

    [outcome] = maintain.run(spark, settings, 0, dry_run=True, chosen=[("bronze", lambda: [target])],
                             log=printed.append)

    assert files_under(folder) == before
    assert not (settings.home / "locks").exists(), "a dry run took a lock"
    would_delete = sorted(line.removeprefix("      would delete ") for line in printed[1:])
    assert would_delete == sorted(outcome.vacuumed) and len(would_delete) == 5, printed
    assert set(would_delete) < set(before)
    assert printed[0] == (f"  test.small: {outcome.before}; OPTIMIZE would rewrite 0 files; VACUUM would delete 5 "
                          f"files; a checkpoint would be written at version {version(spark, target.uri)}"), printed


def test_silver_reads_bronze_whole_after_a_forced_vacuum_took_the_files_it_had_not_read(spark, tmp_path):
    settings = lake_settings(tmp_path)
    deliveries = Kafka().deliver(load("mixed").messages(ORDERS, PAYMENTS, orders=12))
    half = len(deliveries) // 2  # in arrival order: within a Kafka partition, offsets only grow
    append(bronze_frames(spark, deliveries[:half]), settings)
    silver.run(spark, settings)
    append(bronze_frames(spark, deliveries[half:]), settings)
    bronze = [Target(t.qualified, t.uri(settings)) for t in BRONZE_TABLES]
    # Compaction, then VACUUM with no retention: the files of the second append, which Silver has not read, go.
    outcomes = maintain.run(spark, settings, 0, chosen=[("bronze", lambda: bronze)], log=lambda line: None)
    assert all(outcome.vacuumed for outcome in outcomes), outcomes

    silver.run(spark, settings)
    incremental = {table: _without_updated_ts(at(spark, table.uri(settings))).collect() for table in SILVER_TABLES}
    silver.run(spark, settings, full_refresh=True)
    for table, rows in incremental.items():
        assertDataFrameEqual(_without_updated_ts(at(spark, table.uri(settings))), rows, checkRowOrder=False)


def _without_updated_ts(rows: DataFrame) -> DataFrame:
    # updated_ts records the run that last saw an order: it differs between runs by design.
    return rows.drop("updated_ts")
