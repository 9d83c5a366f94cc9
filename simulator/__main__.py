"""Command line: `python -m simulator produce|replay|expected` sends scenario events or a recorded log to Kafka
and writes the Gold the pipeline must produce from them."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from simulator.generator import DEFAULT_START
from simulator.oracle import Expected
from simulator.producer import ProducerError
from simulator.play import DEFAULT_SCENARIO, run_expected, run_produce, run_replay
from simulator.scenario import available
from simulator.target import Destination, Target

EXPECTED_HELP = "where to write the expected JSON (default: a file named after the run under $LAKEHOUSE_HOME/expected/)"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "expected" and args.log is not None and _scenario_given(args):
        parser.error("expected --log computes the outcome of the log alone: leave out --scenario, --orders, "
                     "--seed and --start")
    target = Target.from_env(bootstrap=getattr(args, "bootstrap", None) or "")
    try:
        expected, path = _run(args, target)
    except (ProducerError, ValueError, OSError) as error:
        print(f"simulator: {error}", file=sys.stderr)
        return 1
    sent = args.command in ("produce", "replay") and not args.dry_run
    print(_summary(expected, path, target.kafka_bootstrap if sent else None))
    return 0


def _run(args: argparse.Namespace, target: Destination) -> tuple[Expected, Path]:
    if args.command == "replay":
        return run_replay(target, args.log, rate=args.rate, dry_run=args.dry_run, expected_file=args.expected)
    if args.command == "expected":
        if args.log is not None:
            return run_expected(target, expected_file=args.expected, log=args.log)
        return run_expected(target, args.orders, args.seed, args.start, args.expected, scenario=args.scenario)
    return run_produce(
        target,
        args.orders,
        args.seed,
        args.start,
        dry_run=args.dry_run,
        expected_file=args.expected,
        scenario=args.scenario,
        record=args.record,
        rate=args.rate,
        duration=args.duration,
    )


def _scenario_given(args: argparse.Namespace) -> bool:
    return args.scenario != DEFAULT_SCENARIO or any(value is not None for value in (args.orders, args.seed, args.start))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description=(
            "Generate a deterministic mix of order and payment events (see CONTRACT.md) from a scenario in "
            "scenarios/, send them to the topics named by TOPIC_ORDER_EVENTS / TOPIC_PAYMENT_EVENTS, and write "
            "the Gold the pipeline must produce from them as JSON. The same scenario, --orders, --seed and "
            "--start always give the same bytes; a recorded event log replays them exactly."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    produce = commands.add_parser(
        "produce",
        help="generate a scenario, send it to Kafka and write the expected file",
        description="Generate a scenario's events, send them to Kafka (KAFKA_BOOTSTRAP or the running embedded "
        "stack) and write the expected-outcome JSON. A run is bounded by orders (the scenario's, or --orders) "
        "or by --duration.",
    )
    expected = commands.add_parser(
        "expected",
        help="only write the expected file, for what `produce` would send or for an event log",
        description="Write the expected-outcome JSON without touching Kafka: for a scenario run, or with --log "
        "for the messages of an event log.",
    )
    replay = commands.add_parser(
        "replay",
        help="send a recorded event log to Kafka, in order and byte for byte, and write its expected file",
        description="Send every message of an event log (JSON Lines written by `produce --record`) to the topic "
        "it names, in the log's order, and write the expected outcome the oracle computes from the log.",
    )
    for command in (produce, expected):
        _scenario_arguments(command)
    produce.add_argument(
        "--duration",
        type=_positive_number,
        metavar="SECONDS",
        help="send for this long instead of a number of orders (not with --orders): the scenario's orders "
        "repeat window after window of event time, generated as they are sent; the expected file covers what "
        "was sent",
    )
    produce.add_argument("--record", type=Path, metavar="LOG", help="also write every message sent to this event log")
    replay.add_argument("log", type=Path, metavar="LOG", help="the event log to send (JSON Lines, see README)")
    expected.add_argument("--log", type=Path, metavar="LOG", help="compute the expected outcome of this event log")
    for command in (produce, replay):
        command.add_argument(
            "--rate", type=_positive_number, metavar="N", help="send at most N messages per second (default: no limit)"
        )
        command.add_argument("--dry-run", action="store_true", help="skip Kafka; only write the expected file")
        command.add_argument("--bootstrap", metavar="HOST:PORT",
                             help="the Kafka to send to (default: KAFKA_BOOTSTRAP, else the running embedded stack's)")
    for command in (produce, expected, replay):
        command.add_argument("--expected", type=Path, default=None, metavar="PATH", help=EXPECTED_HELP)
    return parser


def _scenario_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--scenario",
        default=DEFAULT_SCENARIO,
        metavar="NAME",
        help=f"a scenario of scenarios/ ({', '.join(available())}) or a path to a .yaml file "
        f"(default {DEFAULT_SCENARIO})",
    )
    command.add_argument("--orders", type=_positive, metavar="N", help="number of orders (default: the scenario's)")
    command.add_argument(
        "--seed", type=int, metavar="S", help="random seed; same seed, same events (default: the scenario's)"
    )
    command.add_argument(
        "--start",
        type=_instant,
        default=None,
        metavar="TIME",
        help=f"earliest order creation time, ISO-8601 with a zone (default {DEFAULT_START:%Y-%m-%dT%H:%M:%SZ})",
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_number(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be above 0")
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
        f"{where}: {orders.produced} messages on {orders.topic} ({orders.duplicates} redelivered, "
        f"{orders.quarantined} malformed) and {payments.produced} on {payments.topic} ({payments.duplicates} "
        f"redelivered, {payments.quarantined} malformed). "
        f"Expected Gold: {len(expected.gold)} minute rows, {expected.total_paid_orders} fully paid orders, "
        f"total GMV {expected.total_gmv}. Expected outcome written to {path}"
    )


if __name__ == "__main__":
    sys.exit(main())
