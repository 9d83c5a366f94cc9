"""Silver job: the Bronze rows that arrived since the last run -> the four Silver tables.

A run pins one Bronze snapshot and brings each Silver table from its own bookmark up to it
(see bookmark.py), in order: orders_clean, payments_clean, quarantine, then
order_payments_enriched, which reads the clean tables just written. Each step is one Delta
commit carrying its new bookmark, so:

- a table already at the snapshot is skipped: a run with nothing new commits nothing;
- a run killed at any point is finished by the next one, each table from where it stopped;
- a table without a bookmark (new, or `--full-refresh`) is rebuilt from all of Bronze.

The tables' logic is in the pure transforms this module calls; reads, writes and Delta
commits live only here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipeline.bronze.job import has_change_data_feed
from pipeline.schemas import BRONZE, ORDER, PAYMENT
from pipeline import deltalog, objectstore, storage
from pipeline.objectstore import Files
from pipeline.settings import Settings
from pipeline.spark import INTERPRETED, session_conf
from pipeline.silver import bookmark
from pipeline.silver.bookmark import Position
from pipeline.silver.events import EARLIER_DELIVERY, validate
from pipeline.silver.order_payments_enriched import changed_orders, enrich
from pipeline.silver.orders_clean import clean_orders
from pipeline.silver.payments_clean import clean_payments
from pipeline.silver.quarantine import quarantine
from pipeline.tables import (
    BRONZE_TABLES,
    ORDER_PAYMENTS_ENRICHED,
    ORDERS_CLEAN,
    ORDERS_RAW,
    PAYMENTS_CLEAN,
    PAYMENTS_RAW,
    QUARANTINE,
    SILVER_TABLES,
    Table,
)

USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"
# Delta drops a commit that adds no rows; Silver's must land anyway, to move the bookmark past
# a slice that holds only redeliveries or no bad messages.
SKIP_EMPTY_COMMITS = "spark.databricks.delta.skipRecordingEmptyCommits"
UTC_ISO_MICROS = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'"
# An incremental step's settings; a rebuild keeps the session's. On a slice of a few thousand rows,
# adaptive query execution is all overhead: it re-plans after each shuffle stage and runs each stage as a job
# of its own (order_payments_enriched has ~8 shuffles, and its MERGE materialized them as ~25 jobs). Two shuffle
# partitions, for the shuffles and for Delta's state reconstruction of the tables a step reads, whatever
# SPARK_SHUFFLE_PARTITIONS says (2 by default; a rebuild uses it): at 4, twice the tasks and the files a MERGE
# writes. Under the freshness benchmark's load (200 events/s for 3 minutes, same machine and hour), with 2 for
# the whole run Silver's cycles took 25-33 s against 35-47 s at 4, freshness p95 69 s against 90-94 s (at 1:
# 67 s, within the noise; 2 keep both cores busy on a quiet machine); with 2 for incremental steps only and 4
# for the rest, cycles 27-36 s, p95 77 s.
INCREMENTAL_PARTITIONS = 2
# Nor does an incremental step generate Java (INTERPRETED, spark.py): each MERGE's plans carry that run's
# literals (the files it touches, the watermark), so Spark compiled new classes every cycle, which the JIT
# compiled again. On 10k rows of Bronze (0.8 MiB of Silver) that cost more than it saved: Silver 20-25 s a
# cycle without it, 30-39 s with it, on 150 new messages; under `pipeline run` at 200 events/s, Silver's cycles
# took 12-22 s interpreted against 19-29 s. On 1M rows (68 MiB of Silver) it first seemed to pay, 14-19 s
# against 19-23 s, and so ran only below 16 MiB of Silver; since Bronze's micro-batches stopped compiling
# classes too, two `--only incremental` runs gave Silver 7.5 and 6.2 s interpreted against 8.5 s with generated
# code, on 1,000 new events. A rebuild keeps generated code: few, large stages earn it.
INCREMENTAL_CONF = {"spark.sql.adaptive.enabled": "false",
                    "spark.sql.shuffle.partitions": str(INCREMENTAL_PARTITIONS),
                    "spark.databricks.delta.snapshotPartitions": str(INCREMENTAL_PARTITIONS),
                    **INTERPRETED}


def silver_size_bytes(settings: Settings, files: Files) -> int | None:
    """The Silver tables' size, from their Delta checksums; None when one of them has none (or is missing)."""
    sizes = [deltalog.size_bytes(table.uri(settings), files) for table in SILVER_TABLES]
    return None if None in sizes else sum(sizes)


class BronzeMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class TableOutcome:
    """What a run did to one Silver table: how many rows its commit inserted or updated, and in words."""

    rows: int
    text: str

    def __str__(self) -> str:
        return self.text


UP_TO_DATE = TableOutcome(0, "up to date")


def gold_input_changed(outcome: dict[str, TableOutcome]) -> bool:
    """Whether a run's outcome changed what Gold reads: order_payments_enriched took rows."""
    return outcome[ORDER_PAYMENTS_ENRICHED.qualified].rows > 0


@dataclass(frozen=True)
class Slice:
    """The Bronze rows beyond one start position, validated once (see events.validate) and kept in
    memory for every step that reads them, and the position they reach."""

    validated: dict[Table, DataFrame]
    end: Position

    def valid(self, table: Table) -> DataFrame:
        return self.validated[table].where(F.col("reason").isNull())


@dataclass
class BronzeSnapshot:
    """Bronze pinned at one Delta version per table, and the slices of it the steps read.

    Steps that start from the same position (the usual case: all four) share one slice, so each
    message is parsed and checked once per run.
    """

    spark: SparkSession
    settings: Settings
    versions: dict[Table, int]
    # Tables made with a change data feed (all of today's): a slice of them reads only the files committed
    # after the start's version.
    feeds: frozenset[Table]
    files: Files  # the lakehouse's files, for reading Delta logs
    _slices: dict[str, Slice] = field(default_factory=dict)

    @property
    def reached(self) -> dict[str, int]:
        """The versions a bookmark records (only for the tables made with a change data feed)."""
        return {table.name: version for table, version in self.versions.items() if table in self.feeds}

    def is_reached_by(self, start: Position | None) -> bool:
        return reaches(start, self.reached)

    def slice(self, start: Position | None) -> Slice:
        key = "rebuild" if start is None else start.to_metadata()
        if key not in self._slices:
            validated = {table: validate(self._rows(table, start), kind).persist()
                         for table, kind in ((ORDERS_RAW, ORDER), (PAYMENTS_RAW, PAYMENT))}
            self._slices[key] = Slice(validated, self._end(start, validated))
        return self._slices[key]

    def release(self) -> None:
        for piece in self._slices.values():
            for frame in piece.validated.values():
                frame.unpersist()
        self._slices.clear()

    def _rows(self, table: Table, start: Position | None) -> DataFrame:
        uri, version = table.uri(self.settings), self.versions[table]
        read_up_to = None if start is None else start.versions.get(table.name)
        if read_up_to is not None and table in self.feeds:
            # Only the files the commits after the bookmark added (none when it is at the pinned version):
            # Bronze is append-only, so they hold exactly the new rows. Read as Parquet, byte for byte: the
            # change data feed's reader turns bytes that are not UTF-8 into U+FFFD, and `invalid_utf8` must see them.
            files = deltalog.added_data_files(uri, read_up_to + 1, version, self.files)
            if files is not None:
                return self.spark.read.schema(BRONZE).parquet(*files) if files else self.spark.createDataFrame([], BRONZE)
        snapshot = self.spark.read.format("delta").option("versionAsOf", version).load(uri)
        # A bookmark without versions (written before they were kept), or one older than the Delta log
        # kept: filter all of Bronze by offset, once.
        return snapshot if start is None else snapshot.where(start.after(table.name))

    def _end(self, start: Position | None, validated: dict[Table, DataFrame]) -> Position:
        """`start` moved past the slice's rows; the first action on the cached slice, so it fills the cache."""
        offsets = {table: dict(parts) for table, parts in (start.offsets if start else {}).items()}
        watermarks = [start.watermark] if start is not None and start.watermark else []
        for table, frame in validated.items():
            ends = frame.groupBy("partition").agg(
                F.max("offset").alias("offset"), F.date_format(F.max("ingest_ts"), UTC_ISO_MICROS).alias("ingested"),
            ).collect()
            seen = offsets.setdefault(table.name, {})
            for row in ends:
                seen[row["partition"]] = max(seen.get(row["partition"], -1), row["offset"])
            watermarks += [row["ingested"] for row in ends]
        # Fixed-width UTC ISO strings sort as the instants do.
        return Position({t: p for t, p in offsets.items() if p}, max(watermarks, default=None), self.reached)


def bronze_versions(settings: Settings, files: Files) -> dict[Table, int]:
    """Each Bronze table's latest Delta version, from its log; BronzeMissing when one is not there yet."""
    versions = {}
    for table in BRONZE_TABLES:
        uri = table.uri(settings)
        version = deltalog.latest_version(uri, files)
        if version is None:
            raise BronzeMissing(f"no Bronze table at {uri}: ingest first with `python -m pipeline run --once`")
        versions[table] = version
    return versions


def pin_bronze(spark: SparkSession, settings: Settings, files: Files) -> BronzeSnapshot:
    versions = bronze_versions(settings, files)
    feeds = frozenset(table for table in versions if has_change_data_feed(spark, table.uri(settings), files))
    return BronzeSnapshot(spark, settings, versions, feeds, files)


def reaches(start: Position | None, versions: dict[str, int]) -> bool:
    """Whether a bookmark is at `versions` (Bronze table name -> Delta version) of every Bronze table."""
    return start is not None and len(versions) == len(BRONZE_TABLES) and start.versions == versions


def up_to_date(settings: Settings, files: Files) -> bool:
    """Whether every Silver table's bookmark is at Bronze's latest versions, read from the Delta logs alone:
    then a run has nothing to do, and need not start Spark. False whenever that cannot be told this way (a
    table without a bookmark, one that records no versions, Bronze moved on, by new data or by maintenance);
    the run itself then decides. BronzeMissing when there is no Bronze yet."""
    latest = {table.name: version for table, version in bronze_versions(settings, files).items()}
    return all(reaches(bookmark.read(table.uri(settings), files), latest) for table in SILVER_TABLES)


@dataclass(frozen=True)
class Step:
    """One Silver table brought from `start` (None: rebuild) to the snapshot's end, in one commit."""

    spark: SparkSession
    settings: Settings
    table: Table
    bronze: BronzeSnapshot
    start: Position | None

    @property
    def incremental(self) -> bool:
        return self.start is not None

    @property
    def slice(self) -> Slice:
        """The Bronze rows this step has not read yet (all of Bronze when rebuilding), validated."""
        return self.bronze.slice(self.start)

    def read(self, table: Table) -> DataFrame:
        return self.spark.read.format("delta").load(table.uri(self.settings))

    def write(self, rows: DataFrame, key: str | None, update_when: str | None = None) -> None:
        """Rebuild: replace the table. Otherwise merge on `key` (update a matched row when
        `update_when` holds, insert the others), or append when there is no key."""
        with self._committing():
            if not self.incremental:
                self._replace(rows)
            elif key is None:
                rows.write.format("delta").mode("append").save(self.table.uri(self.settings))
            else:
                merge = DeltaTable.forPath(self.spark, self.table.uri(self.settings)).alias("t").merge(
                    rows.alias("s"), f"t.{key} = s.{key}")
                merge.whenMatchedUpdateAll(condition=update_when).whenNotMatchedInsertAll().execute()

    def _replace(self, rows: DataFrame) -> None:
        if self.table.cluster_by:
            self._replace_clustered(rows)
            return
        writer = rows.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
        if self.table.partition_by:
            writer = writer.partitionBy(*self.table.partition_by)
        writer.save(self.table.uri(self.settings))

    def _replace_clustered(self, rows: DataFrame) -> None:
        # DataFrameWriter.clusterBy is ignored by a save to a path (Delta 4.4); CTAS honours CLUSTER BY.
        # Delta clusters the rows when the table is OPTIMIZEd (`pipeline maintain`), not on write.
        view = f"silver_rebuild_{self.table.name}"
        rows.createOrReplaceTempView(view)
        try:
            self.spark.sql(f"CREATE OR REPLACE TABLE delta.`{self.table.uri(self.settings)}` USING delta "
                           f"CLUSTER BY ({', '.join(self.table.cluster_by)}) AS SELECT * FROM {view}")
        finally:
            self.spark.catalog.dropTempView(view)

    def _committing(self) -> AbstractContextManager[None]:
        # Delta writes the session's userMetadata into the very commit that holds the data.
        return session_conf(self.spark, {USER_METADATA: self.slice.end.to_metadata(), SKIP_EMPTY_COMMITS: "false"})


def _orders_clean(step: Step) -> None:
    step.write(clean_orders(step.slice.validated[ORDERS_RAW]), key="event_id", update_when=EARLIER_DELIVERY)


def _payments_clean(step: Step) -> None:
    step.write(clean_payments(step.slice.validated[PAYMENTS_RAW]), key="event_id", update_when=EARLIER_DELIVERY)


def _quarantine(step: Step) -> None:
    step.write(quarantine(step.slice.validated[ORDERS_RAW], step.slice.validated[PAYMENTS_RAW]), key=None)


def _order_payments_enriched(step: Step) -> None:
    orders, payments = step.read(ORDERS_CLEAN), step.read(PAYMENTS_CLEAN)
    if step.incremental:
        # Only the orders with new events are recomputed, from all of their events: every clean row
        # inserted, or moved to an earlier delivery, since this table's bookmark came from its slice.
        changed = F.broadcast(changed_orders(step.slice.valid(ORDERS_RAW), step.slice.valid(PAYMENTS_RAW)))
        # Kept: enrich reads each table three times over, and the MERGE runs its plan twice.
        orders = orders.join(changed, "order_id", "left_semi").persist()
        payments = payments.join(changed, "order_id", "left_semi").persist()
    try:
        step.write(enrich(orders, payments, updated_ts=step.slice.end.watermark), key="order_id")
    finally:
        orders.unpersist()
        payments.unpersist()


STEPS: tuple[tuple[Table, Callable[[Step], None]], ...] = (
    (ORDERS_CLEAN, _orders_clean),
    (PAYMENTS_CLEAN, _payments_clean),
    (QUARANTINE, _quarantine),
    (ORDER_PAYMENTS_ENRICHED, _order_payments_enriched),
)


def run(spark: SparkSession, settings: Settings, full_refresh: bool = False,
        layouts: Mapping[Table, Table] | None = None) -> dict[str, TableOutcome]:
    """Bring Silver up to the current Bronze; returns what each table's step did.

    `layouts` rebuilds a table with another partitioning or clustering than tables.py gives it (same
    name and location): benchmarks/partitioning.py compares layouts with it. It matters only when the
    table is rebuilt; merges keep the layout the table has."""
    files = objectstore.files(settings)
    bronze = pin_bronze(spark, settings, files)
    outcome = {}
    try:
        for table, apply in STEPS:
            table = (layouts or {}).get(table, table)
            start = None if full_refresh else bookmark.read(table.uri(settings), files)
            if bronze.is_reached_by(start) or (start is not None and bronze.slice(start).end.offsets == start.offsets):
                outcome[table.qualified] = UP_TO_DATE
                continue
            started = time.monotonic()
            try:
                with session_conf(spark, INCREMENTAL_CONF if start is not None else {}):
                    apply(Step(spark, settings, table, bronze, start))
            except Exception as error:
                explained = storage.explain(error, table.qualified, table.uri(settings))
                if explained is None:
                    raise
                raise explained from error
            summary = _commit_summary(table.uri(settings), files, rebuilt=start is None)
            outcome[table.qualified] = TableOutcome(summary.rows, f"{summary} in {time.monotonic() - started:.1f}s")
    finally:
        bronze.release()
    return outcome


def _commit_summary(uri: str, files: Files, rebuilt: bool) -> TableOutcome:
    """What the table's latest commit did, from its Delta metrics (no data scan)."""
    commit = deltalog.latest_commit(uri, files)
    metrics = commit.metrics
    if commit.operation == "MERGE":
        inserted, updated = int(metrics["numTargetRowsInserted"]), int(metrics["numTargetRowsUpdated"])
        return TableOutcome(inserted + updated, f"+{inserted:,} rows, {updated:,} updated")
    rows = int(metrics["numOutputRows"])
    return TableOutcome(rows, f"rebuilt, {rows:,} rows" if rebuilt else f"+{rows:,} rows")
