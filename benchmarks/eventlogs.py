"""The benchmarks' input: happy_path event logs of an exact size, new-event batches, their replay and their oracle.

Big logs are generated and folded by the oracle in a child process, so the driver's peak memory (reported by
the memory figure) is the pipeline's, not the generator's.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from pipeline.settings import Settings
from simulator.oracle import GoldRow

SCENARIO = "happy_path"
SEED = 11
# happy_path sends about 2.8 messages per order; a batch generates a few orders more than it needs.
MESSAGES_PER_ORDER = 2.5
# New-event batches happen a month after the logs' event time, in minutes of their own.
BATCH_START_AFTER = timedelta(days=30)

Result = TypeVar("Result")


def in_child(function: Callable[..., Result], *args: Any) -> Result:
    """Run `function(*args)` in a fresh Python process and return its result."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def happy_path_log(settings: Settings, work_dir: Path, messages: int, seed: int = SEED, log=print) -> Path:
    """The first `messages` messages of happy_path played hour after hour (2,000 orders an hour), as an event
    log for the settings' topics; written once and kept in `work_dir`."""
    name = f"{SCENARIO}-seed{seed}-{messages}-{settings.topic_order_events}-{settings.topic_payment_events}.jsonl"
    path = work_dir / "logs" / name
    if path.is_file():
        return path
    log(f"    writing a {messages:,}-message {SCENARIO} log …")
    partial = path.with_suffix(".partial")
    written = in_child(_write_happy_path, partial, messages, seed, settings.topic_order_events,
                       settings.topic_payment_events)
    if written != messages:
        raise RuntimeError(f"{SCENARIO} gave {written:,} messages, {messages:,} asked for")
    partial.replace(path)
    return path


def _write_happy_path(path: Path, messages: int, seed: int, order_topic: str, payment_topic: str) -> int:
    from simulator import eventlog, scenario

    stream = scenario.load(SCENARIO).endless(order_topic, payment_topic, seed=seed)
    return eventlog.write(path, itertools.islice(stream, messages))


def spread_log(settings: Settings, work_dir: Path, orders: int, days: int, seed: int = SEED, log=print) -> Path:
    """`orders` happy_path orders created over `days` days of event time (one window that long), with their
    payments, as an event log for the settings' topics; written once and kept in `work_dir`."""
    name = (f"{SCENARIO}-seed{seed}-{orders}orders-{days}days-{settings.topic_order_events}-"
            f"{settings.topic_payment_events}.jsonl")
    path = work_dir / "logs" / name
    if path.is_file():
        return path
    log(f"    writing a {SCENARIO} log of {orders:,} orders over {days} days …")
    partial = path.with_suffix(".partial")
    in_child(_write_spread, partial, orders, days, seed, settings.topic_order_events, settings.topic_payment_events)
    partial.replace(path)
    return path


def _write_spread(path: Path, orders: int, days: int, seed: int, order_topic: str, payment_topic: str) -> int:
    from dataclasses import replace

    from simulator import eventlog, scenario
    from simulator.generator import DEFAULT_START, generate

    knobs = replace(scenario.load(SCENARIO).knobs, window=timedelta(days=days))
    return eventlog.write(path, generate(orders, seed, order_topic, payment_topic, start=DEFAULT_START, knobs=knobs))


def new_events(settings: Settings, work_dir: Path, batch: int, messages: int) -> Path:
    """Batch number `batch` of `messages` new events: whole happy_path orders of their own (ids prefixed
    `n<batch>-`, event time a month after the logs'), so they add to any lakehouse state without touching it."""
    from simulator import eventlog, scenario
    from simulator.generator import DEFAULT_START
    from simulator.model import Message

    path = work_dir / "logs" / f"new-events-{batch}-{messages}-{settings.topic_order_events}-{settings.topic_payment_events}.jsonl"
    if path.is_file():
        return path
    plays = scenario.load(SCENARIO).messages(settings.topic_order_events, settings.topic_payment_events,
                                             orders=math.ceil(messages / MESSAGES_PER_ORDER), seed=1000 + batch,
                                             start=DEFAULT_START + BATCH_START_AFTER + batch * timedelta(hours=2))
    if len(plays) < messages:
        raise RuntimeError(f"a batch of {len(plays)} messages, {messages} asked for")
    prefix = f"n{batch}-"
    renamed = [
        Message(m.topic, prefix + m.key if m.key else m.key,
                m.value.replace(b'"o-', f'"{prefix}o-'.encode()).replace(b'"p-', f'"{prefix}p-'.encode()))
        for m in plays[:messages]
    ]
    partial = path.with_suffix(".partial")
    eventlog.write(partial, renamed)
    partial.replace(path)
    return path


def replay(settings: Settings, *paths: Path) -> int:
    """Send the logs' messages to Kafka in order, byte for byte; returns how many were sent."""
    from simulator import eventlog
    from simulator.producer import produce

    return produce(itertools.chain.from_iterable(eventlog.records(path) for path in paths),
                   settings.kafka_bootstrap, progress=False)


def load(settings: Settings, spark, *paths: Path) -> None:
    """Empty the topics and the lakehouse, then replay the logs into Kafka: the set-up of a timed run."""
    from pipeline import lakehouse

    lakehouse.empty(settings, spark, log=silent)
    replay(settings, *paths)


def silent(_line: str) -> None:
    """A log that keeps the set-up's lines out of the benchmark's progress."""


def oracle_gold(settings: Settings, *paths: Path) -> list[GoldRow]:
    """The oracle's Gold for the logs' messages, in order (computed in a child process)."""
    return in_child(_oracle_gold, paths, settings.topic_order_events, settings.topic_payment_events)


def _oracle_gold(paths: tuple[Path, ...], order_topic: str, payment_topic: str) -> list[GoldRow]:
    from simulator import eventlog
    from simulator.oracle import Oracle

    oracle = Oracle(order_topic, payment_topic)
    for path in paths:
        for message in eventlog.records(path):
            oracle.add(message)
    return oracle.expected().gold
