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

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from pipeline.settings import Settings
from pipeline.silver import bookmark
from pipeline.silver.bookmark import Position
from pipeline.silver.events import EARLIER_DELIVERY
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
    Table,
)

USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"
# Delta drops a commit that adds no rows; Silver's must land anyway, to move the bookmark past
# a slice that holds only redeliveries or no bad messages.
SKIP_EMPTY_COMMITS = "spark.databricks.delta.skipRecordingEmptyCommits"
UTC_ISO_MICROS = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'"


class BronzeMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class BronzeSnapshot:
    """Bronze as of one version per table, and the position that version reaches."""

    frames: dict[Table, DataFrame]
    end: Position

    def since(self, table: Table, start: Position | None) -> DataFrame:
        frame = self.frames[table]
        return frame if start is None else frame.where(start.after(table.name))


def pin_bronze(spark: SparkSession, settings: Settings) -> BronzeSnapshot:
    frames, offsets, watermarks = {}, {}, []
    for table in BRONZE_TABLES:
        uri = table.uri(settings)
        if not DeltaTable.isDeltaTable(spark, uri):
            raise BronzeMissing(f"no Bronze table at {uri}: ingest first with `python -m pipeline run --once`")
        version = _latest_commit(spark, uri)["version"]
        frames[table] = spark.read.format("delta").option("versionAsOf", version).load(uri)
        ends = frames[table].groupBy("partition").agg(
            F.max("offset").alias("offset"), F.date_format(F.max("ingest_ts"), UTC_ISO_MICROS).alias("ingested"),
        ).collect()
        offsets[table.name] = {row["partition"]: row["offset"] for row in ends}
        watermarks += [row["ingested"] for row in ends]
    # Fixed-width UTC ISO strings sort as the instants do.
    return BronzeSnapshot(frames, Position(offsets, max(watermarks, default=None)))


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

    def new(self, bronze_table: Table) -> DataFrame:
        """The Bronze rows this step has not read yet (all of Bronze when rebuilding)."""
        return self.bronze.since(bronze_table, self.start)

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
        writer = rows.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
        if self.table.partition_by:
            writer = writer.partitionBy(*self.table.partition_by)
        writer.save(self.table.uri(self.settings))

    @contextmanager
    def _committing(self) -> Iterator[None]:
        # Delta writes the session's userMetadata into the very commit that holds the data.
        self.spark.conf.set(USER_METADATA, self.bronze.end.to_metadata())
        self.spark.conf.set(SKIP_EMPTY_COMMITS, "false")
        try:
            yield
        finally:
            self.spark.conf.unset(USER_METADATA)
            self.spark.conf.unset(SKIP_EMPTY_COMMITS)


def _orders_clean(step: Step) -> None:
    step.write(clean_orders(step.new(ORDERS_RAW)), key="event_id", update_when=EARLIER_DELIVERY)


def _payments_clean(step: Step) -> None:
    step.write(clean_payments(step.new(PAYMENTS_RAW)), key="event_id", update_when=EARLIER_DELIVERY)


def _quarantine(step: Step) -> None:
    step.write(quarantine(step.new(ORDERS_RAW), step.new(PAYMENTS_RAW)), key=None)


def _order_payments_enriched(step: Step) -> None:
    orders, payments = step.read(ORDERS_CLEAN), step.read(PAYMENTS_CLEAN)
    if step.incremental:
        # Only the orders with new events are recomputed, from all of their events. A clean row that
        # sits beyond this table's bookmark was inserted, or moved to an earlier delivery, since.
        changed = changed_orders(orders.where(step.start.after(ORDERS_RAW.name)),
                                 payments.where(step.start.after(PAYMENTS_RAW.name)))
        orders = orders.join(changed, "order_id", "left_semi")
        payments = payments.join(changed, "order_id", "left_semi")
    step.write(enrich(orders, payments, updated_ts=step.bronze.end.watermark), key="order_id")


STEPS: tuple[tuple[Table, Callable[[Step], None]], ...] = (
    (ORDERS_CLEAN, _orders_clean),
    (PAYMENTS_CLEAN, _payments_clean),
    (QUARANTINE, _quarantine),
    (ORDER_PAYMENTS_ENRICHED, _order_payments_enriched),
)


def run(spark: SparkSession, settings: Settings, full_refresh: bool = False) -> dict[str, str]:
    """Bring Silver up to the current Bronze; returns what each table's step did."""
    bronze = pin_bronze(spark, settings)
    outcome = {}
    for table, apply in STEPS:
        start = None if full_refresh else bookmark.read(spark, table.uri(settings))
        if start is not None and start.offsets == bronze.end.offsets:
            outcome[table.qualified] = "up to date"
            continue
        apply(Step(spark, settings, table, bronze, start))
        outcome[table.qualified] = _commit_summary(spark, settings, table, rebuilt=start is None)
    return outcome


def _commit_summary(spark: SparkSession, settings: Settings, table: Table, rebuilt: bool) -> str:
    """What the table's latest commit did, from its Delta metrics (no data scan)."""
    commit = _latest_commit(spark, table.uri(settings))
    metrics = commit["operationMetrics"]
    if commit["operation"] == "MERGE":
        return f"+{int(metrics['numTargetRowsInserted']):,} rows, {int(metrics['numTargetRowsUpdated']):,} updated"
    rows = int(metrics["numOutputRows"])
    return f"rebuilt, {rows:,} rows" if rebuilt else f"+{rows:,} rows"


def _latest_commit(spark: SparkSession, uri: str) -> Row:
    """The newest entry of the Delta table's history: version, operation, metrics, userMetadata."""
    return DeltaTable.forPath(spark, uri).history(1).collect()[0]
