"""silver.orders_clean — one row per distinct valid order event (event_id)."""

from __future__ import annotations

from pyspark.sql import DataFrame

from pipeline.schemas import ORDER, ORDERS_CLEAN
from pipeline.silver.events import first_delivery, typed_events


def clean_orders(bronze_orders: DataFrame) -> DataFrame:
    """From Bronze rows, raw or validated (events.validate)."""
    return first_delivery(typed_events(bronze_orders, ORDER)).select(*ORDERS_CLEAN.fieldNames())
