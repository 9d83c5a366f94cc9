"""Command line: `python -m simulator produce|expected` makes events, sends them to Kafka, writes the expected Gold."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from pipeline.settings import Settings, SettingsError
from simulator.generator import DEFAULT_START
from simulator.oracle import Expected
from simulator.producer import ProducerError
from simulator.run import run_expected, run_produce


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings.from_env()
    try:
        if args.command == "produce":
            expected, path = run_produce(
                settings, args.orders, args.seed, args.start, dry_run=args.dry_run, expected_file=args.expected
            )
        else:
            expected, path = run_expected(settings, args.orders, args.seed, args.start, expected_file=args.expected)
    except (SettingsError, ProducerError) as error:
        print(f"simulator: {error}", file=sys.stderr)
        return 1
    sent = args.command == "produce" and not args.dry_run
    print(_summary(expected, path, settings.kafka_bootstrap if sent else None))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description=(
            "Generate a deterministic mix of order and payment events (see CONTRACT.md), send them to the "
            "topics named by TOPIC_ORDER_EVENTS / TOPIC_PAYMENT_EVENTS, and write the Gold the pipeline must "
            "produce from them as JSON. The same --orders/--seed/--start always give the same bytes."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    produce = commands.add_parser(
        "produce",
        help="generate, send to Kafka and write the expected file",
        description="Generate events, send them to Kafka (KAFKA_BOOTSTRAP or the running embedded stack) "
        "and write the expected-outcome JSON.",
    )
    expected = commands.add_parser(
        "expected",
        help="only write the expected file for what `produce` would send",
        description="Write the expected-outcome JSON without touching Kafka.",
    )
    for command in (produce, expected):
        command.add_argument("--orders", type=_positive, required=True, help="number of orders to generate")
        command.add_argument("--seed", type=int, required=True, help="random seed; same seed, same events")
        command.add_argument(
            "--start",
            type=_instant,
            default=None,
            help=f"earliest order creation time, ISO-8601 with a zone (default {DEFAULT_START:%Y-%m-%dT%H:%M:%SZ})",
        )
        command.add_argument(
            "--expected",
            type=Path,
            default=None,
            metavar="PATH",
            help="where to write the expected JSON (default $LAKEHOUSE_HOME/expected/orders<N>-seed<S>.json)",
        )
    produce.add_argument("--dry-run", action="store_true", help="skip Kafka; only generate and write the expected file")
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _instant(text: str) -> datetime:
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not ISO-8601, e.g. 2026-11-26T10:00:00Z") from None
    if instant.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone; add Z or an offset such as +01:00")
    return instant


def _summary(expected: Expected, path: Path, bootstrap: str | None) -> str:
    orders, payments = expected.orders, expected.payments
    where = f"Produced to Kafka at {bootstrap}" if bootstrap else "Generated (not sent to Kafka)"
    return (
        f"{where}: {orders.produced} messages on {orders.topic} ({orders.duplicates} redelivered) and "
        f"{payments.produced} on {payments.topic} ({payments.duplicates} redelivered). "
        f"Expected Gold: {len(expected.gold)} minute rows, {expected.total_paid_orders} fully paid orders, "
        f"total GMV {expected.total_gmv}. Expected outcome written to {path}"
    )


if __name__ == "__main__":
    sys.exit(main())
