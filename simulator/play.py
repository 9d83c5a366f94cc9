"""Playing a run: generate a scenario or read an event log, produce it to Kafka, and write the expected-outcome file."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

from simulator import eventlog
from simulator.generator import DEFAULT_START
from simulator.model import Message
from simulator.oracle import Expected, Oracle, expect
from simulator.pacing import Clock, Sleep, for_seconds, paced, reporting
from simulator.producer import produce
from simulator.scenario import Scenario, load
from simulator.target import Destination

DEFAULT_SCENARIO = "happy_path"


def run_produce(
    target: Destination,
    orders: int | None = None,
    seed: int | None = None,
    start: datetime | None = None,
    dry_run: bool = False,
    expected_file: Path | None = None,
    *,
    scenario: str | Scenario = DEFAULT_SCENARIO,
    record: Path | None = None,
    rate: float | None = None,
    duration: float | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> tuple[Expected, Path]:
    """Generate a scenario's messages, produce them to Kafka (unless `dry_run`), and write the expected file.

    `orders` and `seed` override the scenario's. With `duration` (seconds) the run is bounded by time
    instead of by orders: windows of the scenario's orders are generated as they are sent, and the
    expected outcome covers what was sent. `rate` caps messages per second; `record` writes every
    message sent to an event log (simulator/eventlog.py). The expected file goes to `expected_file`,
    by default `expected_path(...)` under the target's home.
    """
    chosen = load(scenario) if isinstance(scenario, str) else scenario
    topics = (target.topic_order_events, target.topic_payment_events)
    if duration is None:
        messages: Iterable[Message] = chosen.messages(*topics, orders=orders, seed=seed, start=start)
    elif orders is not None:
        raise ValueError("a run is bounded by orders or by a duration, not both")
    else:
        messages = chosen.endless(*topics, seed=seed, start=start)
    name = _run_name(chosen, orders, seed, start, duration)
    return _send(target, messages, expected_file or target.home / "expected" / f"{name}.json",
                 dry_run=dry_run, record=record, rate=rate, duration=duration, clock=clock, sleep=sleep)


def run_replay(
    target: Destination,
    log_path: Path,
    rate: float | None = None,
    dry_run: bool = False,
    expected_file: Path | None = None,
    *,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> tuple[Expected, Path]:
    """Produce the messages of an event log, in order and byte for byte, and write the expected file for them."""
    messages = eventlog.read(log_path)
    _check_topics(messages, target, log_path)
    return _send(target, messages, expected_file or replay_expected_path(target, log_path),
                 dry_run=dry_run, rate=rate, clock=clock, sleep=sleep)


def run_expected(
    target: Destination,
    orders: int | None = None,
    seed: int | None = None,
    start: datetime | None = None,
    expected_file: Path | None = None,
    *,
    scenario: str | Scenario = DEFAULT_SCENARIO,
    log: Path | None = None,
) -> tuple[Expected, Path]:
    """Only compute and write the expected file: for what `run_produce` would send, or for the event log `log`
    (then the scenario, orders, seed and start play no part)."""
    if log is None:
        return run_produce(target, orders, seed, start, dry_run=True, expected_file=expected_file, scenario=scenario)
    messages = eventlog.read(log)
    _check_topics(messages, target, log)
    expected = expect(messages, target.topic_order_events, target.topic_payment_events)
    return expected, _write(expected, expected_file or replay_expected_path(target, log))


def expected_path(
    target: Destination, orders: int, seed: int, start: datetime | None = None, scenario: str = DEFAULT_SCENARIO
) -> Path:
    """Where `run_produce` writes the expected file of a run bounded by orders."""
    return target.home / "expected" / f"{_name(scenario, f'orders{orders}', seed, start)}.json"


def replay_expected_path(target: Destination, log_path: Path) -> Path:
    return target.home / "expected" / f"replay-{log_path.stem}.json"


def _send(
    target: Destination,
    messages: Iterable[Message],
    expected_file: Path,
    dry_run: bool,
    rate: float | None,
    clock: Clock,
    sleep: Sleep,
    record: Path | None = None,
    duration: float | None = None,
) -> tuple[Expected, Path]:
    """Send (or, dry, only take) the messages at `rate` for at most `duration`; the oracle sees exactly those sent."""
    # Resolved first: with no Kafka to send to, nothing is recorded and no expected file written.
    bootstrap = None if dry_run else target.kafka_bootstrap
    oracle = Oracle(target.topic_order_events, target.topic_payment_events)
    with ExitStack() as resources:
        observers: list[Callable[[Message], None]] = [oracle.add]
        if record is not None:
            observers.append(resources.enter_context(eventlog.LogWriter(record)).append)
        outgoing = _observed(for_seconds(paced(messages, rate, clock, sleep), duration, clock), observers)
        if bootstrap is None:
            for _ in reporting(outgoing, "generated", clock):
                pass
        else:
            produce(outgoing, bootstrap, clock=clock)
    expected = oracle.expected()
    return expected, _write(expected, expected_file)


def _observed(messages: Iterable[Message], observers: list[Callable[[Message], None]]) -> Iterator[Message]:
    for message in messages:
        for observe in observers:
            observe(message)
        yield message


def _check_topics(messages: list[Message], target: Destination, log_path: Path) -> None:
    expected = {target.topic_order_events, target.topic_payment_events}
    foreign = sorted({message.topic for message in messages} - expected)
    if foreign:
        raise ValueError(
            f"{log_path} holds messages for topics {foreign}; this run sends to {sorted(expected)}: "
            "set TOPIC_ORDER_EVENTS and TOPIC_PAYMENT_EVENTS to the log's topics"
        )


def _run_name(
    scenario: Scenario, orders: int | None, seed: int | None, start: datetime | None, duration: float | None
) -> str:
    bound = f"{duration:g}s" if duration is not None else f"orders{scenario.orders if orders is None else orders}"
    return _name(scenario.name, bound, scenario.seed if seed is None else seed, start)


def _name(scenario: str, bound: str, seed: int, start: datetime | None) -> str:
    # The default scenario keeps its short name, which the demo and the tests have always used.
    name = f"{bound}-seed{seed}" if scenario == DEFAULT_SCENARIO else f"{scenario}-{bound}-seed{seed}"
    # Another start shifts every timestamp, so its expectation must not overwrite the default run's file.
    if start is not None and start != DEFAULT_START:
        name += "-start" + start.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return name


def _write(expected: Expected, path: Path) -> Path:
    # Written only after Kafka acknowledged everything, and renamed into place: a reader never sees a partial file.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(expected.to_json())
    partial.replace(path)
    return path
