"""Gold's dbt project on the real Trino: late data, freshness, the BI view, docs and lineage.

Each test writes its own probe Silver tables with Trino CTAS into schemas of its own and builds
Gold into another, so it neither needs nor disturbs the Silver and Gold other modules produce.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from pipeline import catalog, gold
from pipeline.settings import Settings

DAY = datetime(2026, 11, 26, tzinfo=timezone.utc)


def at(hh_mm_ss: str) -> datetime:
    hours, minutes, seconds = (int(part) for part in hh_mm_ss.split(":"))
    return DAY + timedelta(hours=hours, minutes=minutes, seconds=seconds)


@dataclass(frozen=True)
class SilverOrder:
    """One row of silver.order_payments_enriched, with the columns Gold reads."""

    order_id: str
    total_amount: Decimal
    fully_paid: bool
    order_ts: datetime
    updated_ts: datetime
    status: str = "created"


FactRow = tuple[datetime, Decimal, int, list[str], datetime]


def expected_fact(orders: list[SilverOrder]) -> list[FactRow]:
    """CONTRACT.md rule 5 in plain Python, plus the columns the incremental logic keeps."""
    by_minute: dict[datetime, list[SilverOrder]] = defaultdict(list)
    for order in orders:
        if order.fully_paid:
            by_minute[order.order_ts.replace(second=0, microsecond=0)].append(order)
    return [(minute, sum((o.total_amount for o in paid), Decimal("0.00")), len(paid),
             sorted(o.order_id for o in paid), max(o.updated_ts for o in paid))
            for minute, paid in sorted(by_minute.items())]


def _timestamp(value: datetime) -> str:
    return f"TIMESTAMP '{value.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S.%f} UTC'"


@dataclass(frozen=True)
class Probe:
    """A probe Silver schema and the Gold schema dbt builds from it."""

    settings: Settings
    silver: str
    gold: str

    @classmethod
    def create(cls, settings: Settings, name: str) -> "Probe":
        probe = cls(settings, f"silver_{name}", f"gold_{name}")
        for schema in (probe.silver, probe.gold):
            catalog.query(settings, f"CREATE SCHEMA IF NOT EXISTS {catalog.CATALOG}.{schema} "
                                    f"WITH (location = '{catalog.schema_location(settings, schema)}')")
        return probe

    def query(self, sql: str) -> list[list]:
        return catalog.query(self.settings, sql)

    def replace_table(self, table: str, select: str) -> None:
        """What a Silver run leaves behind; Trino cannot INSERT on local Delta, so drop + CTAS."""
        self.query(f"DROP TABLE IF EXISTS {catalog.CATALOG}.{self.silver}.{table}")
        self.query(f"CREATE TABLE {catalog.CATALOG}.{self.silver}.{table} AS {select}")

    def write_orders(self, orders: list[SilverOrder]) -> None:
        values = ",\n".join(
            f"('{o.order_id}', 'u-1', '{o.status}', DECIMAL '{o.total_amount}', "
            f"DECIMAL '{o.total_amount if o.fully_paid else 0}', 'USD', {str(o.fully_paid).upper()}, "
            f"{_timestamp(o.order_ts)}, {_timestamp(o.updated_ts)})"
            for o in orders)
        self.replace_table("order_payments_enriched", f"""
            SELECT order_id, user_id, status,
                   CAST(total_amount AS decimal(18, 2)) AS total_amount,
                   CAST(paid_amount AS decimal(18, 2)) AS paid_amount,
                   currency, fully_paid,
                   CAST(order_ts AS timestamp(3) with time zone) AS order_ts,
                   CAST(NULL AS timestamp(3) with time zone) AS last_payment_ts,
                   CAST(updated_ts AS timestamp(3) with time zone) AS updated_ts
            FROM (VALUES {values}) AS t (order_id, user_id, status, total_amount, paid_amount, currency,
                                         fully_paid, order_ts, updated_ts)""")

    def dbt(self, *args: str, **dbt_vars) -> None:
        gold.dbt(self.settings, *args, schema=self.gold, dbt_vars={"silver_schema": self.silver, **dbt_vars},
                 quiet=True)

    def fact_rows(self) -> list[FactRow]:
        rows = self.query("SELECT minute_bucket, gmv, paid_orders, paid_order_ids, source_updated_ts "
                          f"FROM {catalog.CATALOG}.{self.gold}.fct_sales_minute ORDER BY minute_bucket")
        return [tuple(row) for row in rows]

    def view_rows(self) -> list[tuple]:
        return [tuple(row) for row in self.query(
            f"SELECT minute_bucket, gmv, paid_orders FROM {catalog.CATALOG}.{self.gold}.vw_sales_last_60min "
            "ORDER BY minute_bucket")]


def target_json(settings: Settings, name: str) -> dict:
    return json.loads((gold.target_dir(settings) / name).read_text())


# --- late data: any sequence of incremental runs equals a full refresh ------------------------

SILVER_RUN_1 = [  # watermark 11:00
    SilverOrder("o-1", Decimal("10.00"), True, at("10:00:15"), at("11:00:00")),
    SilverOrder("o-2", Decimal("20.00"), False, at("10:01:05"), at("11:00:00")),
    SilverOrder("o-3", Decimal("30.00"), True, at("10:02:10"), at("11:00:00")),
    SilverOrder("o-4", Decimal("40.00"), True, at("10:05:10"), at("11:00:00")),
    SilverOrder("o-5", Decimal("50.00"), True, at("10:03:00"), at("11:00:00")),
    SilverOrder("o-6", Decimal("60.00"), True, at("10:03:30"), at("11:00:00")),
]


def _changed(orders: list[SilverOrder], watermark: datetime, changes: dict[str, dict]) -> list[SilverOrder]:
    """The next Silver state: the orders in `changes` (id -> new values) changed by a run with this watermark."""
    by_id = {o.order_id: o for o in orders}
    for order_id, values in changes.items():
        base = by_id.get(order_id) or SilverOrder(order_id, Decimal("0.00"), False, watermark, watermark)
        by_id[order_id] = replace(base, updated_ts=watermark, **values)
    return sorted(by_id.values(), key=lambda o: o.order_id)


SILVER_RUN_2 = _changed(SILVER_RUN_1, at("11:05:00"), {
    "o-2": {"fully_paid": True},                                    # late payment
    "o-3": {"status": "cancelled", "fully_paid": False},            # cancelled after payment
    "o-4": {"order_ts": at("07:58:20")},                            # late event hours earlier: 10:05 -> 07:58
    "o-5": {"fully_paid": False},                                   # refunded
})
SILVER_RUN_3 = _changed(SILVER_RUN_2, at("11:10:00"), {
    "o-6": {"status": "updated", "total_amount": Decimal("65.00")},  # total changed, still paid
    "o-7": {"total_amount": Decimal("70.00"), "fully_paid": True, "order_ts": at("10:03:45")},  # new order
})
# A run whose watermark equals the previous one's (it never decreases, but may stay).
SILVER_RUN_4 = _changed(SILVER_RUN_3, at("11:10:00"), {
    "o-1": {"status": "cancelled", "fully_paid": False},
})


@pytest.fixture(scope="module")
def late_data(settings, stack) -> Probe:
    return Probe.create(settings, "dbt_late_data")


def test_first_build_runs_every_unit_test_and_counts_every_paid_order(late_data):
    late_data.write_orders(SILVER_RUN_1)
    late_data.dbt("build")

    results = {r["unique_id"]: r["status"] for r in target_json(late_data.settings, "run_results.json")["results"]}
    defined = set(target_json(late_data.settings, "manifest.json")["unit_tests"])
    assert defined, "the project defines unit tests"
    assert {uid: results.get(uid) for uid in defined} == {uid: "pass" for uid in defined}
    assert results["model.lakehouse.fct_sales_minute"] == "success"
    assert late_data.fact_rows() == expected_fact(SILVER_RUN_1)


def test_incremental_runs_follow_late_payments_cancellations_refunds_and_moved_orders(late_data):
    late_data.write_orders(SILVER_RUN_1)
    late_data.dbt("build", "--full-refresh")

    late_data.write_orders(SILVER_RUN_2)
    late_data.dbt("build")
    after_run_2 = late_data.fact_rows()
    assert after_run_2 == expected_fact(SILVER_RUN_2)
    minutes = [row[0] for row in after_run_2]
    assert at("07:58:00") in minutes and at("10:05:00") not in minutes and at("10:02:00") not in minutes

    # Gold skips Silver run 3: its older watermark selects the changes of runs 3 and 4 together.
    late_data.write_orders(SILVER_RUN_3)
    late_data.write_orders(SILVER_RUN_4)
    late_data.dbt("build")
    incremental = late_data.fact_rows()
    assert incremental == expected_fact(SILVER_RUN_4)

    late_data.dbt("build", "--full-refresh")
    assert late_data.fact_rows() == incremental


# --- freshness ------------------------------------------------------------------------------


def test_source_freshness_passes_warns_and_errors_by_the_age_of_silver(settings, stack):
    # Ages set relative to Trino's clock when the probe tables are written, far from the
    # thresholds (warn after 30 minutes, error after 2 hours): nothing waits for the clock.
    probe = Probe.create(settings, "dbt_freshness")
    for table, age in (("order_payments_enriched", "'1' MINUTE"), ("orders_clean", "'1' HOUR"),
                       ("payments_clean", "'3' HOUR")):
        column = "updated_ts" if table == "order_payments_enriched" else "ingest_ts"
        probe.replace_table(table, f"SELECT 'e-1' AS event_id, current_timestamp - INTERVAL {age} AS {column}")
    sources_json = gold.target_dir(settings) / "sources.json"
    sources_json.unlink(missing_ok=True)

    with pytest.raises(gold.DbtFailed):  # a source past error_after fails the command
        probe.dbt("source", "freshness")

    statuses = {r["unique_id"]: r["status"] for r in target_json(settings, "sources.json")["results"]}
    assert statuses == {
        "source.lakehouse.silver.order_payments_enriched": "pass",
        "source.lakehouse.silver.orders_clean": "warn",
        "source.lakehouse.silver.payments_clean": "error",
    }


# --- the BI view, docs and lineage -----------------------------------------------------------


@pytest.fixture(scope="module")
def around_now(settings, stack) -> tuple[Probe, datetime]:
    """Gold built from orders placed around Trino's current time, for the view's window."""
    probe = Probe.create(settings, "dbt_window")
    now = probe.query("SELECT current_timestamp")[0][0].astimezone(timezone.utc)
    # -5: a clock ahead of Trino's. No order sits on the edge of the default window, which
    # follows the clock while the test runs; the pinned window's edges are 29|30 and 60|61.
    minutes_ago = (-5, 0, 10, 29, 30, 50, 60, 61, 90, 24 * 60)
    probe.write_orders([
        SilverOrder(f"o-{i}", Decimal(f"{i + 1}.25"), True, now - timedelta(minutes=ago), now)
        for i, ago in enumerate(minutes_ago)
    ])
    probe.dbt("build")
    return probe, now


def _in_window(fact_rows: list[FactRow], last_minute: datetime, minutes: int) -> list[tuple]:
    first_minute = last_minute - timedelta(minutes=minutes - 1)
    return [(minute, gmv, paid) for minute, gmv, paid, *_ in fact_rows if first_minute <= minute <= last_minute]


def test_view_shows_the_fact_rows_of_the_last_60_minutes(around_now):
    probe, now = around_now
    view = probe.view_rows()
    assert view == _in_window(probe.fact_rows(), now.replace(second=0, microsecond=0), 60)
    assert len(view) == 5, "orders 0 to 50 minutes old; not 60 or more, nor in the future"


def test_view_window_follows_its_vars(around_now):
    probe, now = around_now
    end = now - timedelta(minutes=30)
    try:
        probe.dbt("run", "--select", "vw_sales_last_60min",
                  sales_window_end=f"{end:%Y-%m-%d %H:%M:%S} UTC", sales_window_minutes=31)
        view = probe.view_rows()
        assert view == _in_window(probe.fact_rows(), end.replace(second=0, microsecond=0), 31)
        assert len(view) == 3, "orders 30, 50 and 60 minutes old"
    finally:
        probe.dbt("run", "--select", "vw_sales_last_60min")


def test_docs_generate_and_lineage_runs_source_fact_view_dashboard(around_now):
    probe, _ = around_now
    probe.dbt("docs", "generate")

    manifest = target_json(probe.settings, "manifest.json")
    source = "source.lakehouse.silver.order_payments_enriched"
    fact, view = "model.lakehouse.fct_sales_minute", "model.lakehouse.vw_sales_last_60min"
    dashboard = "exposure.lakehouse.live_sales_dashboard"
    assert manifest["parent_map"][fact] == [source]
    assert manifest["parent_map"][view] == [fact]
    assert sorted(manifest["parent_map"][dashboard]) == [fact, view]
    assert fact in manifest["child_map"][source]
    assert view in manifest["child_map"][fact]
    assert dashboard in manifest["child_map"][view]

    catalog_json = target_json(probe.settings, "catalog.json")
    assert catalog_json["errors"] is None
    # dbt/macros/catalog.sql: Trino 476 may drop a table from one query's listing; every node must be there.
    documented = catalog_json["nodes"]
    assert {fact, view} <= set(documented), f"catalog.json documents only {sorted(documented)}"
    assert set(documented[fact]["columns"]) == {"minute_bucket", "gmv", "paid_orders", "paid_order_ids",
                                                "source_updated_ts"}
    assert set(documented[view]["columns"]) == {"minute_bucket", "gmv", "paid_orders", "window_last_minute"}
