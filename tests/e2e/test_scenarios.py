"""Every scenario through the real pipeline, checked against the oracle; a recorded log replayed gives the same Gold."""

from __future__ import annotations

import pytest

from harness import scenarios
from pipeline import catalog
from simulator import eventlog
from simulator.scenario import available

# Scenarios already run in this session, by name: the replay test reuses one instead of running it again.
_outcomes: dict[str, scenarios.Outcome] = {}


@pytest.fixture
def outcome_of(settings, spark):
    def outcome(name: str) -> scenarios.Outcome:
        if name not in _outcomes:
            _outcomes[name] = scenarios.run(spark, settings, name)
        return _outcomes[name]

    return outcome


def silver_orders(settings) -> int:
    return catalog.query(settings, "SELECT count(*) FROM delta.silver.order_payments_enriched")[0][0]


@pytest.mark.parametrize("name", available())
def test_scenario_equals_the_oracle(settings, outcome_of, name):
    outcome = outcome_of(name)
    assert outcome.result.actual == outcome.expected.gold, outcome.result.summary(outcome.title)
    assert outcome.matches, outcome.result.summary(outcome.title)
    assert silver_orders(settings) == outcome.expected.silver_orders
    assert outcome.report.read_text().startswith(f"# {outcome.title}: MATCH")


def test_only_malformed_messages_leave_gold_empty_and_everything_in_quarantine(outcome_of):
    outcome = outcome_of("malformed_only")
    assert outcome.result.actual == []
    for topic in outcome.result.topics:
        assert topic.expected.produced > 0
        assert topic.held.bronze == topic.held.quarantined == topic.logged == topic.expected.produced
        assert topic.held.clean == topic.held.duplicates == 0


def test_replaying_a_recorded_log_into_an_empty_lakehouse_gives_the_same_gold(settings, spark, outcome_of):
    # bad_input: invalid UTF-8, empty and huge messages must round-trip through the log byte for byte.
    original = outcome_of("bad_input")
    assert len(eventlog.read(original.event_log)) == original.expected.orders.produced + original.expected.payments.produced
    replayed = scenarios.replay(spark, settings, original.event_log)
    assert replayed.matches, replayed.result.summary(replayed.title)
    assert replayed.result.actual == original.result.actual
    assert [t.rows() for t in replayed.result.topics] == [t.rows() for t in original.result.topics]
