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
SILVER_SECONDS = 0.25


class Query:
    """A Bronze streaming query that runs until it is stopped."""

    def __init__(self, name: str):
        self.name = name
        self.isActive = True
        self.stopped = False

    def exception(self):
        return None

    def stop(self) -> None:
        self.stopped = True
        self.isActive = False


class Fakes:
    """The steps of a run, scripted: each Silver step returns the next of `silver_outcomes`, and once they are
    all used the sleep after the cycle is a Ctrl-C. Records the steps called (`calls`), the sleeps and the log."""

    def __init__(self, silver_outcomes: list[dict]):
        self.silver_outcomes = list(silver_outcomes)
        self.queries = [Query("bronze_orders_raw"), Query("bronze_payments_raw")]
        self.calls: list[str] = []
        self.slept: list[float] = []
        self.log: list[str] = []
        self.now = 0.0

    def steps(self) -> run.Steps:
        return run.Steps(
            ensure_topics=lambda settings: self.calls.append("topics"),
            ingest_bronze=lambda spark, settings: self.calls.append("bronze"),
            start_bronze=lambda spark, settings: self.calls.append("bronze streams") or self.queries,
            run_silver=self.run_silver,
            register_tables=lambda settings: self.calls.append("register") or [],
            build_gold=lambda settings, data_tests: self.calls.append(
                "gold + data tests" if data_tests else "gold"),
            sleep=self.sleep,
            clock=lambda: self.now,
        )

    def run_silver(self, spark, settings) -> dict:
        self.calls.append("silver")
        self.now += SILVER_SECONDS
        return self.silver_outcomes.pop(0)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        if not self.silver_outcomes:
            raise KeyboardInterrupt

    def cycles(self) -> list[str]:
        """The steps called after Bronze started."""
        return self.calls[self.calls.index("bronze streams") + 1:]


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.from_env({"LAKEHOUSE_HOME": str(tmp_path), "SILVER_INTERVAL_SECONDS": "1"})


def forever(settings: Settings, fakes: Fakes, steps: run.Steps | None = None) -> None:
    run.run_forever(spark=None, settings=settings, log=fakes.log.append, steps=steps or fakes.steps())


def test_gold_is_built_on_the_first_cycle_and_then_only_after_silver_changed(settings):
    fakes = Fakes([UNCHANGED, UNCHANGED, CHANGED, QUARANTINED, CHANGED])

    forever(settings, fakes)

    assert fakes.calls[:2] == ["topics", "bronze streams"]
    assert fakes.cycles() == ["silver", "register", "gold",  # at start: whatever an earlier process left unbuilt
                              "silver",
                              "silver", "register", "gold",
                              "silver",
                              "silver", "register", "gold"]
    assert fakes.log.count("  nothing new in Silver: Gold left as it is") == 2
    # A cycle starts every SILVER_INTERVAL_SECONDS: the sleep is what the cycle left of it.
    assert fakes.slept == [1 - SILVER_SECONDS] * 5


def test_ctrl_c_stops_both_bronze_streams(settings):
    fakes = Fakes([CHANGED])

    forever(settings, fakes)

    assert all(query.stopped for query in fakes.queries)
    assert fakes.log[-1] == "  stopping …"


def test_run_once_always_builds_gold_with_its_data_tests(settings):
    fakes = Fakes([UNCHANGED])

    timings = run.run_once(spark=None, settings=settings, log=fakes.log.append, steps=fakes.steps())

    assert fakes.calls == ["topics", "bronze", "silver", "register", "gold + data tests"]
    assert set(timings.seconds) == {"bronze", "silver", "register", "gold"}


def test_run_once_without_data_tests_builds_gold_as_a_cycle_does(settings):
    fakes = Fakes([UNCHANGED])

    run.run_once(spark=None, settings=settings, log=fakes.log.append, data_tests=False, steps=fakes.steps())

    assert fakes.calls == ["topics", "bronze", "silver", "register", "gold"]


def test_the_gold_step_is_dbt_build_with_data_tests_and_dbt_run_without(monkeypatch, settings):
    commands: list[str] = []
    monkeypatch.setattr(run.gold, "build", lambda settings, quiet, unit_tests: commands.append(
        f"dbt build, unit tests {unit_tests}"))
    monkeypatch.setattr(run.gold, "refresh", lambda settings, quiet: commands.append("dbt run"))

    run.Steps().build_gold(settings, True)
    run.Steps().build_gold(settings, False)

    assert commands == ["dbt build, unit tests False", "dbt run"]
