"""silver.quarantine — one row per Bronze message that breaks CONTRACT.md rule 6, with the reason."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipeline.contract import ORDER, PAYMENT, QUARANTINE
from pipeline.silver.events import with_rejection_reason


def quarantine(bronze_orders: DataFrame, bronze_payments: DataFrame) -> DataFrame:
    rejected = [
        with_rejection_reason(bronze, kind).where(F.col("reason").isNotNull())
        .withColumn("event_kind", F.lit(kind.name))
        for bronze, kind in ((bronze_orders, ORDER), (bronze_payments, PAYMENT))
    ]
    return rejected[0].unionByName(rejected[1]).select(*QUARANTINE.fieldNames())
