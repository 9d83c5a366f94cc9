"""The whole pipeline on the real engines: simulator -> Kafka -> Bronze -> Silver -> Gold (dbt on Trino)."""

from __future__ import annotations


import pytest

from harness import reconcile
from pipeline import catalog, lakehouse, run
from pipeline.stack import supervisor
from simulator.play import run_produce

ORDERS = 2000
SEED = 20261126


@pytest.fixture(scope="module")
def event_log(tmp_path_factory):
    return tmp_path_factory.mktemp("walking-skeleton") / "events.jsonl"


@pytest.fixture(scope="module")
def produced(settings, spark, event_log):
    lakehouse.empty(settings, spark)
    expected, _path = run_produce(settings, ORDERS, SEED, record=event_log)
    return expected


@pytest.fixture(scope="module")
def pipeline_run(settings, spark, produced):
    return run.run_once(spark, settings)


def test_gold_equals_ground_truth_for_every_minute(settings, produced, event_log, pipeline_run):
    actual = reconcile.gold_rows(settings)
    assert len(produced.gold) > 30, "the scenario should span many minutes"
    assert actual == produced.gold, "\n".join(
        reconcile.reconcile(settings, produced, [event_log]).differences(limit=20))


def test_bronze_holds_one_row_per_produced_message(settings, produced, event_log, pipeline_run):
    result = reconcile.reconcile(settings, produced, [event_log])
    assert [(topic.kind, topic.logged, topic.held.bronze) for topic in result.topics] == [
        ("orders", produced.orders.produced, produced.orders.produced),
        ("payments", produced.payments.produced, produced.payments.produced)]


def test_silver_counts_match_the_oracle(settings, produced, pipeline_run):
    def count(table: str) -> int:
        return catalog.query(settings, f"SELECT count(*) FROM delta.silver.{table}")[0][0]

    assert count("orders_clean") == produced.orders.clean
    assert count("payments_clean") == produced.payments.clean
    assert count("order_payments_enriched") == produced.silver_orders
    assert count("quarantine") == produced.orders.quarantined + produced.payments.quarantined
    assert produced.orders.duplicates > 0 and produced.payments.duplicates > 0, "scenario must redeliver"


def test_a_second_run_with_nothing_new_changes_no_number(settings, spark, produced, event_log, pipeline_run):
    run.run_once(spark, settings)
    assert reconcile.reconcile(settings, produced, [event_log]).matches


def test_stack_up_twice_reuses_the_running_stack(settings, stack):
    # What runs now, not the session's first start: a test may have restarted a service since.
    running = supervisor.status(settings)
    again = supervisor.up(settings)
    assert [(s.name, s.pid, s.port) for s in again] == [(s.name, s.pid, s.port) for s in running]
    assert all(s.running for s in again)
