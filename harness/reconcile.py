"""What the pipeline shows through Trino, compared with the simulator's ground truth, as a report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

from pipeline import catalog
from pipeline.settings import Settings
from pipeline.tables import ORDERS_CLEAN, ORDERS_RAW, PAYMENTS_CLEAN, PAYMENTS_RAW, QUARANTINE, Table
from simulator.oracle import Expected, GoldRow, TopicCounts

COUNT_COLUMNS = ("produced", "bronze", "clean", "quarantined", "duplicates")


@dataclass(frozen=True)
class TopicCheck:
    """One topic's message counts: what the oracle expects, and what the lakehouse holds."""

    kind: str
    expected: TopicCounts
    bronze: int
    clean: int
    quarantine_reasons: Counter[str]

    @property
    def quarantined(self) -> int:
        return sum(self.quarantine_reasons.values())

    @property
    def duplicates(self) -> int:
        # Every Bronze row is clean, quarantined or a redelivery of a clean event (CONTRACT.md rule 6).
        return self.bronze - self.clean - self.quarantined

    def rows(self) -> dict[str, tuple[int, int]]:
        """Column -> (expected, actual); the oracle's `produced` is what Bronze must hold."""
        e = self.expected
        return {
            "produced": (e.produced, e.produced),
            "bronze": (e.produced, self.bronze),
            "clean": (e.clean, self.clean),
            "quarantined": (e.quarantined, self.quarantined),
            "duplicates": (e.duplicates, self.duplicates),
        }

    @property
    def matches(self) -> bool:
        return all(want == got for want, got in self.rows().values()) and \
            +self.expected.quarantine_reasons == +self.quarantine_reasons


@dataclass(frozen=True)
class Reconciliation:
    expected: list[GoldRow]
    actual: list[GoldRow]
    topics: tuple[TopicCheck, ...]

    @property
    def gold_matches(self) -> bool:
        return self.expected == self.actual

    @property
    def matches(self) -> bool:
        return self.gold_matches and all(topic.matches for topic in self.topics)

    def by_minute(self) -> Iterator[tuple[datetime, GoldRow | None, GoldRow | None]]:
        """(minute, expected row, actual row) for every minute either side has, in order."""
        expected = {row.minute_bucket: row for row in self.expected}
        actual = {row.minute_bucket: row for row in self.actual}
        for minute in sorted(expected.keys() | actual.keys()):
            yield minute, expected.get(minute), actual.get(minute)

    def minute_differences(self) -> list[str]:
        return [f"{minute:%Y-%m-%d %H:%M}  expected {_show(want)}  actual {_show(got)}"
                for minute, want, got in self.by_minute() if want != got]

    def differences(self, limit: int = 10) -> list[str]:
        lines = self.minute_differences()
        for topic in self.topics:
            lines += [f"{topic.kind} {column}: expected {want:,}, actual {got:,}"
                      for column, (want, got) in topic.rows().items() if want != got]
            for reason in sorted(topic.expected.quarantine_reasons.keys() | topic.quarantine_reasons.keys()):
                want, got = topic.expected.quarantine_reasons[reason], topic.quarantine_reasons[reason]
                if want != got:
                    lines.append(f"{topic.kind} quarantined as {reason}: expected {want:,}, actual {got:,}")
        return lines[:limit]

    def markdown(self, title: str) -> str:
        """The report for a bug ticket: verdict, per-topic counts, first differences, every minute."""
        return "\n".join([*self._summary(title), *self._minutes()]) + "\n"

    def summary(self, title: str) -> str:
        """The report without the per-minute table, for the console."""
        return "\n".join(self._summary(title))

    def _summary(self, title: str, differences_shown: int = 20) -> list[str]:
        lines = [f"# {title}: {'MATCH' if self.matches else 'MISMATCH'}", "", "## Messages per topic", "",
                 "| topic | " + " | ".join(COUNT_COLUMNS) + " |", "|---" * (len(COUNT_COLUMNS) + 1) + "|"]
        for topic in self.topics:
            cells = [_cell(want, got) for want, got in topic.rows().values()]
            lines.append(f"| {topic.kind} ({topic.expected.topic}) | " + " | ".join(cells) + " |")
        lines += ["", "Cells read *expected / actual* where they differ. Bronze must hold every produced "
                      "message; duplicates = Bronze - clean - quarantined.", ""]
        differences = self.differences(limit=differences_shown)
        if differences:
            lines += [f"## First differences ({len(differences)} shown)", "", "```", *differences, "```", ""]
        (want_gmv, want_paid), (got_gmv, got_paid) = (
            (sum((r.gmv for r in rows), start=0), sum(r.paid_orders for r in rows))
            for rows in (self.expected, self.actual))
        lines += [f"Gold: expected {len(self.expected)} minutes, GMV {want_gmv} in {want_paid:,} paid orders; "
                  f"actual {len(self.actual)} minutes, GMV {got_gmv} in {got_paid:,}."]
        return lines

    def _minutes(self) -> list[str]:
        lines = ["", "## Gold per minute", "",
                 "| minute (UTC) | expected gmv | actual gmv | expected paid_orders | actual paid_orders | |",
                 "|---|---:|---:|---:|---:|---|"]
        for minute, want, got in self.by_minute():
            lines.append(f"| {minute:%Y-%m-%d %H:%M} | {_gmv(want)} | {_gmv(got)} | {_paid(want)} | {_paid(got)} | "
                         f"{'' if want == got else '**differs**'} |")
        return lines


def _cell(want: int, got: int) -> str:
    return f"{got:,}" if want == got else f"**{want:,} / {got:,}**"


def _gmv(row: GoldRow | None) -> str:
    return "-" if row is None else str(row.gmv)


def _paid(row: GoldRow | None) -> str:
    return "-" if row is None else f"{row.paid_orders:,}"


def _show(row: GoldRow | None) -> str:
    return "no row" if row is None else f"gmv {row.gmv} paid_orders {row.paid_orders}"


def gold_rows(settings: Settings) -> list[GoldRow]:
    rows = catalog.query(settings, "SELECT minute_bucket, gmv, paid_orders FROM delta.gold.fct_sales_minute "
                                   "ORDER BY minute_bucket")
    return [GoldRow(minute.astimezone(timezone.utc), gmv, paid) for minute, gmv, paid in rows]


def row_count(settings: Settings, table: Table) -> int:
    return catalog.query(settings, f"SELECT count(*) FROM delta.{table.qualified}")[0][0]


def quarantine_reasons(settings: Settings, kind: str) -> Counter[str]:
    rows = catalog.query(settings, f"SELECT reason, count(*) FROM delta.{QUARANTINE.qualified} "
                                   "WHERE event_kind = ? GROUP BY reason", (kind,))
    return Counter(dict(rows))


def reconcile(settings: Settings, expected: Expected) -> Reconciliation:
    topics = tuple(
        TopicCheck(kind=kind, expected=counts, bronze=row_count(settings, raw), clean=row_count(settings, clean),
                   quarantine_reasons=quarantine_reasons(settings, event_kind))
        for kind, event_kind, counts, raw, clean in (
            ("orders", "order", expected.orders, ORDERS_RAW, ORDERS_CLEAN),
            ("payments", "payment", expected.payments, PAYMENTS_RAW, PAYMENTS_CLEAN),
        )
    )
    return Reconciliation(expected=expected.gold, actual=gold_rows(settings), topics=topics)
