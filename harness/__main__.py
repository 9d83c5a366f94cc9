"""`python -m harness`: scenarios and event logs through the whole pipeline, reconciled with the oracle."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline import cli, locks
from pipeline.settings import Settings
from simulator import scenario as scenarios

if TYPE_CHECKING:  # harness.scenarios imports pyspark: only once the arguments are right
    from harness.scenarios import Outcome

DESCRIPTION = """\
Plays the simulator's scenarios, or recorded event logs, through the real pipeline (Kafka -> Bronze ->
Silver -> Gold in Trino) and compares every layer with the simulator's ground truth. Starts the
embedded stack when it is not running (see `python -m pipeline --help`).

  python -m harness demo                        from nothing: fetch, fresh stack, happy_path, checked
  python -m harness scenario list               the scenarios in scenarios/
  python -m harness scenario run late_events    empty lakehouse, scenario -> pipeline -> reconciliation
  python -m harness scenario replay LOG.jsonl   the same with a recorded event log
"""


def cmd_scenario(args: argparse.Namespace) -> int:
    if args.action == "list":
        for name in scenarios.available():
            print(f"  {name:18} {scenarios.load(name).description}")
        return 0
    if args.action == "run":
        if (problem := _unknown_scenario(args.target or "happy_path")) is not None:
            return cli.fail(problem)
    elif not args.target:
        return cli.fail("scenario replay needs the event log to replay: python -m harness scenario replay LOG.jsonl")
    elif not Path(args.target).is_file():
        return cli.fail(f"no event log at {args.target}: give the path of a JSON Lines log, e.g. one written by "
                        "`python -m simulator produce --record LOG.jsonl`")
    settings = Settings.from_env()
    with locks.writing(settings, *locks.LAYERS):
        return _scenario(settings, args)


def _scenario(settings: Settings, args: argparse.Namespace) -> int:
    from harness import scenarios as played
    from pipeline.spark import build_session
    from pipeline.stack import artifacts, supervisor

    artifacts.fetch(settings, log=lambda line: None)
    supervisor.up(settings, log=lambda line: None)
    spark = build_session(settings, f"lakehouse-scenario-{args.action}")
    try:
        if args.action == "run":
            outcome = played.run(spark, settings, args.target or "happy_path", orders=args.orders, seed=args.seed)
        else:
            outcome = played.replay(spark, settings, Path(args.target))
    finally:
        spark.stop()
    return report(outcome)


def report(outcome: Outcome) -> int:
    """Print the reconciliation of a played scenario; the exit code: 1 on any mismatch."""
    print("\n" + outcome.result.summary(outcome.title))
    print(f"\nreport: {outcome.report}\nevent log: {outcome.event_log}")
    return 0 if outcome.matches else 1


def cmd_demo(args: argparse.Namespace) -> int:
    if (problem := _unknown_scenario(args.scenario)) is not None:
        return cli.fail(problem)
    from harness.demo import demo  # Spark, dbt and the stack: only once the arguments are right

    settings = Settings.from_env()
    with locks.writing(settings, *locks.LAYERS):
        return demo(settings, args.scenario, orders=args.orders, seed=args.seed)


def _unknown_scenario(name: str) -> str | None:
    """Why `name` is not a scenario that loads, or None: checked before anything starts."""
    try:
        scenarios.load(name)
    except (ValueError, OSError) as error:
        return f"{error} (or give the path of a scenario .yaml file)"
    return None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1, e.g. 2000")
    return value


def _run_knobs(command: argparse.ArgumentParser) -> None:
    command.add_argument("--orders", type=_positive, metavar="N", help="orders to simulate (default: the scenario's)")
    command.add_argument("--seed", type=int, metavar="S", help="simulator seed (default: the scenario's)")


def parser() -> argparse.ArgumentParser:
    root = cli.Parser(prog="python -m harness", description=DESCRIPTION,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    scenario = commands.add_parser(
        "scenario", help="push a scenario or a recorded event log through the whole pipeline and reconcile",
        description="run NAME: empty the topics and the lakehouse, play scenarios/NAME.yaml into Kafka (recording "
                    "it to LAKEHOUSE_HOME/logs/), run the pipeline once and compare Bronze, Silver and Gold with the "
                    "oracle. replay LOG: the same with a recorded event log. The report goes to the console and "
                    "to LAKEHOUSE_HOME/reports/*.md; the exit code is 1 on any mismatch, 2 on a wrong argument. "
                    "Starts the stack if needed.")
    scenario.add_argument("action", choices=("list", "run", "replay"), help="list: the scenarios; run NAME; replay LOG")
    scenario.add_argument("target", nargs="?", help="the scenario name (run, default happy_path) or event log (replay)")
    _run_knobs(scenario)
    scenario.set_defaults(handler=cmd_scenario)

    demo = commands.add_parser(
        "demo", help="from nothing: fetch, fresh stack, a scenario through the pipeline, checked against the oracle")
    demo.add_argument("--scenario", default="happy_path", help="scenario file in scenarios/ (default happy_path)")
    _run_knobs(demo)
    demo.set_defaults(handler=cmd_demo)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    return cli.run(args.handler, args)


if __name__ == "__main__":
    sys.exit(main())
