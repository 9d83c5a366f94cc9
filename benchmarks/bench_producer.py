"""Producer throughput on one core: the simulator generating and sending, against a bare kafka-python loop
sending the same messages ready-made, through the same client with the same settings, in the same run.

Run: python benchmarks/bench_producer.py [--scenario NAME] [--orders N] [--seed S] [--repeat R]
Kafka: KAFKA_BOOTSTRAP when set, else the embedded stack (started when it is not running; stop it with
`python -m pipeline stack down`). The messages go to topics of their own (bench.orders, bench.payments),
never to the pipeline's.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import replace

from pipeline.settings import Settings
from pipeline.stack import supervisor
from pipeline.topics import ensure_topics
from simulator.producer import PRODUCER_CONFIG, produce
from simulator.scenario import Scenario, load

BENCH_TOPICS = ("bench.orders", "bench.payments")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="happy_path")
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is reported")
    args = parser.parse_args()

    core = _pin_to_one_core()
    settings = replace(Settings.from_env(), topic_order_events=BENCH_TOPICS[0], topic_payment_events=BENCH_TOPICS[1])
    bootstrap = _kafka(settings)
    ensure_topics(settings)
    scenario = load(args.scenario)
    ready_made = scenario.messages(*BENCH_TOPICS, orders=args.orders, seed=args.seed)
    produce(ready_made[:2_000], bootstrap, progress=False)  # warm-up: topics, leaders, connections

    generating = _best(args.repeat, lambda: scenario.messages(*BENCH_TOPICS, orders=args.orders, seed=args.seed))
    simulator = _best(args.repeat, lambda: _simulate_and_send(scenario, args.orders, args.seed, bootstrap))
    records = [(m.topic, None if m.key is None else m.key.encode("utf-8"), m.value) for m in ready_made]
    bare = _best(args.repeat, lambda: _bare_loop(records, bootstrap))

    count = len(ready_made)
    size = sum(len(message.value or b"") for message in ready_made)
    print(f"kafka               {bootstrap}  (python pinned to core {core})")
    print(f"scenario            {scenario.name}, {args.orders:,} orders, seed {args.seed}")
    print(f"messages            {count:>12,}  ({size / 2**20:,.1f} MiB)")
    print(f"generate only       {count / generating:>12,.0f} events/s  ({generating:.2f}s)")
    print(f"simulator           {count / simulator:>12,.0f} events/s  ({simulator:.2f}s: generate + send)")
    print(f"bare producer loop  {count / bare:>12,.0f} events/s  ({bare:.2f}s: send ready-made messages)")
    print(f"simulator / bare    {bare / simulator:>12.0%}")


def _simulate_and_send(scenario: Scenario, orders: int, seed: int, bootstrap: str) -> None:
    produce(scenario.messages(*BENCH_TOPICS, orders=orders, seed=seed), bootstrap, progress=False)


def _bare_loop(records: list[tuple[str, bytes | None, bytes | None]], bootstrap: str) -> None:
    """What produce() does with nothing else: connect, send each record, wait for the acknowledgements, close."""
    from kafka import KafkaProducer

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


def _kafka(settings: Settings) -> str:
    if not settings.kafka_bootstrap_override:
        print("KAFKA_BOOTSTRAP is not set: using the embedded stack")
        supervisor.up(settings)
    return settings.kafka_bootstrap


def _pin_to_one_core() -> int:
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


if __name__ == "__main__":
    main()
