"""What the lakehouse holds, read through Trino, compared with the event log and the simulator's ground truth, as a report.

Reading (`read`: Trino) and comparing (`compare`: pure) are apart, so the comparison is tested without engines.
Each count is measured on its own side (CONTRACT.md rule 6): produced in the event log, Bronze rows and
duplicates in Bronze, clean and quarantined in Silver; the oracle says what clean, quarantined, duplicates
and Gold must be.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pipeline import catalog
from pipeline.settings import Settings
from pipeline.tables import ORDERS_CLEAN, ORDERS_RAW, PAYMENTS_CLEAN, PAYMENTS_RAW, QUARANTINE, Table
from simulator import eventlog
from simulator.oracle import Expected, GoldRow, TopicCounts

COUNT_COLUMNS = ("produced", "bronze", "clean", "quarantined", "duplicates")

# A Bronze row is valid when Silver did not quarantine the message at its Kafka coordinates; a valid
# row is a duplicate when a valid row with its event_id sits at an earlier (partition, offset): the
# earliest copy is the one kept (CONTRACT.md rule 1). A malformed twin of a valid event is quarantined,
# so it is neither counted nor able to make the valid copy look like a later one.
DUPLICATES_SQL = """
SELECT count(*) FROM (
    SELECT row_number() OVER (PARTITION BY json_extract_scalar(b.raw_value, '$.event_id')
                              ORDER BY b."partition", b."offset") AS delivery
    FROM {bronze} AS b
    WHERE NOT EXISTS (SELECT 1 FROM {quarantine} AS q
                      WHERE q.topic = b.topic AND q."partition" = b."partition" AND q."offset" = b."offset")
) AS valid_rows
WHERE delivery > 1
"""


@dataclass(frozen=True)
class TopicReading:
    """One topic as the lakehouse holds it, each figure read on its own."""

    bronze: int
    clean: int
    duplicates: int
    quarantine_reasons: Counter[str]

    @property
    def quarantined(self) -> int:
        return sum(self.quarantine_reasons.values())


@dataclass(frozen=True)
class LakehouseReading:
    """What Trino shows: per topic Bronze, Silver and the duplicates in Bronze; Gold per minute."""

    orders: TopicReading
    payments: TopicReading
    gold: tuple[GoldRow, ...]


@dataclass(frozen=True)
class TopicCheck:
    """One topic's message counts: what the event log and the oracle expect, and what the lakehouse holds."""

    kind: str
    expected: TopicCounts
    logged: int
    held: TopicReading

    def rows(self) -> dict[str, tuple[int, int]]:
        """Column -> (expected, actual). Every logged message must be in Bronze and, in Silver or as a
        duplicate in Bronze, counted exactly once; the oracle says how they split."""
        e, held = self.expected, self.held
        return {
            "produced": (self.logged, held.clean + held.quarantined + held.duplicates),
            "bronze": (self.logged, held.bronze),
            "clean": (e.clean, held.clean),
            "quarantined": (e.quarantined, held.quarantined),
            "duplicates": (e.duplicates, held.duplicates),
        }

    @property
    def matches(self) -> bool:
        return all(want == got for want, got in self.rows().values()) and \
            +self.expected.quarantine_reasons == +self.held.quarantine_reasons


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
            wanted, held = topic.expected.quarantine_reasons, topic.held.quarantine_reasons
            for reason in sorted(wanted.keys() | held.keys()):
                want, got = wanted[reason], held[reason]
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
        lines += ["", "Cells read *expected / actual* where they differ. produced: the event log's messages / clean + "
                      "quarantined + duplicates; bronze: the event log's messages / Bronze rows; duplicates are "
                      "counted directly in Bronze: rows not quarantined whose event_id occurs at an earlier "
                      "(partition, offset).", ""]
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


def compare(expected: Expected, logged: Mapping[str, int], held: LakehouseReading) -> Reconciliation:
    """The event log's messages per topic (`logged`) and the oracle's `expected` against what the lakehouse holds."""
    topics = tuple(TopicCheck(kind=kind, expected=counts, logged=logged.get(counts.topic, 0), held=reading)
                   for kind, counts, reading in (("orders", expected.orders, held.orders),
                                                 ("payments", expected.payments, held.payments)))
    return Reconciliation(expected=list(expected.gold), actual=list(held.gold), topics=topics)


def reconcile(settings: Settings, expected: Expected, event_logs: Sequence[Path]) -> Reconciliation:
    """The lakehouse against the event logs of everything produced into it and the oracle's outcome for them."""
    return compare(expected, logged_messages(event_logs), read(settings))


def logged_messages(event_logs: Iterable[Path]) -> Counter[str]:
    """Messages per topic in the event logs: what was produced, counted apart from the oracle's tally."""
    return Counter(message.topic for path in event_logs for message in eventlog.records(path))


def read(settings: Settings) -> LakehouseReading:
    return LakehouseReading(orders=_topic(settings, ORDERS_RAW, ORDERS_CLEAN, "order"),
                            payments=_topic(settings, PAYMENTS_RAW, PAYMENTS_CLEAN, "payment"),
                            gold=tuple(gold_rows(settings)))


def _topic(settings: Settings, raw: Table, clean: Table, event_kind: str) -> TopicReading:
    return TopicReading(bronze=row_count(settings, raw), clean=row_count(settings, clean),
                        duplicates=duplicates(settings, raw), quarantine_reasons=quarantine_reasons(settings, event_kind))


def gold_rows(settings: Settings) -> list[GoldRow]:
    rows = catalog.query(settings, "SELECT minute_bucket, gmv, paid_orders FROM delta.gold.fct_sales_minute "
                                   "ORDER BY minute_bucket")
    return [GoldRow(minute.astimezone(timezone.utc), gmv, paid) for minute, gmv, paid in rows]


def row_count(settings: Settings, table: Table) -> int:
    return catalog.query(settings, f"SELECT count(*) FROM delta.{table.qualified}")[0][0]


def duplicates(settings: Settings, bronze: Table) -> int:
    sql = DUPLICATES_SQL.format(bronze=f"delta.{bronze.qualified}", quarantine=f"delta.{QUARANTINE.qualified}")
    return catalog.query(settings, sql)[0][0]


def quarantine_reasons(settings: Settings, kind: str) -> Counter[str]:
    rows = catalog.query(settings, f"SELECT reason, count(*) FROM delta.{QUARANTINE.qualified} "
                                   "WHERE event_kind = ? GROUP BY reason", (kind,))
    return Counter(dict(rows))
