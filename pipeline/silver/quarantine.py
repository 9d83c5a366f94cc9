"""silver.quarantine — one row per Bronze message that breaks CONTRACT.md rule 6, with the reason."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipeline.schemas import ORDER, PAYMENT, QUARANTINE
from pipeline.silver.events import validated


def quarantine(bronze_orders: DataFrame, bronze_payments: DataFrame) -> DataFrame:
    """From Bronze rows, raw or validated (events.validate)."""
    rejected = [
        validated(bronze, kind).where(F.col("reason").isNotNull())
        .withColumn("event_kind", F.lit(kind.name)).select(*QUARANTINE.fieldNames())
        for bronze, kind in ((bronze_orders, ORDER), (bronze_payments, PAYMENT))
    ]
    return rejected[0].unionByName(rejected[1])
