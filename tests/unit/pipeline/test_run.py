"""`pipeline run`'s continuous loop without engines: which cycles build Gold, how it rides out a failed cycle,
and how it stops (Ctrl-C, a dead Bronze query, failed cycles in a row) with no query left running."""

from __future__ import annotations

import functools
import threading
from concurrent.futures import Future
from dataclasses import replace

import pytest

from pipeline import run
from pipeline import spark as spark_session
from pipeline.__main__ import main
from pipeline.settings import Settings
from pipeline.silver import job as silver

CHANGED = {"silver.orders_clean": silver.TableOutcome(3, "+3 rows, 0 updated"),
           "silver.order_payments_enriched": silver.TableOutcome(2, "+2 rows, 0 updated")}
UNCHANGED = {"silver.orders_clean": silver.UP_TO_DATE, "silver.order_payments_enriched": silver.UP_TO_DATE}
# Quarantined messages only: nothing Gold reads changed.
QUARANTINED = {"silver.quarantine": silver.TableOutcome(4, "+4 rows"),
               "silver.order_payments_enriched": silver.UP_TO_DATE}
SILVER_SECONDS = 0.25
# Errors as the engines word them: what happened on the first line, a stack below it.
SILVER_ERROR = RuntimeError("[DELTA_CONCURRENT_APPEND] Files were added to silver.orders_clean by a concurrent update\n"
                            "\tat io.delta.exceptions.ConcurrentAppendException")
TRINO_DOWN = ConnectionError("`dbt run` failed with exit code 2: Trino at localhost:8080 does not answer\n"
                             "  Caused by: Connection refused")
QUERY_ERROR = RuntimeError("[STREAM_FAILED] Query [id = 7] terminated with exception: Timed out waiting for a node\n"
                           "JVM stacktrace: …")


class Query:
    """A Bronze streaming query: it runs until it is stopped (the stop is recorded in `calls`), or dies."""

    def __init__(self, name: str, calls: list[str]):
        self.name = name
        self.calls = calls
        self.isActive = True
        self.error: BaseException | None = None

    def exception(self):
        return self.error

    def stop(self) -> None:
        self.calls.append(f"stop {self.name}")
        self.isActive = False


class Fakes:
    """The steps of a run, scripted. Each Silver step returns the next of `silver_outcomes` or raises it (an
    exception), each Gold step raises the next of `gold_errors` while there are any (None: it succeeds), and
    once the Silver outcomes are all used the sleep after the cycle is a Ctrl-C. Records the steps called
    (`calls`, the queries' stops included), the sleeps and the log."""

    def __init__(self, silver_outcomes: list, gold_errors: list = ()):
        self.silver_outcomes = list(silver_outcomes)
        self.gold_errors = list(gold_errors)
        self.calls: list[str] = []
        self.queries = [Query("bronze_orders_raw", self.calls), Query("bronze_payments_raw", self.calls)]
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
            build_gold=self.build_gold,
            in_background=built_at_once,
            sleep=self.sleep,
            clock=lambda: self.now,
        )

    def run_silver(self, spark, settings) -> dict:
        self.calls.append("silver")
        self.now += SILVER_SECONDS
        outcome = self.silver_outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def build_gold(self, settings, data_tests: bool) -> None:
        self.calls.append("gold + data tests" if data_tests else "gold")
        error = self.gold_errors.pop(0) if self.gold_errors else None
        if error is not None:
            raise error

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        if not self.silver_outcomes:
            raise KeyboardInterrupt

    def cycles(self) -> list[str]:
        """The steps called after Bronze started."""
        return self.calls[self.calls.index("bronze streams") + 1:]


def built_at_once(build) -> Future:
    """A Gold build run to its end before the cycle goes on: the fakes' calls keep one order."""
    outcome = Future()
    try:
        build()
    except Exception as error:
        outcome.set_exception(error)
    else:
        outcome.set_result(None)
    return outcome


STOPS = ["stop bronze_orders_raw", "stop bronze_payments_raw"]


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.from_env({"LAKEHOUSE_HOME": str(tmp_path), "SILVER_INTERVAL_SECONDS": "1"})


def forever(settings: Settings, fakes: Fakes, steps: run.Steps | None = None) -> None:
    run.run_forever(spark=None, settings=settings, log=fakes.log.append, steps=steps or fakes.steps())


def failures(log: list[str]) -> list[str]:
    return [line for line in log if " failed: " in line]


def test_gold_is_built_on_the_first_cycle_and_then_only_after_silver_changed(settings):
    fakes = Fakes([UNCHANGED, UNCHANGED, CHANGED, QUARANTINED, CHANGED])

    forever(settings, fakes)

    assert fakes.calls[:2] == ["topics", "bronze streams"]
    assert fakes.cycles() == ["silver", "register", "gold",  # at start: whatever an earlier process left unbuilt
                              "silver",
                              "silver", "register", "gold",
                              "silver",
                              "silver", "register", "gold",
                              *STOPS]
    assert fakes.log.count("  nothing new in Silver: Gold left as it is") == 2
    # A cycle starts every SILVER_INTERVAL_SECONDS: the sleep is what the cycle left of it.
    assert fakes.slept == [1 - SILVER_SECONDS] * 5


def test_ctrl_c_in_the_sleep_stops_both_bronze_streams_and_returns(settings):
    fakes = Fakes([CHANGED])

    forever(settings, fakes)

    assert fakes.cycles() == ["silver", "register", "gold", *STOPS]
    assert fakes.log[-1] == "  stopping …"


def test_ctrl_c_in_a_cycle_stops_both_bronze_streams_and_returns(settings):
    fakes = Fakes([CHANGED, KeyboardInterrupt()])

    forever(settings, fakes)

    assert fakes.cycles() == ["silver", "register", "gold", "silver", *STOPS]
    assert fakes.log[-1] == "  stopping …"


def test_a_failed_silver_step_is_retried_in_the_next_cycle_while_bronze_streams_on(settings):
    fakes = Fakes([CHANGED, SILVER_ERROR, UNCHANGED, SILVER_ERROR, UNCHANGED])

    forever(settings, fakes)

    assert fakes.cycles() == ["silver", "register", "gold",
                              "silver",
                              # Silver may have committed some tables before it failed: Gold is due.
                              "silver", "register", "gold",
                              "silver",
                              "silver", "register", "gold",
                              *STOPS]
    line = ("  silver failed: [DELTA_CONCURRENT_APPEND] Files were added to silver.orders_clean by a concurrent "
            "update; retrying in the next cycle (1 of 3)")
    assert failures(fakes.log) == [line, line]  # the cycle between them succeeded: the count starts again
    assert fakes.slept == [1 - SILVER_SECONDS] * 5  # a failed cycle keeps the interval too


def test_a_failed_gold_step_is_retried_in_the_next_cycle_even_when_silver_is_unchanged(settings):
    fakes = Fakes([CHANGED, UNCHANGED, UNCHANGED], gold_errors=[TRINO_DOWN])

    forever(settings, fakes)

    assert fakes.cycles() == ["silver", "register", "gold",
                              "silver", "register", "gold",
                              "silver",
                              *STOPS]
    assert failures(fakes.log) == ["  gold failed: `dbt run` failed with exit code 2: Trino at localhost:8080 does "
                                   "not answer; retrying in the next cycle (1 of 3)"]


def test_three_failed_cycles_in_a_row_stop_bronze_and_say_what_to_do(settings):
    fakes = Fakes([CHANGED, SILVER_ERROR, SILVER_ERROR, SILVER_ERROR, CHANGED])

    with pytest.raises(run.RunStopped) as stopped:
        forever(settings, fakes)

    assert str(stopped.value) == (
        "the Silver + Gold cycle failed 3 times in a row (silver, silver, silver), the last in silver: "
        "[DELTA_CONCURRENT_APPEND] Files were added to silver.orders_clean by a concurrent update. Bronze is stopped "
        "too. Check the stack with `python -m pipeline stack status` and the log above; then restart "
        "`python -m pipeline run`: Bronze resumes from its checkpoints, Silver and Gold from what they last committed")
    assert fakes.cycles() == ["silver", "register", "gold", "silver", "silver", "silver", *STOPS]
    first_line = "  silver failed: [DELTA_CONCURRENT_APPEND] Files were added to silver.orders_clean by a concurrent update"
    assert failures(fakes.log) == [f"{first_line}; retrying in the next cycle (1 of 3)",
                                   f"{first_line}; retrying in the next cycle (2 of 3)",
                                   f"{first_line} (3 of 3); stopping …"]
    assert run.MAX_FAILED_CYCLES == 3


def test_a_cycles_gold_builds_on_its_own_thread_while_the_next_cycles_silver_runs(settings):
    fakes = Fakes([CHANGED, CHANGED, UNCHANGED])
    silver_started = [threading.Event() for _ in range(3)]
    builds: list[bool] = []  # per build: whether the next Silver step started while it was building

    def run_silver(spark, settings):
        silver_started[fakes.calls.count("silver")].set()
        return fakes.run_silver(spark, settings)

    def build_gold(settings, data_tests):
        fakes.calls.append("gold")
        builds.append(silver_started[len(builds) + 1].wait(timeout=10))  # a build in line would wait in vain

    forever(settings, fakes, replace(fakes.steps(), run_silver=run_silver, build_gold=build_gold,
                                     in_background=run.Steps().in_background))

    assert builds == [True, True]
    assert failures(fakes.log) == []


def test_ctrl_c_waits_for_the_gold_build_under_way(settings):
    fakes = Fakes([CHANGED])
    interrupted = threading.Event()

    def build_gold(settings, data_tests):
        interrupted.wait(timeout=10)
        fakes.calls.append("gold built")

    def sleep(seconds):
        interrupted.set()
        raise KeyboardInterrupt

    forever(settings, fakes, replace(fakes.steps(), build_gold=build_gold, sleep=sleep,
                                     in_background=run.Steps().in_background))

    cycles = fakes.cycles()
    assert cycles[-1] == "gold built"  # after the queries were stopped, before run_forever returned
    assert [step for step in cycles if step != "register"] == ["silver", *STOPS, "gold built"]
    said = [line for line in fakes.log if line.startswith("  stopping") or line.startswith("  waiting")]
    assert said == ["  stopping …", "  waiting for the Gold build under way to finish …"]


@pytest.mark.parametrize(("error", "said"), [
    (QUERY_ERROR, "failed: [STREAM_FAILED] Query [id = 7] terminated with exception: Timed out waiting for a node"),
    (None, "stopped"),  # ended without an error: stopped by someone else
])
def test_a_dead_bronze_query_stops_the_run_and_the_other_query(settings, error, said):
    fakes = Fakes([CHANGED, CHANGED])

    def sleep(seconds):  # the orders query dies between two cycles
        fakes.queries[0].error = error
        fakes.queries[0].isActive = False

    with pytest.raises(run.RunStopped) as stopped:
        forever(settings, fakes, replace(fakes.steps(), sleep=sleep))

    assert str(stopped.value) == (
        f"the Bronze query bronze_orders_raw {said}. The other Bronze queries are stopped too; once the cause is "
        "fixed, restarting `python -m pipeline run` resumes it from its checkpoint, with nothing lost or written twice")
    assert fakes.cycles() == ["silver", "register", "gold", *STOPS]


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


# -- `python -m pipeline run`: exit codes ------------------------------------------------------------------


class Session:
    stopped = False

    def stop(self) -> None:
        self.stopped = True


@pytest.fixture
def pipeline_run(monkeypatch, tmp_path):
    """`python -m pipeline run` over the fake steps (and a fake Spark session); returns its exit code."""
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    monkeypatch.setenv("SILVER_INTERVAL_SECONDS", "1")
    session = Session()
    monkeypatch.setattr(spark_session, "build_session", lambda settings, name: session)

    def pipeline_run(fakes: Fakes) -> int:
        monkeypatch.setattr(run, "run_forever", functools.partial(run.run_forever, steps=fakes.steps()))
        code = main(["run"])
        assert session.stopped
        return code

    return pipeline_run


def test_pipeline_run_exits_0_on_ctrl_c(pipeline_run, capsys):
    fakes = Fakes([CHANGED])

    assert pipeline_run(fakes) == 0

    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == "  stopping …"
    assert err == ""
    assert fakes.cycles()[-2:] == STOPS


def test_pipeline_run_exits_1_with_one_line_after_three_failed_cycles(pipeline_run, capsys):
    # A Gold build's failure counts when the build is collected, after the next cycle's Silver step.
    fakes = Fakes([CHANGED] * 5, gold_errors=[None, TRINO_DOWN, TRINO_DOWN, TRINO_DOWN])

    assert pipeline_run(fakes) == 1

    err = capsys.readouterr().err
    assert err.startswith("error: the Silver + Gold cycle failed 3 times in a row (gold, gold, gold), the last in "
                          "gold: `dbt run` failed with exit code 2: Trino at localhost:8080 does not answer. ")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert fakes.cycles()[-2:] == STOPS


def test_pipeline_run_exits_1_with_one_line_when_a_bronze_query_dies(pipeline_run, capsys):
    fakes = Fakes([CHANGED])
    fakes.queries[1].error = QUERY_ERROR

    assert pipeline_run(fakes) == 1

    err = capsys.readouterr().err
    assert err.startswith("error: the Bronze query bronze_payments_raw failed: [STREAM_FAILED] Query [id = 7] "
                          "terminated with exception: Timed out waiting for a node. ")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert fakes.cycles() == STOPS  # dead before the first cycle
