"""silver.order_payments_enriched — one row per order: its current state and what has been paid.

CONTRACT.md rules 2-4, whatever order the events arrived in.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from contract import MAX_MONEY
from pipeline.schemas import MONEY
from pipeline.silver.events import latest_first

COLUMNS = ("order_id", "user_id", "status", "total_amount", "paid_amount", "currency", "fully_paid",
           "order_ts", "last_payment_ts", "updated_ts")


def _current(events: DataFrame, key: str) -> DataFrame:
    return events.withColumn("_rank", F.row_number().over(latest_first(key))).where("_rank = 1").drop("_rank")


def changed_orders(new_orders: DataFrame, new_payments: DataFrame) -> DataFrame:
    """The order_ids that these new clean events are about: the orders to recompute."""
    return new_orders.select("order_id").unionByName(new_payments.select("order_id")).distinct()


def enrich(orders_clean: DataFrame, payments_clean: DataFrame, updated_ts: str | None) -> DataFrame:
    """The state of every order in `orders_clean`, stamped `updated_ts` (ISO-8601): the Silver
    watermark of the run that computed it, which tells Gold which orders changed."""
    order_history = orders_clean.groupBy("order_id").agg(F.min("event_ts").alias("order_ts"))
    orders = _current(orders_clean, "order_id").join(order_history, "order_id")

    payment_history = payments_clean.groupBy("order_id").agg(F.max("event_ts").alias("last_payment_ts"))
    captured = (
        _current(payments_clean, "payment_id")
        .where(F.col("status") == "captured")
        .groupBy("order_id", F.col("currency").alias("payment_currency"))
        .agg(F.sum("amount").alias("captured_amount"))
    )
    # Only payments in the order's (current) currency pay for it.
    order_currency = orders.select("order_id", F.col("currency").alias("payment_currency"))
    paid = captured.join(order_currency, ["order_id", "payment_currency"]).select("order_id", "captured_amount")
    return (
        orders.join(paid, "order_id", "left")
        .join(payment_history, "order_id", "left")
        # Capped at decimal(18,2)'s largest value rather than failing the run; fully_paid is the same either way.
        .withColumn("paid_amount", F.least(F.coalesce("captured_amount", F.lit(0)), F.lit(MAX_MONEY)).cast(MONEY))
        .withColumn("fully_paid", (F.col("status") != "cancelled") & (F.col("paid_amount") >= F.col("total_amount")))
        .withColumn("updated_ts", F.lit(updated_ts).cast("timestamp"))
        .select(*COLUMNS)
    )
