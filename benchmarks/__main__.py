"""`python -m benchmarks run [--quick] [--only NAME ...] [--home DIR]` and `python -m benchmarks render JSON`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from benchmarks import runner
    from pipeline.settings import SettingsError
    from pipeline.stack.artifacts import ArtifactsMissing
    from pipeline.stack.java import JavaNotFound

    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run", help="start an embedded stack of its own, measure the figures, write the JSON and the report",
        description=f"Measure {', '.join(runner.FIGURES)} (in that order) on an embedded stack in a home of "
                    f"its own, write {runner.REPORTS_DIR.relative_to(runner.REPO_ROOT)}/<date>-<machine>.json "
                    "and render <date>-<machine>.md with its plots in <date>-<machine>/ (a quick run's name ends "
                    "in -quick, one of some figures only in -only-<names>; a later run of the same day and kind adds "
                    "-2, -3 …, never replacing an earlier report). The stack is stopped at the end.")
    run.add_argument("--quick", action="store_true", help="small sizes and short windows: all under 5 minutes")
    run.add_argument("--only", nargs="+", metavar="NAME", choices=runner.FIGURES + runner.EXTRA_FIGURES,
                     help=f"only these figures (of {', '.join(runner.FIGURES)}, or "
                          f"{', '.join(runner.EXTRA_FIGURES)}, which only run when named: the soak takes over "
                          "20 minutes, --quick 2), in the usual order")
    run.add_argument("--home", type=Path, default=None,
                     help=f"LAKEHOUSE_HOME of the run (default {runner.DEFAULT_HOME.relative_to(runner.REPO_ROOT)}; "
                          "never the user's lakehouse)")
    render = commands.add_parser("render", help="render the report of a kept JSON again (nothing is measured)")
    render.add_argument("json", type=Path, help="a run's raw figures, benchmarks/reports/<date>-<machine>.json")
    args = parser.parse_args(argv)

    if args.command == "render":
        from benchmarks import report

        if not args.json.is_file():
            print(f"error: {args.json} is not a file; reports are in {runner.REPORTS_DIR}", file=sys.stderr)
            return 2
        try:
            print(f"report: {report.render_file(args.json)}")
        except report.RenderFailed as error:
            print(f"report written with errors: {error}", file=sys.stderr)
            return 1
        return 0
    names = (tuple(name for name in runner.FIGURES + runner.EXTRA_FIGURES if name in args.only) if args.only
             else runner.FIGURES)
    try:
        return runner.run(names, args.quick, args.home, runner.command_line(argv), log=runner.flushed)
    except (runner.FigureMissing, ArtifactsMissing, JavaNotFound, SettingsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
