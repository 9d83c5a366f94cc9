"""Entry points the CLI and the pipeline share: generate, produce, and write the expected-outcome file."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.generator import DEFAULT_START, generate
from simulator.oracle import Expected, reconcile
from simulator.producer import produce

if TYPE_CHECKING:
    from pipeline.settings import Settings


def run_produce(
    settings: Settings,
    orders: int,
    seed: int,
    start: datetime | None = None,
    dry_run: bool = False,
    expected_file: Path | None = None,
) -> tuple[Expected, Path]:
    """Generate `orders` orders for `seed`, produce them to Kafka (unless `dry_run`), and write the expected file.

    The file goes to `expected_file`, by default `expected_path(...)` under the settings' home.
    """
    start = start or DEFAULT_START
    messages = generate(orders, seed, settings.topic_order_events, settings.topic_payment_events, start=start)
    expected = reconcile(messages, settings.topic_order_events, settings.topic_payment_events)
    if not dry_run:
        produce(messages, settings.kafka_bootstrap)
    return expected, _write(expected, expected_file or expected_path(settings, orders, seed, start))


def run_expected(
    settings: Settings, orders: int, seed: int, start: datetime | None = None, expected_file: Path | None = None
) -> tuple[Expected, Path]:
    """Only compute and write the expected file for what `run_produce` would send."""
    return run_produce(settings, orders, seed, start, dry_run=True, expected_file=expected_file)


def expected_path(settings: Settings, orders: int, seed: int, start: datetime | None = None) -> Path:
    name = f"orders{orders}-seed{seed}"
    # Another start shifts every timestamp, so its expectation must not overwrite the default run's file.
    if start is not None and start != DEFAULT_START:
        name += "-start" + start.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return settings.home / "expected" / f"{name}.json"


def _write(expected: Expected, path: Path) -> Path:
    # Written only after Kafka acknowledged everything, and renamed into place: a reader never sees a partial file.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(expected.to_json())
    partial.replace(path)
    return path
