"""silver.payments_clean — one row per distinct valid payment event (event_id)."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipeline.schemas import MONEY, PAYMENT, PAYMENTS_CLEAN
from pipeline.silver.events import first_delivery, typed_events

UTC_ISO_MICROS = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'"


def cents_to_amount(amount_cents: Column) -> Column:
    """Exact: integer cents over 100 in decimal arithmetic, never through a double."""
    return (amount_cents.cast("decimal(20,0)") / F.lit(100)).cast(MONEY)


def synthetic_payment_id(order_id: Column, amount_cents: Column, currency: Column, event_ts: Column) -> Column:
    """Deterministic id for a payment event without one, so a replay of it gets the same id."""
    fingerprint = F.concat_ws("|", order_id, amount_cents.cast("string"), currency,
                              F.date_format(event_ts, UTC_ISO_MICROS))
    return F.concat(F.lit("syn-"), F.substring(F.sha2(fingerprint, 256), 1, 24))


def clean_payments(bronze_payments: DataFrame) -> DataFrame:
    """From Bronze rows, raw or validated (events.validate)."""
    events = typed_events(bronze_payments, PAYMENT)
    return first_delivery(
        events.withColumn("payment_id", F.coalesce(
            F.col("payment_id"),
            synthetic_payment_id(F.col("order_id"), F.col("amount_cents"), F.col("currency"), F.col("event_ts")),
        )).withColumn("amount", cents_to_amount(F.col("amount_cents")))
    ).select(*PAYMENTS_CLEAN.fieldNames())
