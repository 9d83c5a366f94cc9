"""The live sales dashboard's queries (dbt exposure `live_sales_dashboard`), by panel, and the baseline query.

Shared by the locust DashboardUser and the BI latency figure; kept apart from the locustfile, which patches the
standard library for gevent when it is imported.
"""

from __future__ import annotations

QUERIES = {
    "vw_sales_last_60min": "SELECT * FROM delta.gold.vw_sales_last_60min ORDER BY minute_bucket",
    "fct_sales_minute last 24h": "SELECT minute_bucket, gmv, paid_orders FROM delta.gold.fct_sales_minute "
                                 "WHERE minute_bucket >= date_trunc('minute', current_timestamp) - INTERVAL '1' DAY "
                                 "ORDER BY minute_bucket",
}
# What any query costs on the same Trino: parsing, planning, scheduling and the client's round trips.
BASELINE = ("select 1", "SELECT 1")
