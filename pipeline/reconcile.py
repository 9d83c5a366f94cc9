"""What the pipeline shows through Trino, compared with the simulator's ground truth."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timezone

from pipeline import catalog
from pipeline.settings import Settings
from pipeline.tables import ORDERS_RAW, PAYMENTS_RAW
from simulator.oracle import Expected, GoldRow


@dataclass(frozen=True)
class Reconciliation:
    expected: list[GoldRow]
    actual: list[GoldRow]
    bronze_rows: dict[str, tuple[int, int]]  # topic kind -> (produced, in Bronze)

    @property
    def gold_matches(self) -> bool:
        return self.expected == self.actual

    @property
    def bronze_matches(self) -> bool:
        return all(produced == stored for produced, stored in self.bronze_rows.values())

    @property
    def matches(self) -> bool:
        return self.gold_matches and self.bronze_matches

    def differences(self, limit: int = 10) -> list[str]:
        expected = {row.minute_bucket: row for row in self.expected}
        actual = {row.minute_bucket: row for row in self.actual}
        lines = []
        for minute in sorted(expected.keys() | actual.keys()):
            want, got = expected.get(minute), actual.get(minute)
            if want != got:
                lines.append(f"{minute:%Y-%m-%d %H:%M}  expected {_show(want)}  actual {_show(got)}")
        for kind, (produced, stored) in self.bronze_rows.items():
            if produced != stored:
                lines.append(f"bronze {kind}: produced {produced:,} messages, Bronze holds {stored:,} rows")
        return lines[:limit]


def _show(row: GoldRow | None) -> str:
    return "no row" if row is None else f"gmv {row.gmv} paid_orders {row.paid_orders}"


def gold_rows(settings: Settings) -> list[GoldRow]:
    rows = catalog.query(settings, "SELECT minute_bucket, gmv, paid_orders FROM delta.gold.fct_sales_minute "
                                   "ORDER BY minute_bucket")
    return [GoldRow(minute.astimezone(timezone.utc), gmv, paid) for minute, gmv, paid in rows]


def bronze_count(settings: Settings, table) -> int:
    return catalog.query(settings, f"SELECT count(*) FROM delta.{table.qualified}")[0][0]


def reconcile(settings: Settings, expected: Expected) -> Reconciliation:
    return Reconciliation(
        expected=expected.gold,
        actual=gold_rows(settings),
        bronze_rows={
            "orders": (expected.orders.produced, bronze_count(settings, ORDERS_RAW)),
            "payments": (expected.payments.produced, bronze_count(settings, PAYMENTS_RAW)),
        },
    )
