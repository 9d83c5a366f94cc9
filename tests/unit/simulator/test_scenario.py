"""Scenario files load into knobs, generate deterministic messages, and hold the cases they promise."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest

from contract import ORDER_REASONS, PAYMENT_REASONS
from simulator import eventlog
from simulator.generator import SQL_LOOKALIKES
from simulator.knobs import Knobs
from simulator.model import Message
from simulator.oracle import Expected, expect, silver_state
from simulator.scenario import Scenario, available, knobs_from, load, parse_duration
from simulator.validation import Invalid
from tests.messages import ORDERS, PAYMENTS
from tests.unit.simulator.reading import event_of, first_arrivals, json_kind, payments_by_order, replayed_runs
from tests.unit.simulator.recount import gold_by_sql, topic_counts, validated

KAFKA_DEFAULT_MAX_MESSAGE = 1024 * 1024
REPO = Path(__file__).resolve().parents[3]
THIS_MODULE = "tests.unit.simulator.test_scenario"


@cache
def messages_of(name: str) -> tuple[Message, ...]:
    return tuple(load(name).messages(ORDERS, PAYMENTS))


@cache
def expected_of(name: str) -> Expected:
    return expect(messages_of(name), ORDERS, PAYMENTS)


@cache
def readings_of(name: str) -> tuple[str | Invalid, ...]:
    return tuple(validated(message, ORDERS) for message in messages_of(name))


def test_the_scenarios_of_the_issue_are_there():
    assert set(available()) >= {
        "happy_path", "duplicates", "partial_payments", "late_events", "bad_input", "malformed_only", "mixed"
    }


@pytest.mark.parametrize("name", available())
def test_a_scenario_file_loads_and_is_deterministic(name):
    scenario = load(name)
    assert scenario.name == name and scenario.description and scenario.invariants
    assert isinstance(scenario.knobs, Knobs) and scenario.orders > 0
    small = scenario.messages(ORDERS, PAYMENTS, orders=150)
    assert small == scenario.messages(ORDERS, PAYMENTS, orders=150)
    assert small != scenario.messages(ORDERS, PAYMENTS, orders=150, seed=scenario.seed + 1)


@pytest.mark.parametrize("name", available())
def test_no_message_is_lost_and_none_is_too_large(name):
    messages, readings = messages_of(name), readings_of(name)
    expected = expected_of(name)
    assert (expected.orders, expected.payments) == (
        topic_counts(messages, readings, ORDERS), topic_counts(messages, readings, PAYMENTS))
    assert max(len(message.value or b"") for message in messages) < 900 * 1024 < KAFKA_DEFAULT_MAX_MESSAGE


@pytest.mark.parametrize("name", available())
def test_gold_equals_sql_over_the_log(name):
    # Rule 6 is validation.py's here (the SQL reads well-formed events only); rules 1 to 5 are the SQL's own.
    messages, readings = messages_of(name), readings_of(name)
    well_formed = [message for message, reading in zip(messages, readings, strict=True)
                   if not isinstance(reading, Invalid)]
    assert expected_of(name).gold == gold_by_sql(well_formed, ORDERS, PAYMENTS)


def test_happy_path_gives_the_numbers_the_demo_and_the_e2e_tests_rely_on():
    scenario = load("happy_path")
    assert (scenario.orders, scenario.seed, scenario.knobs) == (2000, 7, Knobs())
    messages, expected = messages_of("happy_path"), expected_of("happy_path")
    # Each pin also by a second route: Gold by SQL over every message as generated, messages counted per topic.
    by_sql = gold_by_sql(messages, ORDERS, PAYMENTS)
    sql_totals = (sum(row.gmv for row in by_sql), sum(row.paid_orders for row in by_sql))
    assert (expected.total_gmv, expected.total_paid_orders) == sql_totals == (Decimal("539862.03"), 1450)
    produced = Counter(message.topic for message in messages)
    assert (expected.orders.produced, expected.payments.produced) == (produced[ORDERS], produced[PAYMENTS]) == (
        2424, 3934)


def test_generation_does_not_depend_on_the_process():
    # Same seed, same bytes in another interpreter, later: nothing ordered by string hashes, nor read from the clock.
    hash_seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    other = subprocess.run(
        [sys.executable, "-c", f"import json; from {THIS_MODULE} import digests; print(json.dumps(digests()))"],
        env={**os.environ, "PYTHONHASHSEED": hash_seed}, cwd=REPO, capture_output=True, text=True, check=True,
    )
    assert json.loads(other.stdout) == digests()


def digests() -> dict[str, str]:
    """A digest of each scenario's messages for 150 orders, as many as the in-process determinism test takes."""
    return {name: hashlib.sha256(repr(load(name).messages(ORDERS, PAYMENTS, orders=150)).encode()).hexdigest()
            for name in available()}


def test_duplicates_redelivers_and_replays_whole_batches():
    messages, expected = messages_of("duplicates"), expected_of("duplicates")
    long_runs = [length for _, length in replayed_runs(list(messages)) if length >= 100]
    assert len(long_runs) == 4 and min(long_runs) >= 240
    # From the scenario file: whole batches replayed, and a share of the other messages sent twice.
    knobs = load("duplicates").knobs
    replayed = knobs.replayed_batches * knobs.replayed_batch_size
    redelivered = (len(messages) - replayed) * knobs.redelivered_share / (1 + knobs.redelivered_share)
    duplicates = expected.orders.duplicates + expected.payments.duplicates
    assert duplicates == pytest.approx(redelivered + replayed, abs=1)
    assert expected.orders.quarantined == expected.payments.quarantined == 0


def test_partial_payments_holds_every_payment_case():
    messages = list(messages_of("partial_payments"))
    silver, payments = silver_state(messages, ORDERS, PAYMENTS), payments_by_order(messages)
    cases: Counter[str] = Counter()
    for order_id, state in silver.orders.items():
        own, total = payments.get(order_id, {}), state.latest.total_amount
        captured = [p for p in own.values() if p.status == "captured" and p.currency == state.latest.currency]
        statuses = {p.status for p in own.values()}
        cases["split"] += len(captured) == 2 and state.fully_paid
        cases["one_cent_short"] += state.paid_amount == total - Decimal("0.01")
        cases["overpaid"] += state.fully_paid and state.paid_amount > total
        cases["failed_then_retried"] += "failed" in statuses and state.fully_paid
        cases["captured_then_refunded"] += "refunded" in statuses
        cases["other_currency"] += any(p.currency != state.latest.currency for p in own.values())
        cases["cancelled_after_payment"] += state.latest.status == "cancelled" and state.paid_amount >= total
    cases["stale_authorized"] = len(stale_authorizations(messages))
    assert min(cases.values()) >= 20, cases


def stale_authorizations(messages: list[Message]) -> list[str]:
    """Payments whose authorized event arrives after their captured one, though it happened before."""
    captured: dict[str, object] = {}
    stale = []
    for message in messages:
        event = event_of(message) if message.topic == PAYMENTS else None
        if event is not None and event.status == "captured":
            captured.setdefault(event.payment_id, event.event_ts)
        elif event is not None and event.status == "authorized" and event.payment_id in captured:
            assert event.event_ts < captured[event.payment_id]
            stale.append(event.payment_id)
    return stale


def test_a_stale_authorization_never_undoes_its_capture():
    messages = list(messages_of("partial_payments"))
    payments = silver_state(messages, ORDERS, PAYMENTS).payments
    states = Counter(payments[payment_id].status for payment_id in stale_authorizations(messages))
    # Captured, or refunded after the capture; never back to authorized.
    assert set(states) == {"captured", "refunded"} and states["captured"] >= 20


def test_late_events_arrive_hours_late_and_out_of_order():
    messages = list(messages_of("late_events"))
    first = first_arrivals(messages)
    created = {order_id: position for (topic, order_id, status), position in first.items() if status == "created"}

    def overtaking(topic: str, status: str) -> int:
        """Orders whose first event of this topic and status arrives before their create."""
        arrivals = [(order_id, position) for (t, order_id, s), position in first.items() if (t, s) == (topic, status)]
        return sum(position < created[order_id] for order_id, position in arrivals)

    assert overtaking(PAYMENTS, "captured") >= 200
    assert overtaking(ORDERS, "cancelled") >= 100
    assert overtaking(ORDERS, "updated") >= 100
    assert hours_late(messages) >= 300


def hours_late(messages: list[Message]) -> int:
    """Messages that arrive after another whose event_ts is more than an hour later than theirs."""
    latest_seen, late = None, 0
    for event in filter(None, map(event_of, messages)):
        late += latest_seen is not None and event.event_ts < latest_seen - timedelta(hours=1)
        latest_seen = max(latest_seen or event.event_ts, event.event_ts)
    return late


def test_bad_input_earns_every_quarantine_reason_on_both_topics():
    expected = expected_of("bad_input")
    assert set(expected.orders.quarantine_reasons) == ORDER_REASONS
    assert set(expected.payments.quarantine_reasons) == PAYMENT_REASONS


def test_bad_input_sends_empty_null_non_object_and_huge_messages():
    values = [message.value for message in messages_of("bad_input")]
    assert b"" in values and None in values
    # The scenario's description: "JSON that is no object (array, string, number, null)".
    assert {json_kind(value) for value in values} - {"object", None} == {"array", "string", "number", "null"}
    huge = [message for message in messages_of("bad_input") if len(message.value or b"") > 100_000]
    outcomes = Counter(event_of(message) is None for message in huge)
    assert outcomes[True] >= 3 and outcomes[False] >= 3  # cut off (quarantined) and padded (valid)


def test_bad_input_counts_sql_looking_orders_like_any_other():
    silver = silver_state(messages_of("bad_input"), ORDERS, PAYMENTS)
    sql_like = [state for order_id, state in silver.orders.items() if order_id.endswith(SQL_LOOKALIKES)]
    assert len(sql_like) >= 20 and sum(state.fully_paid for state in sql_like) >= 10
    assert {state.latest.user_id.endswith(SQL_LOOKALIKES) for state in sql_like} == {True}


def test_a_log_of_only_malformed_messages_leaves_gold_empty_and_everything_in_quarantine(tmp_path):
    log = tmp_path / "malformed_only.jsonl"
    eventlog.write(log, messages_of("malformed_only"))
    expected = expect(eventlog.read(log), ORDERS, PAYMENTS)
    assert expected.gold == [] and (expected.silver_orders, expected.silver_payments) == (0, 0)
    for counts in (expected.orders, expected.payments):
        assert counts.produced > 150 and counts.quarantined == counts.produced
        assert counts.clean == counts.duplicates == 0
    assert len(expected.orders.quarantine_reasons) >= 20


def test_mixed_has_a_bit_of_everything():
    messages, expected = list(messages_of("mixed")), expected_of("mixed")
    assert len(messages) > 12_000
    assert expected.orders.duplicates > 300 and expected.payments.duplicates > 300
    assert len([length for _, length in replayed_runs(messages) if length >= 100]) == 3
    assert len(expected.orders.quarantine_reasons) >= 20 and len(expected.payments.quarantine_reasons) >= 18
    assert hours_late(messages) >= 100
    currencies = {state.latest.currency for state in silver_state(messages, ORDERS, PAYMENTS).orders.values()}
    assert currencies == {"USD", "EUR", "GBP", "CHF", "SEK"}


# -- the file format ------------------------------------------------------------------------------------


def test_knobs_are_read_like_their_defaults():
    knobs = knobs_from({
        "late_share": 1, "late_delay": ["90s", "6h"], "window": "30m", "malformed_only": True,
        "replayed_batches": 2, "stories": {"paid": 3},
    })
    assert knobs == Knobs(
        late_share=1.0, late_delay=(timedelta(seconds=90), timedelta(hours=6)), window=timedelta(minutes=30),
        malformed_only=True, replayed_batches=2, stories={"paid": 3},
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"lateness": 0.1}, r"unknown \['lateness'\]; known: stories, currencies"),
        ({"late_delay": ["1h", "6 hours"]}, "'6 hours' is not a duration such as 90s, 30m or 6h"),
        ({"malformed_only": "yes"}, "malformed_only: true or false"),
        ({"stories": ["paid"]}, "stories: a mapping of names to weights"),
    ],
)
def test_bad_knobs_are_refused_with_the_reason(settings, message):
    with pytest.raises(ValueError, match=message):
        knobs_from(settings)


def test_a_file_names_itself_in_its_errors(tmp_path):
    path = tmp_path / "custom.yaml"
    path.write_text("name: custom\nknobs: {orders: 5, seed: 1, late_share: 2}\ninvariants: [x]\n")
    with pytest.raises(ValueError, match=f"scenario {path}: knobs: late_share = 2.0"):
        load(str(path))
    path.write_text("name: custom\nknobs: {orders: 5, seed: 1, late_share: 0.5}\ninvariants: [x]\n")
    assert load(str(path)) == Scenario("custom", "", 5, 1, Knobs(late_share=0.5), ("x",))


def test_durations_take_a_unit_or_are_seconds():
    assert [parse_duration(text) for text in ("90s", "1.5m", "6h", 30)] == [
        timedelta(seconds=90), timedelta(seconds=90), timedelta(hours=6), timedelta(seconds=30)
    ]


def test_an_unknown_scenario_names_the_available_ones():
    with pytest.raises(ValueError, match="no scenario 'nope'; available: .*happy_path"):
        load("nope")
