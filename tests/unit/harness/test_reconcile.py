"""The reconciliation's comparison, without engines: each kind of mismatch injected into a lakehouse reading that
otherwise matches is reported, and turns `python -m harness scenario`'s exit code to 1."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from harness.__main__ import report
from harness.reconcile import LakehouseReading, TopicReading, compare, logged_messages
from harness.scenarios import Outcome
from simulator import eventlog
from simulator.model import Message
from simulator.oracle import Expected, GoldRow, TopicCounts

ORDERS, PAYMENTS = "orders.events", "payments.events"


def minute(hh_mm: str) -> datetime:
    return datetime.fromisoformat(f"2026-11-26T{hh_mm}:00").replace(tzinfo=timezone.utc)


GOLD = (GoldRow(minute("10:15"), Decimal("39.98"), 1), GoldRow(minute("10:17"), Decimal("120.00"), 3))
EXPECTED = Expected(
    gold=list(GOLD),
    orders=TopicCounts(ORDERS, produced=10, clean=7, duplicates=2, quarantined=1,
                       quarantine_reasons=Counter({"not_json": 1})),
    payments=TopicCounts(PAYMENTS, produced=8, clean=5, duplicates=1, quarantined=2,
                         quarantine_reasons=Counter({"empty_message": 1, "negative_amount": 1})),
)
LOGGED = Counter({ORDERS: 10, PAYMENTS: 8})
MATCHING = LakehouseReading(
    orders=TopicReading(bronze=10, clean=7, duplicates=2, quarantine_reasons=Counter({"not_json": 1})),
    payments=TopicReading(bronze=8, clean=5, duplicates=1,
                          quarantine_reasons=Counter({"empty_message": 1, "negative_amount": 1})),
    gold=GOLD,
)


def outcome_of(held: LakehouseReading, logged: Counter[str] = LOGGED) -> Outcome:
    return Outcome("scenario test", EXPECTED, compare(EXPECTED, logged, held), Path("events.jsonl"),
                   Path("report.md"))


def test_a_matching_reading_is_a_match_and_exits_0(capsys):
    outcome = outcome_of(MATCHING)
    assert outcome.result.differences() == []
    assert report(outcome) == 0
    assert capsys.readouterr().out.startswith("\n# scenario test: MATCH\n")


MISMATCHES = {
    "a lost Bronze row": (
        replace(MATCHING, orders=replace(MATCHING.orders, bronze=9)),
        ["orders bronze: expected 10, actual 9"]),
    # Bronze ingested one valid message twice: one row more, and a copy of an event seen before.
    "an extra Bronze row": (
        replace(MATCHING, payments=replace(MATCHING.payments, bronze=9, duplicates=2)),
        ["payments produced: expected 8, actual 9", "payments bronze: expected 8, actual 9",
         "payments duplicates: expected 1, actual 2"]),
    "a Silver row missing": (
        replace(MATCHING, orders=replace(MATCHING.orders, clean=6)),
        ["orders produced: expected 10, actual 9", "orders clean: expected 7, actual 6"]),
    "a duplicate not counted": (
        replace(MATCHING, orders=replace(MATCHING.orders, duplicates=1)),
        ["orders produced: expected 10, actual 9", "orders duplicates: expected 2, actual 1"]),
    "a wrong quarantine reason": (
        replace(MATCHING, payments=replace(MATCHING.payments,
                                           quarantine_reasons=Counter({"empty_message": 1, "not_json": 1}))),
        ["payments quarantined as negative_amount: expected 1, actual 0",
         "payments quarantined as not_json: expected 0, actual 1"]),
    "one Gold cent off": (
        replace(MATCHING, gold=(GOLD[0], replace(GOLD[1], gmv=Decimal("119.99")))),
        ["2026-11-26 10:17  expected gmv 120.00 paid_orders 3  actual gmv 119.99 paid_orders 3"]),
    "a missing minute": (
        replace(MATCHING, gold=GOLD[1:]),
        ["2026-11-26 10:15  expected gmv 39.98 paid_orders 1  actual no row"]),
    "an extra minute": (
        replace(MATCHING, gold=(*GOLD, GoldRow(minute("10:20"), Decimal("5.00"), 1))),
        ["2026-11-26 10:20  expected no row  actual gmv 5.00 paid_orders 1"]),
}


@pytest.mark.parametrize(("held", "differences"), MISMATCHES.values(), ids=MISMATCHES.keys())
def test_each_kind_of_mismatch_is_reported_and_exits_1(held, differences, capsys):
    outcome = outcome_of(held)
    assert outcome.result.differences() == differences
    assert report(outcome) == 1
    printed = capsys.readouterr().out
    assert printed.startswith("\n# scenario test: MISMATCH\n")
    assert all(line in printed.splitlines() for line in differences)


def test_a_message_missing_from_every_layer_differs_from_the_event_log():
    # The lakehouse agrees with the oracle, but the log holds one message more: "produced" is not the oracle's
    # own tally compared with itself.
    result = compare(EXPECTED, LOGGED + Counter({ORDERS: 1}), MATCHING)
    assert result.differences() == ["orders produced: expected 11, actual 10", "orders bronze: expected 11, actual 10"]
    assert "| orders (orders.events) | **11 / 10** | **11 / 10** | 7 | 1 | 2 |" in result.summary("t").splitlines()


def test_the_report_says_how_duplicates_are_counted():
    summary = compare(EXPECTED, LOGGED, MATCHING).summary("t")
    assert "duplicates are counted directly in Bronze: rows not quarantined whose event_id occurs at an earlier " \
           "(partition, offset)." in summary
    assert "Bronze - clean - quarantined" not in summary


def test_logged_messages_counts_every_message_of_every_log_per_topic(tmp_path):
    eventlog.write(tmp_path / "first.jsonl", [Message(ORDERS, "o-1", b"{}"), Message(PAYMENTS, None, None),
                                              Message(ORDERS, "o-1", b"\xff not UTF-8")])
    eventlog.write(tmp_path / "second.jsonl", [Message(ORDERS, "o-2", b"")])
    assert logged_messages([tmp_path / "first.jsonl", tmp_path / "second.jsonl"]) == Counter({ORDERS: 3, PAYMENTS: 1})
