"""`pipeline run`'s continuous loop without engines: which cycles build Gold, and how it stops."""

from __future__ import annotations

import pytest

from pipeline import run
from pipeline.settings import Settings
from pipeline.silver import job as silver

CHANGED = {"silver.orders_clean": silver.TableOutcome(3, "+3 rows, 0 updated"),
           "silver.order_payments_enriched": silver.TableOutcome(2, "+2 rows, 0 updated")}
UNCHANGED = {"silver.orders_clean": silver.UP_TO_DATE, "silver.order_payments_enriched": silver.UP_TO_DATE}
# Quarantined messages only: nothing Gold reads changed.
QUARANTINED = {"silver.quarantine": silver.TableOutcome(4, "+4 rows"),
               "silver.order_payments_enriched": silver.UP_TO_DATE}


class Query:
    """A streaming query that keeps running."""

    stopped = False

    def exception(self):
        return None

    def stop(self) -> None:
        self.stopped = True


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.from_env({"LAKEHOUSE_HOME": str(tmp_path), "SILVER_INTERVAL_SECONDS": "1"})


def loop(monkeypatch, settings: Settings, silver_outcomes: list[dict]) -> tuple[list[str], list[Query], list[str]]:
    """run_forever over one cycle per outcome, then Ctrl-C; returns what each cycle did, the Bronze queries
    and the log."""
    steps: list[str] = []
    queries = [Query(), Query()]
    outcomes = iter(silver_outcomes)

    def silver_run(spark, settings):
        steps.append("silver")
        return next(outcomes)

    def sleep(seconds):
        if steps.count("silver") == len(silver_outcomes):
            raise KeyboardInterrupt

    monkeypatch.setattr(run.topics, "ensure_topics", lambda settings: None)
    monkeypatch.setattr(run.bronze, "start", lambda spark, settings, available_now: queries)
    monkeypatch.setattr(run.silver, "run", silver_run)
    monkeypatch.setattr(run.catalog, "register_tables", lambda settings: steps.append("register") or [])
    monkeypatch.setattr(run.gold, "refresh", lambda settings, quiet: steps.append("gold"))
    monkeypatch.setattr(run.time, "sleep", sleep)
    log: list[str] = []
    run.run_forever(spark=None, settings=settings, log=log.append)
    return steps, queries, log


def test_gold_is_built_on_the_first_cycle_and_then_only_after_silver_changed(monkeypatch, settings):
    steps, _, log = loop(monkeypatch, settings, [UNCHANGED, UNCHANGED, CHANGED, QUARANTINED, CHANGED])

    assert steps == ["silver", "register", "gold",  # at start: whatever an earlier process left unbuilt
                     "silver",
                     "silver", "register", "gold",
                     "silver",
                     "silver", "register", "gold"]
    assert log.count("  nothing new in Silver: Gold left as it is") == 2


def test_ctrl_c_stops_both_bronze_streams(monkeypatch, settings):
    _, queries, log = loop(monkeypatch, settings, [CHANGED])

    assert all(query.stopped for query in queries)
    assert log[-1] == "  stopping …"


def test_run_once_always_builds_gold_with_its_data_tests(monkeypatch, settings):
    steps: list[str] = []
    monkeypatch.setattr(run.topics, "ensure_topics", lambda settings: None)
    monkeypatch.setattr(run.bronze, "run_available_now", lambda spark, settings: steps.append("bronze"))
    monkeypatch.setattr(run.silver, "run", lambda spark, settings: steps.append("silver") or UNCHANGED)
    monkeypatch.setattr(run.catalog, "register_tables", lambda settings: steps.append("register") or [])
    monkeypatch.setattr(run.gold, "build", lambda settings, quiet, unit_tests: steps.append(f"gold tests={unit_tests}"))

    timings = run.run_once(spark=None, settings=settings, log=lambda line: None)

    assert steps == ["bronze", "silver", "register", "gold tests=False"]
    assert set(timings.seconds) == {"bronze", "silver", "register", "gold"}


def test_run_once_without_data_tests_builds_gold_as_a_cycle_does(monkeypatch, settings):
    steps: list[str] = []
    monkeypatch.setattr(run.topics, "ensure_topics", lambda settings: None)
    monkeypatch.setattr(run.bronze, "run_available_now", lambda spark, settings: steps.append("bronze"))
    monkeypatch.setattr(run.silver, "run", lambda spark, settings: steps.append("silver") or UNCHANGED)
    monkeypatch.setattr(run.catalog, "register_tables", lambda settings: steps.append("register") or [])
    monkeypatch.setattr(run.gold, "build", lambda settings, quiet, unit_tests: steps.append("dbt build"))
    monkeypatch.setattr(run.gold, "refresh", lambda settings, quiet: steps.append("dbt run"))

    run.run_once(spark=None, settings=settings, log=lambda line: None, data_tests=False)

    assert steps == ["bronze", "silver", "register", "dbt run"]
