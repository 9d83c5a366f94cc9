"""Simulator throughput on one core: event generation and the oracle, no Kafka involved.

Run: python benchmarks/bench_simulator.py [--orders N] [--seed S]
"""

from __future__ import annotations

import argparse
import time

from simulator.generator import generate
from simulator.oracle import reconcile

ORDER_TOPIC, PAYMENT_TOPIC = "orders.events", "payments.events"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    started = time.perf_counter()
    messages = generate(args.orders, args.seed, ORDER_TOPIC, PAYMENT_TOPIC)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    expected = reconcile(messages, ORDER_TOPIC, PAYMENT_TOPIC)
    checked = time.perf_counter() - started

    size = sum(len(m.value or b"") for m in messages)
    print(f"orders              {args.orders:>12,}")
    print(f"messages            {len(messages):>12,}  ({size / 2**20:,.1f} MiB of JSON)")
    print(f"generate            {len(messages) / generated:>12,.0f} messages/s  ({generated:.2f}s)")
    print(f"oracle              {len(messages) / checked:>12,.0f} messages/s  ({checked:.2f}s)")
    print(f"expected gold rows  {len(expected.gold):>12,}  gmv {expected.total_gmv}")


if __name__ == "__main__":
    main()
