"""Silver job: Bronze -> the four Silver tables, recomputed from all of Bronze each run.

A full recompute is idempotent by construction: a rerun, or a run after a crash, writes the
same tables. Each table is replaced in one Delta commit.
"""

from __future__ import annotations

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from pipeline.settings import Settings
from pipeline.silver.order_payments_enriched import enrich
from pipeline.silver.orders_clean import clean_orders
from pipeline.silver.payments_clean import clean_payments
from pipeline.silver.quarantine import quarantine
from pipeline.tables import (
    ORDER_PAYMENTS_ENRICHED,
    ORDERS_CLEAN,
    ORDERS_RAW,
    PAYMENTS_CLEAN,
    PAYMENTS_RAW,
    QUARANTINE,
    Table,
)


def _read(spark: SparkSession, settings: Settings, table: Table) -> DataFrame:
    return spark.read.format("delta").load(table.uri(settings))


def _replace(frame: DataFrame, settings: Settings, table: Table) -> None:
    writer = frame.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
    if table.partition_by:
        writer = writer.partitionBy(*table.partition_by)
    writer.save(table.uri(settings))


def run(spark: SparkSession, settings: Settings) -> dict[str, int]:
    """Rebuild Silver; returns the row count of each table written."""
    bronze_orders = _read(spark, settings, ORDERS_RAW)
    bronze_payments = _read(spark, settings, PAYMENTS_RAW)
    outputs = {
        ORDERS_CLEAN: clean_orders(bronze_orders),
        PAYMENTS_CLEAN: clean_payments(bronze_payments),
        QUARANTINE: quarantine(bronze_orders, bronze_payments),
    }
    for table, frame in outputs.items():
        _replace(frame, settings, table)
    # Enrichment reads the clean tables just written rather than recomputing them.
    enriched = enrich(_read(spark, settings, ORDERS_CLEAN), _read(spark, settings, PAYMENTS_CLEAN))
    _replace(enriched, settings, ORDER_PAYMENTS_ENRICHED)
    return {t.qualified: _rows_written(spark, settings, t) for t in (*outputs, ORDER_PAYMENTS_ENRICHED)}


def _rows_written(spark: SparkSession, settings: Settings, table: Table) -> int:
    """Rows of the table's latest version, from its Delta commit metrics (no data scan)."""
    last_commit = DeltaTable.forPath(spark, table.uri(settings)).history(1).collect()[0]
    return int(last_commit["operationMetrics"]["numOutputRows"])
