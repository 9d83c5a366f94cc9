"""`python -m harness scenario`: a scenario or an event log through the whole pipeline, reconciled.

Each run starts from empty topics and an empty lakehouse (the engines keep running), produces
the messages while recording them to an event log, runs the pipeline once, and compares what
Trino shows with the oracle's expectation for exactly those messages. The report goes to the
console and, as Markdown for a bug ticket, to LAKEHOUSE_HOME/reports/.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pyspark.sql import SparkSession

from harness import reconcile
from harness.reconcile import Reconciliation
from pipeline import lakehouse
from pipeline import run as pipeline_run
from pipeline.settings import Settings
from simulator import scenario as scenarios
from simulator.oracle import Expected
from simulator.play import run_produce, run_replay


@dataclass(frozen=True)
class Outcome:
    title: str
    expected: Expected
    result: Reconciliation
    event_log: Path
    report: Path

    @property
    def matches(self) -> bool:
        return self.result.matches


def run(spark: SparkSession, settings: Settings, name: str, orders: int | None = None, seed: int | None = None,
        log=print) -> Outcome:
    """Play scenario `name` (scenarios/<name>.yaml; orders and seed override its knobs) into an empty lakehouse."""
    scenario = scenarios.load(name)
    stamp = _stamp()
    event_log = settings.home / "logs" / f"{scenario.name}-{stamp}.jsonl"
    lakehouse.empty(settings, spark, log)
    expected, _ = run_produce(settings, orders, seed, scenario=scenario, record=event_log)
    log(f"  produced {expected.orders.produced:,} order and {expected.payments.produced:,} payment messages, "
        f"recorded in {event_log}")
    return _through_pipeline(spark, settings, f"scenario {scenario.name}", expected, event_log,
                             f"{scenario.name}-{stamp}", log)


def replay(spark: SparkSession, settings: Settings, event_log: Path, log=print) -> Outcome:
    """Produce a recorded event log into an empty lakehouse, in order and byte for byte."""
    lakehouse.empty(settings, spark, log)
    expected, _ = run_replay(settings, event_log)
    log(f"  replayed {expected.orders.produced + expected.payments.produced:,} messages from {event_log}")
    return _through_pipeline(spark, settings, f"replay of {event_log.name}", expected, event_log,
                             f"replay-{event_log.stem}-{_stamp()}", log)


def _through_pipeline(spark: SparkSession, settings: Settings, title: str, expected: Expected, event_log: Path,
                      report_name: str, log) -> Outcome:
    pipeline_run.run_once(spark, settings, log)
    result = reconcile.reconcile(settings, expected, [event_log])
    report = settings.home / "reports" / f"{report_name}.md"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(result.markdown(title))
    return Outcome(title, expected, result, event_log, report)


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
