"""`pipeline maintain`: compaction (OPTIMIZE), VACUUM and a Delta log checkpoint of every table, layer by layer.

Bronze and Silver are the tables Spark writes (pipeline/tables.py). Gold's tables are written by Trino (dbt);
they are the tables Trino's metastore lists in `gold` (on the local file system, the versions of the fact its
view shows or has just replaced: dbt/macros/copy_on_write.sql), maintained from Spark at their location,
because Trino 476 writes no commit on the local file system but dbt's CREATE TABLE AS.

Each layer's tables are maintained under that layer's commit lock (locks.committing), which Silver's run and
Gold's dbt steps also hold while they commit: OPTIMIZE and a Silver MERGE never race (a MERGE that read files
OPTIMIZE removed would fail), and nothing is compacted that a dbt run is about to drop. Bronze's
streaming appends go on: compaction commits with dataChange=false and never conflicts with a blind append.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.classic.dataframe import DataFrame as ClassicDataFrame

from pipeline import catalog, locks
from pipeline.run import first_line
from pipeline.settings import Settings
from pipeline.spark import session_conf
from pipeline.tables import BRONZE_TABLES, GOLD_SCHEMA, SILVER_TABLES

# Delta refuses to VACUUM with less than the table's deleted-file retention, one week by default: a reader of an
# older version, or a write that has not committed yet, may still need the files it would delete.
SAFE_RETAIN_HOURS = 168
RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"
# VACUUM would add two commits (VACUUM START, VACUUM END) to every table on every run, busy or idle; Silver's
# bookmark is looked for only so many commits back (silver/bookmark.py), so maintenance adds none but OPTIMIZE's.
VACUUM_LOGGING = "spark.databricks.delta.vacuum.logging.enabled"
# VACUUM lists the table's folder in a Spark job of this many tasks, 10,000 by default: 70 s for a dozen files on
# two cores. The session's shuffle partitions are plenty.
LISTING_PARALLELISM = "spark.sql.sources.parallelPartitionDiscovery.parallelism"
# OPTIMIZE rewrites the files below this size, in bins of more than one per partition (Delta's default: 1 GiB).
MIN_FILE_SIZE = "spark.databricks.delta.optimize.minFileSize"


class GoldUnlisted(RuntimeError):
    """Gold's tables could not be listed through Trino; the message says what to do."""


@dataclass(frozen=True)
class Target:
    """A Delta table to maintain: its name for people, and where Spark reads it."""

    name: str
    uri: str


@dataclass(frozen=True)
class Footprint:
    """A table version's data files and their bytes."""

    files: int
    bytes: int

    def __str__(self) -> str:
        return f"{_files(self.files)}, {_size(self.bytes)}"


@dataclass(frozen=True)
class Outcome:
    """What maintenance did (or, on a dry run, would do) to one table."""

    table: Target
    before: Footprint
    after: Footprint  # the same as before on a dry run
    compacted: int  # data files OPTIMIZE rewrote (would rewrite)
    written: int  # the files it wrote instead
    vacuumed: tuple[str, ...]  # files VACUUM deleted (would delete), relative to the table
    checkpoint: int | None  # the version a checkpoint was (would be) written at; None: it had one
    seconds: float

    def line(self, dry_run: bool) -> str:
        if dry_run:
            checkpoint = ("a checkpoint would be written at version {}" if self.checkpoint is not None
                          else "it has a checkpoint at its latest version").format(self.checkpoint)
            return (f"  {self.table.name}: {self.before}; OPTIMIZE would rewrite {_files(self.compacted)}; VACUUM "
                    f"would delete {_files(len(self.vacuumed))}; {checkpoint}")
        checkpoint = (f"checkpoint at version {self.checkpoint}" if self.checkpoint is not None
                      else "checkpoint already at the latest version")
        return (f"  {self.table.name}: {self.before} -> {self.after} (OPTIMIZE rewrote {_files(self.compacted)} into "
                f"{self.written:,}; VACUUM deleted {_files(len(self.vacuumed))}; {checkpoint}) {self.seconds:.1f}s")


Layer = tuple[str, Callable[[], list[Target]]]


def layers(settings: Settings) -> list[Layer]:
    """Bronze, Silver and Gold, each with how to list its tables (Gold's through Trino, when its lock is held:
    dbt's swap replaces them)."""
    return [
        ("bronze", lambda: [Target(t.qualified, t.uri(settings)) for t in BRONZE_TABLES]),
        ("silver", lambda: [Target(t.qualified, t.uri(settings)) for t in SILVER_TABLES]),
        ("gold", lambda: gold_tables(settings)),
    ]


def gold_tables(settings: Settings) -> list[Target]:
    try:
        locations = catalog.table_locations(settings, GOLD_SCHEMA)
    except Exception as error:
        raise GoldUnlisted(
            f"cannot list Gold's tables through Trino ({first_line(error)}): start the stack with `python -m "
            "pipeline stack up` and run `python -m pipeline maintain` again") from error
    return [Target(f"{GOLD_SCHEMA}.{name}", uri) for name, uri in locations.items()]


def run(spark: SparkSession, settings: Settings, retain_hours: int, dry_run: bool = False,
        chosen: list[Layer] | None = None, log=print) -> list[Outcome]:
    """Maintain every table of `chosen` layers (default: all three), a layer at a time under its commit lock
    (none on a dry run, which changes nothing). A table not made yet is skipped."""
    outcomes = []
    for layer, listed in layers(settings) if chosen is None else chosen:
        with nullcontext() if dry_run else locks.committing(settings, layer, log):
            for target in listed():
                if not DeltaTable.isDeltaTable(spark, target.uri):
                    log(f"  {target.name}: no table yet")
                    continue
                outcomes.append(maintain_table(spark, target, retain_hours, dry_run))
                log(outcomes[-1].line(dry_run))
                if dry_run:
                    for path in outcomes[-1].vacuumed:
                        log(f"      would delete {path}")
    return outcomes


def maintain_table(spark: SparkSession, target: Target, retain_hours: int, dry_run: bool) -> Outcome:
    started = time.monotonic()
    before = footprint(spark, target.uri)
    if dry_run:
        compacted, written = compaction_candidates(spark, target.uri), 0
    else:
        metrics = DeltaTable.forPath(spark, target.uri).optimize().executeCompaction().first()["metrics"]
        compacted, written = metrics["numFilesRemoved"], metrics["numFilesAdded"]
    vacuumed = vacuum(spark, target.uri, retain_hours, dry_run)
    checkpointed = checkpoint(spark, target.uri, dry_run)
    after = before if dry_run else footprint(spark, target.uri)
    return Outcome(target, before, after, compacted, written, vacuumed, checkpointed, time.monotonic() - started)


def footprint(spark: SparkSession, uri: str) -> Footprint:
    detail = DeltaTable.forPath(spark, uri).detail().select("numFiles", "sizeInBytes").first()
    return Footprint(detail["numFiles"], detail["sizeInBytes"])


def compaction_candidates(spark: SparkSession, uri: str) -> int:
    """The data files OPTIMIZE would rewrite: those below its minimum size, in partitions holding more than one
    (it also rewrites a file much of which a deletion vector hides; those are not counted)."""
    files = ClassicDataFrame(_delta_log(spark, uri)[1].allFiles().toDF(), spark)
    minimum = int(spark.conf.get(MIN_FILE_SIZE, str(1024 ** 3)))
    bins = files.where(F.col("size") < minimum).groupBy(F.to_json("partitionValues")).count()
    return bins.where(F.col("count") > 1).agg(F.sum("count")).first()[0] or 0


def vacuum(spark: SparkSession, uri: str, retain_hours: int, dry_run: bool) -> tuple[str, ...]:
    """VACUUM: delete the files no version newer than `retain_hours` ago needs; returns them (on a dry run, the
    files it would delete). Below SAFE_RETAIN_HOURS only when the caller was forced to."""
    quoted = uri.replace("`", "``")
    conf = {VACUUM_LOGGING: "false", LISTING_PARALLELISM: spark.conf.get("spark.sql.shuffle.partitions")}
    if retain_hours < SAFE_RETAIN_HOURS:
        conf[RETENTION_CHECK] = "false"
    with session_conf(spark, conf):
        files = [row["path"] for row in spark.sql(f"VACUUM delta.`{quoted}` RETAIN {retain_hours} HOURS DRY RUN")
                 .collect()]
        if files and not dry_run:
            spark.sql(f"VACUUM delta.`{quoted}` RETAIN {retain_hours} HOURS").collect()
    prefix = uri.rstrip("/").split(":", 1)[-1].lstrip("/") + "/"
    return tuple(sorted(path.split(":", 1)[-1].lstrip("/").removeprefix(prefix) for path in files))


def checkpoint(spark: SparkSession, uri: str, dry_run: bool) -> int | None:
    """Write a Delta log checkpoint at the latest version, so that readers (Spark, Trino, `pipeline lag`) start
    from it instead of replaying the JSON commits since the last one; None when that version has one already."""
    delta_log, snapshot = _delta_log(spark, uri)
    version = snapshot.version()
    if delta_log.checkpointExistsAtVersion(version):
        return None
    if not dry_run:
        delta_log.checkpoint(snapshot, spark._jvm.scala.Option.empty())
    return version


def _delta_log(spark: SparkSession, uri: str):
    """The table's DeltaLog (JVM) and its latest snapshot: the Python API has no checkpoint and no file list."""
    delta_log = spark._jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, uri)
    empty = spark._jvm.scala.Option.empty()
    return delta_log, delta_log.update(False, empty, empty)


def total(outcomes: list[Outcome]) -> tuple[Footprint, Footprint]:
    """All tables' data files and bytes, before and after."""
    return (Footprint(sum(o.before.files for o in outcomes), sum(o.before.bytes for o in outcomes)),
            Footprint(sum(o.after.files for o in outcomes), sum(o.after.bytes for o in outcomes)))


def _files(count: int) -> str:
    return f"{count:,} file" if count == 1 else f"{count:,} files"


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    size = count / 1024
    for unit in ("KiB", "MiB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"

