"""`pipeline run`: Kafka -> Bronze -> Silver -> Gold, once or continuously."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQuery

from pipeline import catalog, gold, locks, topics
from pipeline.bronze import job as bronze
from pipeline.settings import Settings
from pipeline.silver import job as silver

# Silver + Gold cycles that may fail in a row (Trino or dbt down for a moment) before `run_forever` stops.
MAX_FAILED_CYCLES = 3


class RunStopped(RuntimeError):
    """`run_forever` stopped on a fault it cannot ride out; the message says which, and what to do."""


def _start_bronze_streams(spark: SparkSession, settings: Settings) -> list[StreamingQuery]:
    return bronze.start(spark, settings, available_now=False)


def _build_gold(settings: Settings, data_tests: bool) -> None:
    """`dbt build` (the models, then their data tests), or without `data_tests` `dbt run`."""
    if data_tests:
        gold.build(settings, quiet=True, unit_tests=False)
    else:
        gold.refresh(settings, quiet=True)


def _on_a_thread(build: Callable[[], None]) -> Future:
    """Start `build` on a thread of its own; the Future holds how it ended. A daemon thread: a second Ctrl-C
    while `run_forever` waits for a build to finish does not wait for it any longer."""
    outcome: Future = Future()

    def target() -> None:
        try:
            build()
        except BaseException as error:  # noqa: BLE001 - handed to whoever collects the build
            outcome.set_exception(error)
        else:
            outcome.set_result(None)

    threading.Thread(target=target, name="gold", daemon=True).start()
    return outcome


@dataclass(frozen=True)
class Steps:
    """What a run calls, one function a step: the defaults are the real steps; tests pass fakes."""

    ensure_topics: Callable[[Settings], None] = topics.ensure_topics
    ingest_bronze: Callable[[SparkSession, Settings], None] = bronze.run_available_now
    start_bronze: Callable[[SparkSession, Settings], list[StreamingQuery]] = _start_bronze_streams
    run_silver: Callable[[SparkSession, Settings], dict[str, silver.TableOutcome]] = silver.run
    register_tables: Callable[[Settings], list[str]] = catalog.register_tables
    build_gold: Callable[[Settings, bool], None] = _build_gold
    # How `run_forever` starts a cycle's Gold, which goes on while the next cycle's Silver runs.
    in_background: Callable[[Callable[[], None]], Future] = _on_a_thread
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


@dataclass
class RunTimings:
    seconds: dict[str, float] = field(default_factory=dict)

    def timed(self, step: str, action, log=print):
        started = time.monotonic()
        result = action()
        self.seconds[step] = time.monotonic() - started
        log(f"  {step}: {self.seconds[step]:.1f}s")
        return result


def _silver(spark: SparkSession, settings: Settings, steps: Steps, timings: RunTimings, log) -> bool:
    """One Silver step; returns whether it changed what Gold reads."""
    # Each layer's commits under its commit lock: `maintain` takes the same one around that layer's tables.
    with locks.committing(settings, "silver", log):
        outcome = timings.timed("silver", lambda: steps.run_silver(spark, settings), log)
    for table, what in outcome.items():
        log(f"    {table}: {what}")
    return silver.gold_input_changed(outcome)


def _gold(settings: Settings, steps: Steps, timings: RunTimings, log, data_tests: bool) -> None:
    """Trino registration, then Gold."""
    with locks.committing(settings, "gold", log):
        registered = timings.timed("register", lambda: steps.register_tables(settings), log)
        if registered:
            log(f"    registered in Trino: {', '.join(registered)}")
        timings.timed("gold", lambda: steps.build_gold(settings, data_tests), log)


def run_once(spark: SparkSession, settings: Settings, log=print, data_tests: bool = True,
             steps: Steps = Steps()) -> RunTimings:
    """Process everything available in Kafka through Bronze, Silver and Gold, then return. Gold is
    `dbt build`, the models and their data tests; without `data_tests`, `dbt run`, as a cycle of
    `run_forever` builds it."""
    timings = RunTimings()
    steps.ensure_topics(settings)
    timings.timed("bronze", lambda: steps.ingest_bronze(spark, settings), log)
    _silver(spark, settings, steps, timings, log)
    _gold(settings, steps, timings, log, data_tests=data_tests)
    return timings


def stream_bronze(spark: SparkSession, settings: Settings, log=print) -> None:
    """Streaming Bronze alone (Airflow's bronze_streams_raw), until a query dies: its error is raised.
    Each query resumes from its checkpoint, so a restart after a failure ingests from where it stopped."""
    topics.ensure_topics(settings)
    queries = bronze.start(spark, settings, available_now=False)
    log(f"  bronze streaming (trigger every {settings.bronze_trigger_seconds}s) until a query fails")
    try:
        spark.streams.awaitAnyTermination()
        for query in queries:
            if query.exception() is not None:
                raise query.exception()
        raise RuntimeError(f"a Bronze query stopped: {[q.name for q in queries if not q.isActive]}")
    finally:
        for query in queries:
            query.stop()


def run_forever(spark: SparkSession, settings: Settings, log=print, steps: Steps = Steps()) -> None:
    """Streaming Bronze; a Silver + Gold cycle starting every SILVER_INTERVAL_SECONDS (at once
    after a cycle that took longer); until Ctrl-C, which stops Bronze and returns. The cycles build
    Gold's models without their data tests, which read whole tables (`run --once` and `gold` run them),
    and only when Silver changed (and once at start, for whatever an earlier process left unbuilt): an
    idle pipeline does not keep Trino busy.

    A cycle's Gold builds in the background, in Trino, while the next cycle's Silver runs in Spark: a
    cycle lasts as long as its Silver step, and an event waits for one cycle less. Each build is
    collected (waited for) after the next Silver step, before another starts, so one builds at a time.

    A cycle that fails (Trino or dbt down for a moment) is logged on one line and retried in the next,
    with Gold due again, while Bronze streams on; a failed Gold build counts when it is collected.
    MAX_FAILED_CYCLES failed cycles in a row, or a Bronze query that died, stop the run: RunStopped says
    what failed and what to do. However the run ends, no Bronze query is left running and no Gold
    build is cut short; a restart resumes each query from its checkpoint."""
    steps.ensure_topics(settings)
    queries = steps.start_bronze(spark, settings)
    log(f"  bronze streaming (trigger every {settings.bronze_trigger_seconds}s); silver and gold every "
        f"{settings.silver_interval_seconds}s (Ctrl-C stops)")
    gold_due = True
    failed_steps: list[str] = []  # the failed step of each cycle since the last that succeeded
    building: Future | None = None  # the last cycle's Gold build, until it is collected
    try:
        while True:
            _raise_if_dead(queries)
            started = steps.clock()
            try:
                changed = _silver(spark, settings, steps, RunTimings(), log)
            except Exception as error:
                # Silver may have committed some of its tables before it failed.
                gold_due = True
                _cycle_failed(failed_steps, "silver", error, log)
            else:
                built, building = building, None
                gold_error = None if built is None else built.exception()
                if gold_error is not None:
                    # The last cycle's Gold failed: built again now, from this cycle's Silver.
                    gold_due = True
                    _cycle_failed(failed_steps, "gold", gold_error, log)
                else:
                    failed_steps = []
                if gold_due or changed:
                    building = steps.in_background(
                        lambda: _gold(settings, steps, RunTimings(), log, data_tests=False))
                    gold_due = False
                else:
                    log("  nothing new in Silver: Gold left as it is")
            steps.sleep(max(0.0, settings.silver_interval_seconds - (steps.clock() - started)))
    except KeyboardInterrupt:
        log("  stopping …")
    finally:
        for query in queries:
            query.stop()
        if building is not None and not building.done():
            log("  waiting for the Gold build under way to finish …")
            building.exception()


def _raise_if_dead(queries: list[StreamingQuery]) -> None:
    for query in queries:
        error = query.exception()
        if error is not None or not query.isActive:
            what = "stopped" if error is None else f"failed: {first_line(error)}"
            raise RunStopped(
                f"the Bronze query {query.name} {what}. The other Bronze queries are stopped too; once the cause "
                "is fixed, restarting `python -m pipeline run` resumes it from its checkpoint, with nothing lost or "
                "written twice") from error


def _cycle_failed(failed_steps: list[str], step: str, error: BaseException, log) -> None:
    """Log a cycle failed in `step`; raise RunStopped when it is the MAX_FAILED_CYCLES-th in a row."""
    failed_steps.append(step)
    count = len(failed_steps)
    if count < MAX_FAILED_CYCLES:
        log(f"  {step} failed: {first_line(error)}; retrying in the next cycle ({count} of {MAX_FAILED_CYCLES})")
        return
    log(f"  {step} failed: {first_line(error)} ({count} of {MAX_FAILED_CYCLES}); stopping …")
    raise RunStopped(
        f"the Silver + Gold cycle failed {count} times in a row ({', '.join(failed_steps)}), the last in {step}: "
        f"{first_line(error)}. Bronze is stopped too. Check the stack with `python -m pipeline stack status` and "
        "the log above; then restart `python -m pipeline run`: Bronze resumes from its checkpoints, Silver and "
        "Gold from what they last committed") from error


def first_line(error: BaseException) -> str:
    """The error on one line: the first line of a Spark or dbt error says what happened; a stack follows."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
