"""`pipeline run`: Kafka -> Bronze -> Silver -> Gold, once or continuously."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pyspark.sql import SparkSession

from pipeline import catalog, gold, topics
from pipeline.bronze import job as bronze
from pipeline.settings import Settings
from pipeline.silver import job as silver


@dataclass
class RunTimings:
    seconds: dict[str, float] = field(default_factory=dict)

    def timed(self, step: str, action, log=print):
        started = time.monotonic()
        result = action()
        self.seconds[step] = time.monotonic() - started
        log(f"  {step}: {self.seconds[step]:.1f}s")
        return result


def _silver_and_gold(spark: SparkSession, settings: Settings, timings: RunTimings, log, data_tests: bool,
                     gold_due: bool = True) -> bool:
    """One Silver step, then Trino registration and Gold, unless the step left what Gold reads as it
    was and Gold is not `gold_due` (already built from it). Returns whether Gold was built."""
    outcome = timings.timed("silver", lambda: silver.run(spark, settings), log)
    for table, what in outcome.items():
        log(f"    {table}: {what}")
    if not gold_due and not silver.gold_input_changed(outcome):
        log("  nothing new in Silver: Gold left as it is")
        return False
    registered = timings.timed("register", lambda: catalog.register_tables(settings), log)
    if registered:
        log(f"    registered in Trino: {', '.join(registered)}")
    if data_tests:
        timings.timed("gold", lambda: gold.build(settings, quiet=True, unit_tests=False), log)
    else:
        timings.timed("gold", lambda: gold.refresh(settings, quiet=True), log)
    return True


def run_once(spark: SparkSession, settings: Settings, log=print, data_tests: bool = True) -> RunTimings:
    """Process everything available in Kafka through Bronze, Silver and Gold, then return. Gold is
    `dbt build`, the models and their data tests; without `data_tests`, `dbt run`, as a cycle of
    `run_forever` builds it."""
    timings = RunTimings()
    topics.ensure_topics(settings)
    timings.timed("bronze", lambda: bronze.run_available_now(spark, settings), log)
    _silver_and_gold(spark, settings, timings, log, data_tests=data_tests)
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


def run_forever(spark: SparkSession, settings: Settings, log=print) -> None:
    """Streaming Bronze; a Silver + Gold cycle starting every SILVER_INTERVAL_SECONDS (at once
    after a cycle that took longer); until interrupted. The cycles build Gold's models without
    their data tests, which read whole tables (`run --once` and `gold` run them), and only when
    Silver changed (and once at start, for whatever an earlier process left unbuilt): an idle
    pipeline does not keep Trino busy."""
    topics.ensure_topics(settings)
    queries = bronze.start(spark, settings, available_now=False)
    log(f"  bronze streaming (trigger every {settings.bronze_trigger_seconds}s); silver and gold every "
        f"{settings.silver_interval_seconds}s (Ctrl-C stops)")
    gold_due = True
    try:
        while True:
            for query in queries:
                if query.exception() is not None:
                    raise query.exception()
            started = time.monotonic()
            if _silver_and_gold(spark, settings, RunTimings(), log, data_tests=False, gold_due=gold_due):
                gold_due = False
            time.sleep(max(0.0, settings.silver_interval_seconds - (time.monotonic() - started)))
    except KeyboardInterrupt:
        log("  stopping …")
    finally:
        for query in queries:
            query.stop()
