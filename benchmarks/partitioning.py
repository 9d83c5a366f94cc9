"""Silver's clean tables partitioned by event_date (today's layout), not partitioned, or liquid-clustered by
event_date: Silver's full-refresh seconds, the tables' data files and bytes, and Trino queries filtered by one
date and by seven.

`python -m benchmarks.partitioning [--orders N] [--days D]` starts an embedded stack of its own, as
`python -m benchmarks run` does, and writes benchmarks/reports/partitioning-<date>-<machine>.json and .md;
`python -m benchmarks run --only partitioning` measures the same at the default sizes.

Untimed: one happy_path log of N orders created over D days of event time, replayed into Kafka and ingested
into Bronze once, and a warm-up Silver full refresh. Then, per round and layout (the order reversed every
other round): Silver's tables deleted (and dropped from Trino), and timed, a Silver full refresh into the
empty folder with the clean tables in that layout (clustering: plus the OPTIMIZE that clusters the rows,
timed apart). After each layout's refresh in the last round, each Trino query runs once to warm up, then
QUERY_RUNS times: the median latency, and Trino's splits and physical input bytes, which show the pruning
whatever the machine's noise. Every layout must give the queries the same answers.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import sys
import time
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from benchmarks.harness import Context
from pipeline.tables import ORDERS_CLEAN, PAYMENTS_CLEAN, SILVER_TABLES, Table

TITLE = "Silver's clean tables: partitioned by event_date vs not (vs clustered), Silver and Trino date filters"
ORDERS, QUICK_ORDERS = 100_000, 20_000
DAYS = 30
ROUNDS, QUICK_ROUNDS = 2, 1
QUERY_RUNS = 5
BASELINE = "partitioned"
# Each layout's clean tables: (partition_by, cluster_by). The first is tables.py's, the pipeline's default.
LAYOUTS = {
    "partitioned": (("event_date",), ()),
    "none": ((), ()),
    "clustered": ((), ("event_date",)),
}
CLEAN_TABLES = (ORDERS_CLEAN, PAYMENTS_CLEAN)
# name -> (table, summed column, how many days from the middle day of the log)
QUERIES = {
    "orders_clean, 1 day": (ORDERS_CLEAN, "total_amount", 1),
    "orders_clean, 7 days": (ORDERS_CLEAN, "total_amount", 7),
    "payments_clean, 1 day": (PAYMENTS_CLEAN, "amount", 1),
    "payments_clean, 7 days": (PAYMENTS_CLEAN, "amount", 7),
}


def layout_tables(layout: str) -> dict[Table, Table]:
    """The clean tables as Silver rebuilds them in `layout` (silver.job.run's `layouts`)."""
    partition_by, cluster_by = LAYOUTS[layout]
    return {table: replace(table, partition_by=partition_by, cluster_by=cluster_by) for table in CLEAN_TABLES}


def query_sql(table: Table, column: str, first_day: date, days: int) -> str:
    last_day = first_day + timedelta(days=days - 1)
    where = (f"event_date = DATE '{first_day}'" if days == 1
             else f"event_date BETWEEN DATE '{first_day}' AND DATE '{last_day}'")
    return f"SELECT count(*), sum({column}) FROM delta.{table.qualified} WHERE {where}"


def round_order(layouts: list[str], round_number: int) -> list[str]:
    """Every other round reversed, so that neither layout always runs first after a change of machine load."""
    return layouts if round_number % 2 == 0 else layouts[::-1]


def measure(ctx: Context) -> dict:
    from benchmarks import session
    from benchmarks.eventlogs import load, spread_log
    from pipeline import catalog
    from pipeline.bronze import job as bronze
    from pipeline.silver import job as silver
    from simulator.generator import DEFAULT_START

    settings = ctx.settings
    orders = ctx.options.get("orders") or (QUICK_ORDERS if ctx.quick else ORDERS)
    days = ctx.options.get("days") or DAYS
    rounds = ctx.options.get("rounds") or (QUICK_ROUNDS if ctx.quick else ROUNDS)
    layouts = list(ctx.options.get("layouts") or LAYOUTS)
    spark = session.spark(settings)

    path = spread_log(settings, ctx.work_dir, orders, days, log=ctx.log)
    ctx.log("    emptying the lakehouse, replaying the log into Kafka and ingesting Bronze (untimed) …")
    load(settings, spark, path)
    bronze.run_available_now(spark, settings)
    ctx.log("    warm-up Silver full refresh (untimed) …")
    silver.run(spark, settings, full_refresh=True)
    first_day = (DEFAULT_START + timedelta(days=days // 2)).date()

    results: dict[str, dict] = {layout: {"silver_seconds": [], "optimize_seconds": []} for layout in layouts}
    for round_number in range(rounds):
        for layout in round_order(layouts, round_number):
            _delete_silver(settings, spark)
            started = time.perf_counter()
            outcome = silver.run(spark, settings, full_refresh=True, layouts=layout_tables(layout))
            seconds = time.perf_counter() - started
            optimize_seconds = 0.0
            if LAYOUTS[layout][1]:  # clustering is applied by OPTIMIZE, not on write
                started = time.perf_counter()
                for table in CLEAN_TABLES:
                    _optimize(spark, table.uri(settings))
                optimize_seconds = time.perf_counter() - started
            ctx.log(f"    round {round_number + 1}, {layout}: Silver {seconds:.1f}s"
                    + (f" + OPTIMIZE {optimize_seconds:.1f}s" if optimize_seconds else ""))
            entry = results[layout]
            entry["silver_seconds"].append(seconds)
            entry["optimize_seconds"].append(optimize_seconds)
            entry["rows"] = {table: what.rows for table, what in outcome.items()}
            entry["tables"] = {table.name: _files(spark, table.uri(settings)) for table in CLEAN_TABLES}
            if round_number == rounds - 1:
                catalog.register_tables(settings)
                entry["queries"] = {name: _query(settings, query_sql(table, column, first_day, span))
                                    for name, (table, column, span) in QUERIES.items()}
                ctx.log("      Trino: " + ", ".join(f"{name} {query['median_ms']:.0f} ms ({query['splits']} splits)"
                                                    for name, query in entry["queries"].items()))
    failures = [f"{name}: {layout} answers {results[layout]['queries'][name]['answer']}, {layouts[0]} "
                f"{results[layouts[0]]['queries'][name]['answer']}"
                for layout in layouts[1:] for name in QUERIES
                if results[layout]["queries"][name]["answer"] != results[layouts[0]]["queries"][name]["answer"]]
    return {
        "scenario": "happy_path",
        "orders": orders,
        "days": days,
        "messages": _lines(path),
        "rounds": rounds,
        "query_runs": QUERY_RUNS,
        "first_day": first_day.isoformat(),
        "queries": {name: query_sql(table, column, first_day, span) for name, (table, column, span) in QUERIES.items()},
        "baseline": BASELINE if BASELINE in layouts else layouts[0],
        "layouts": results,
        "failures": failures,
    }


def _lines(path: Path) -> int:
    with path.open("rb") as log:
        return sum(1 for _ in log)


def _delete_silver(settings, spark) -> None:
    """Silver's tables gone from Trino (and its cached metadata) and from the lakehouse; Bronze stays."""
    from pipeline import catalog

    for table in SILVER_TABLES:
        catalog.query(settings, f"DROP TABLE IF EXISTS {catalog.CATALOG}.{table.qualified}")
    catalog.query(settings, f"CALL {catalog.CATALOG}.system.flush_metadata_cache()")
    shutil.rmtree(settings.lake_path / ORDERS_CLEAN.schema, ignore_errors=True)
    spark._jvm.org.apache.spark.sql.delta.DeltaLog.clearCache()


def _optimize(spark, uri: str) -> None:
    from delta.tables import DeltaTable

    DeltaTable.forPath(spark, uri).optimize().executeCompaction()


def _files(spark, uri: str) -> dict:
    from delta.tables import DeltaTable

    detail = DeltaTable.forPath(spark, uri).detail().first()
    return {"files": detail["numFiles"], "bytes": detail["sizeInBytes"]}


def _query(settings, sql: str) -> dict:
    """One warm-up run, then QUERY_RUNS timed ones; Trino's statistics are the last run's."""
    from pipeline import catalog

    connection = catalog.connect(settings)
    try:
        cursor = connection.cursor()
        cursor.execute(sql)
        cursor.fetchall()
        timings = []
        for _ in range(QUERY_RUNS):
            started = time.perf_counter()
            cursor.execute(sql)
            [answer] = cursor.fetchall()
            timings.append((time.perf_counter() - started) * 1000)
        stats = cursor.stats
    finally:
        connection.close()
    return {
        "median_ms": statistics.median(timings),
        "runs_ms": timings,
        "answer": [str(value) for value in answer],
        "splits": stats.get("totalSplits"),
        "physical_input_bytes": stats.get("physicalInputBytes"),
        "processed_rows": stats.get("processedRows"),
    }


def render(figures: dict, plots_dir: Path) -> str:
    layouts = figures["layouts"]
    baseline = figures["baseline"]

    def total(layout: str) -> float:
        entry = layouts[layout]
        return statistics.median(s + o for s, o in zip(entry["silver_seconds"], entry["optimize_seconds"]))

    silver = ["| layout | Silver full refresh s (median) | each round s | vs " + baseline + " | "
              + " | ".join(f"{table.name} files | {table.name} MiB" for table in CLEAN_TABLES) + " |",
              "|---|---:|---|---:|" + "---:|---:|" * len(CLEAN_TABLES)]
    for layout, entry in layouts.items():
        rounds = ", ".join(f"{s:.1f}" + (f" + {o:.1f} OPTIMIZE" if o else "")
                           for s, o in zip(entry["silver_seconds"], entry["optimize_seconds"]))
        silver.append(f"| {_layout_name(layout, baseline)} | {total(layout):.1f} | {rounds} | "
                      f"{total(layout) / total(baseline):.2f}x | "
                      + " | ".join(f"{entry['tables'][table.name]['files']:,} | "
                                   f"{entry['tables'][table.name]['bytes'] / 2**20:.1f}" for table in CLEAN_TABLES)
                      + " |")
    trino = ["| query | layout | median ms | vs " + baseline + " | splits | physical input KiB | rows read |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for name in figures["queries"]:
        base = layouts[baseline]["queries"][name]
        for layout, entry in layouts.items():
            query = entry["queries"][name]
            trino.append(f"| {name} | {_layout_name(layout, baseline)} | {query['median_ms']:.0f} | "
                         f"{query['median_ms'] / base['median_ms']:.2f}x | {query['splits']:,} | "
                         f"{query['physical_input_bytes'] / 1024:,.0f} | {query['processed_rows']:,} |")
    checks = ("Every layout gave each query the same answer."
              if not figures.get("failures") else "**Answers differ**: " + "; ".join(figures["failures"]))
    return "\n".join([
        f"{figures['orders']:,} happy_path orders ({figures['messages']:,} messages) created over "
        f"{figures['days']} days of event time, ingested into Bronze once. Silver is rebuilt from it into an "
        f"empty folder {figures['rounds']} time(s) per layout (after an untimed warm-up), only the clean tables' "
        "layout differing; clustered includes the OPTIMIZE that clusters the rows. Baseline: "
        f"{baseline}, the pipeline's layout.",
        "",
        *silver,
        "",
        f"Trino, each query once to warm up, then {figures['query_runs']} times (median); splits, physical "
        f"input bytes and rows read are Trino's figures for the last run. One day is {figures['first_day']}, "
        "the middle of the log, seven days start there; e.g. "
        f"`{next(iter(figures['queries'].values()))}`.",
        "",
        *trino,
        "",
        checks,
    ])


def _layout_name(layout: str, baseline: str) -> str:
    return f"{layout} (today's)" if layout == baseline else layout


def main(argv: list[str] | None = None) -> int:
    from benchmarks import runner
    from pipeline.settings import SettingsError
    from pipeline.stack.artifacts import ArtifactsMissing
    from pipeline.stack.java import JavaNotFound

    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.partitioning", description=__doc__.split("\n\n")[0].replace("\n", " "),
        epilog=f"Writes {runner.REPORTS_DIR.relative_to(runner.REPO_ROOT)}/partitioning-<date>-<machine>.json "
               "(the raw figures) and .md (the report). Timings on a machine shared with other work are noisy; "
               "Trino's splits and bytes are not.")
    parser.add_argument("--orders", type=int, default=ORDERS, help=f"orders in the event log (default {ORDERS:,})")
    parser.add_argument("--days", type=int, default=DAYS,
                        help=f"days of event time the orders are created over (default {DAYS})")
    parser.add_argument("--rounds", type=int, default=ROUNDS,
                        help=f"timed Silver full refreshes per layout (default {ROUNDS})")
    parser.add_argument("--layouts", nargs="+", choices=list(LAYOUTS), default=list(LAYOUTS),
                        help="the layouts to compare, in this order (default: all; the first is the baseline "
                             f"when {BASELINE} is not among them)")
    parser.add_argument("--home", type=Path, default=None,
                        help=f"LAKEHOUSE_HOME of the run (default {runner.DEFAULT_HOME.relative_to(runner.REPO_ROOT)}; "
                             "never the user's lakehouse)")
    args = parser.parse_args(argv)
    if args.orders < 1 or args.days < 1 or args.rounds < 1:
        parser.error("--orders, --days and --rounds must be at least 1")
    stem = f"partitioning-{runner.date_machine(datetime.now(timezone.utc), socket.gethostname())}"
    try:
        return runner.run(("partitioning",), False, args.home, " ".join(["python -m benchmarks.partitioning", *argv]),
                          log=runner.flushed, stem=stem,
                          options={"orders": args.orders, "days": args.days, "rounds": args.rounds,
                                   "layouts": args.layouts})
    except (ArtifactsMissing, JavaNotFound, SettingsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
