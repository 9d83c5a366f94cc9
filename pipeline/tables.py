"""The lakehouse's tables: their schema, name and where Spark writes them."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.settings import Settings


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    partition_by: tuple[str, ...] = ()
    # Delta liquid clustering; applied when Silver rebuilds the table (benchmarks/partitioning.py compares it).
    cluster_by: tuple[str, ...] = ()

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def uri(self, settings: Settings) -> str:
        return settings.table_uri(self.schema, self.name)


ORDERS_RAW = Table("bronze_raw", "orders_raw")
PAYMENTS_RAW = Table("bronze_raw", "payments_raw")
ORDERS_CLEAN = Table("silver", "orders_clean", partition_by=("event_date",))
PAYMENTS_CLEAN = Table("silver", "payments_clean", partition_by=("event_date",))
QUARANTINE = Table("silver", "quarantine")
ORDER_PAYMENTS_ENRICHED = Table("silver", "order_payments_enriched")

BRONZE_TABLES = (ORDERS_RAW, PAYMENTS_RAW)
SILVER_TABLES = (ORDERS_CLEAN, PAYMENTS_CLEAN, QUARANTINE, ORDER_PAYMENTS_ENRICHED)
# Schemas dbt writes into through Trino (Spark writes the others).
GOLD_SCHEMA = "gold"
