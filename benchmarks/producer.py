"""P1: the simulator generating and sending, against a bare kafka-python loop sending the same messages
ready-made, through the same client with the same settings, on one core.

Also the simulator without Kafka: generation alone and the oracle. The messages go to topics of their own
(bench.orders, bench.payments), deleted afterwards, never to the pipeline's.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from benchmarks import plots
from benchmarks.harness import Context

TITLE = "P1: producer, simulator generate + send vs a bare producer loop"
BENCH_TOPICS = ("bench.orders", "bench.payments")
SCENARIO = "happy_path"
SEED = 1
ORDERS, QUICK_ORDERS = 20_000, 5_000
REPEAT, QUICK_REPEAT = 3, 2  # runs of each; the best is reported


def measure(ctx: Context) -> dict:
    from pipeline.topics import ensure_topics
    from simulator.oracle import expect
    from simulator.producer import produce
    from simulator.scenario import load

    orders, repeat = (QUICK_ORDERS, QUICK_REPEAT) if ctx.quick else (ORDERS, REPEAT)
    settings = replace(ctx.settings, topic_order_events=BENCH_TOPICS[0], topic_payment_events=BENCH_TOPICS[1])
    bootstrap = settings.kafka_bootstrap
    scenario = load(SCENARIO)
    ensure_topics(settings)
    with _one_core() as core:
        ready_made = scenario.messages(*BENCH_TOPICS, orders=orders, seed=SEED)
        produce(ready_made[:2_000], bootstrap, progress=False)  # warm-up: topics, leaders, connections
        records = [(m.topic, None if m.key is None else m.key.encode("utf-8"), m.value) for m in ready_made]
        ctx.log(f"    {len(ready_made):,} messages ({orders:,} orders), best of {repeat}, python on core {core}")
        generating = _best(repeat, lambda: scenario.messages(*BENCH_TOPICS, orders=orders, seed=SEED))
        checking = _best(repeat, lambda: expect(ready_made, *BENCH_TOPICS))
        simulating = _best(repeat, lambda: produce(scenario.messages(*BENCH_TOPICS, orders=orders, seed=SEED),
                                                   bootstrap, progress=False))
        bare = _best(repeat, lambda: _bare_loop(records, bootstrap))
    _delete_topics(bootstrap)
    count = len(ready_made)
    return {
        "scenario": SCENARIO, "orders": orders, "seed": SEED, "repeat": repeat, "messages": count,
        "mebibytes": sum(len(m.value or b"") for m in ready_made) / 2**20,
        "seconds": {"generate": generating, "oracle": checking, "simulator": simulating, "bare_loop": bare},
        "messages_per_second": {"generate": count / generating, "oracle": count / checking,
                                "simulator": count / simulating, "bare_loop": count / bare},
    }


def _bare_loop(records: list[tuple[str, bytes | None, bytes | None]], bootstrap: str) -> None:
    """What produce() does with nothing else: connect, send each record, wait for the acknowledgements, close."""
    from kafka import KafkaProducer

    from simulator.producer import PRODUCER_CONFIG

    producer = KafkaProducer(bootstrap_servers=bootstrap, **PRODUCER_CONFIG)
    for topic, key, value in records:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close(timeout=10)


def _best(repeat: int, run: Callable[[], object]) -> float:
    """The shortest of `repeat` runs, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


@contextmanager
def _one_core() -> Iterator[int]:
    """Pin this thread (and the threads it starts, such as the producer's) to one core, then undo it."""
    before = os.sched_getaffinity(0)
    core = min(before)
    os.sched_setaffinity(0, {core})
    try:
        yield core
    finally:
        os.sched_setaffinity(0, before)


def _delete_topics(bootstrap: str) -> None:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="lakehouse-bench")
    try:
        admin.delete_topics(list(BENCH_TOPICS))
    finally:
        admin.close()


def render(figures: dict, plots_dir: Path) -> str:
    rates, seconds = figures["messages_per_second"], figures["seconds"]
    rows = [
        ("generate only (no Kafka)", "generate"),
        ("oracle (ground truth, no Kafka)", "oracle"),
        ("simulator: generate + send", "simulator"),
        ("bare producer loop: send ready-made (baseline)", "bare_loop"),
    ]
    table = ["| what | messages/s | seconds |", "|---|---:|---:|"]
    table += [f"| {label} | {rates[key]:,.0f} | {seconds[key]:.2f} |" for label, key in rows]
    chart = plots.bars(plots_dir, "p1-producer.png", "P1: messages/s on one core", "messages/s",
                       [label for label, _ in rows], [rates[key] for _, key in rows],
                       [key == "bare_loop" for _, key in rows])
    share = seconds["bare_loop"] / seconds["simulator"]
    return "\n".join([
        f"{figures['messages']:,} messages ({figures['mebibytes']:.1f} MiB) of {figures['scenario']} "
        f"({figures['orders']:,} orders, seed {figures['seed']}); best of {figures['repeat']} runs each, "
        "the Python process pinned to one core. Both senders use kafka-python with the simulator's producer "
        "settings (acks=all, idempotent, linger 20 ms, 1 MiB batches).",
        "",
        *table,
        "",
        f"The simulator sends at **{share:.0%}** of the bare loop's rate (generation included).",
        "",
        chart,
    ])
