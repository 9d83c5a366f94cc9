"""P3: catch-up, an empty lakehouse brought up to N events already in Kafka (Bronze -> Silver -> Gold), against
DuckDB computing the same Gold from the same event log in one SQL query.

Per size, untimed: write a happy_path log of exactly N messages, compute the oracle's Gold from it, empty the
topics and the lakehouse, replay the log into Kafka. Timed: one `run_once` (seconds per layer), and, in its own
process, the DuckDB query. Then the pipeline's Gold (read through Trino), DuckDB's and the oracle's are
compared minute by minute, to the cent. A warm-up cycle in the same Spark session comes first, untimed.
The lakehouse is left holding the largest size, for the incremental figure (see LAKEHOUSE_STATE).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from benchmarks import goldcheck, plots
from benchmarks.harness import Context

TITLE = "P3: catch-up of N events, Bronze -> Silver -> Gold, vs DuckDB on the same event log"
SIZES = (100_000, 300_000, 1_000_000)
QUICK_SIZES = (10_000, 30_000)
WARM_UP_MESSAGES = 2_000
LINEAR_WITHIN = 1.2  # per-event cost of the largest size over the smallest's
TARGET_EVENTS_PER_SECOND, TARGET_AT_EVENTS = 10_000, 1_000_000  # issue 9's catch-up target
LAKEHOUSE_STATE = "lakehouse-state.json"  # in the work dir: which log the lakehouse holds, exactly


def sizes(quick: bool) -> tuple[int, ...]:
    return QUICK_SIZES if quick else SIZES


def measure(ctx: Context) -> dict:
    from benchmarks import duckdb_gold, session
    from benchmarks.eventlogs import happy_path_log, in_child, load, oracle_gold, silent
    from harness.reconcile import gold_rows
    from pipeline.run import run_once

    settings = ctx.settings
    state_file = ctx.work_dir / LAKEHOUSE_STATE
    state_file.unlink(missing_ok=True)
    spark = session.spark(settings)

    ctx.log(f"    warm-up cycle of {WARM_UP_MESSAGES:,} messages (untimed) …")
    load(settings, spark, happy_path_log(settings, ctx.work_dir, WARM_UP_MESSAGES, log=ctx.log))
    run_once(spark, settings, log=silent)

    runs = []
    for size in sizes(ctx.quick):
        ctx.log(f"    {size:,} events:")
        path = happy_path_log(settings, ctx.work_dir, size, log=ctx.log)
        ctx.log("    oracle (untimed) …")
        expected = oracle_gold(settings, path)
        ctx.log("    DuckDB (timed, in a process of its own) …")
        duckdb_rows, duckdb_seconds = in_child(duckdb_gold.gold, path, settings.topic_order_events,
                                               settings.topic_payment_events)
        ctx.log(f"    DuckDB: {duckdb_seconds:.1f}s; emptying and replaying the log into Kafka (untimed) …")
        load(settings, spark, path)
        ctx.log("    run_once (timed):")
        started = time.perf_counter()
        timings = run_once(spark, settings, log=lambda line: ctx.log("    " + line))
        seconds = time.perf_counter() - started
        check = goldcheck.compare({"pipeline": gold_rows(settings), "DuckDB": duckdb_rows, "oracle": expected})
        ctx.log(f"    {size / seconds:,.0f} events/s end to end; Gold identical: {check['identical']}")
        runs.append({
            "events": size,
            "seconds": seconds,
            "layers": dict(timings.seconds),
            "events_per_second": size / seconds,
            "duckdb": {"seconds": duckdb_seconds, "events_per_second": size / duckdb_seconds},
            "gold_check": check,
        })
        state_file.write_text(json.dumps({"log": str(path), "events": size}) + "\n")
    small, large = runs[0], runs[-1]
    return {
        "scenario": "happy_path",
        "warm_up_messages": WARM_UP_MESSAGES,
        "runs": runs,
        "per_event_cost_ratio": (large["seconds"] / large["events"]) / (small["seconds"] / small["events"]),
        "linear_within": LINEAR_WITHIN,
        "target_events_per_second": TARGET_EVENTS_PER_SECOND,
        "target_at_events": TARGET_AT_EVENTS,
    }


def held_log(work_dir: Path) -> dict | None:
    """What the lakehouse holds when this figure left it: {"log": path, "events": N}, or None."""
    try:
        return json.loads((work_dir / LAKEHOUSE_STATE).read_text())
    except FileNotFoundError:
        return None


def render(figures: dict, plots_dir: Path) -> str:
    runs = figures["runs"]
    table = [
        "| events | bronze s | silver s | register s | gold s | total s | events/s | DuckDB s | DuckDB events/s "
        "| Gold: pipeline = DuckDB = oracle |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        layers = run["layers"]
        table.append(
            f"| {run['events']:,} | " + " | ".join(f"{layers.get(layer, 0.0):.1f}" for layer in plots.LAYER_COLOURS)
            + f" | {run['seconds']:.1f} | {run['events_per_second']:,.0f} | {run['duckdb']['seconds']:.1f} | "
            f"{run['duckdb']['events_per_second']:,.0f} | {'yes' if run['gold_check']['identical'] else '**no**'} |"
        )
    labels = [f"{run['events']:,}" for run in runs]
    layers_chart = plots.stacked_layers(plots_dir, "p3-catchup-seconds.png", "P3: catch-up seconds per layer",
                                        labels, [run["layers"] for run in runs],
                                        [run["duckdb"]["seconds"] for run in runs], "DuckDB, one query")
    target = figures["target_events_per_second"]
    rate_chart = plots.bars(plots_dir, "p3-catchup-rate.png", "P3: events/s end to end", "events/s",
                            [f"{who}, {label}" for label in labels for who in ("pipeline", "DuckDB")],
                            [value for run in runs
                             for value in (run["events_per_second"], run["duckdb"]["events_per_second"])],
                            [False, True] * len(runs), target, f"target {target:,}/s")
    ratio = figures["per_event_cost_ratio"]
    linear = "linear" if ratio <= figures["linear_within"] else "**not linear**"
    largest = runs[-1]
    if largest["events_per_second"] >= target:
        throughput = f"met ({largest['events_per_second']:,.0f})"
    else:
        throughput = (f"**missed** by {1 - largest['events_per_second'] / target:.0%} "
                      f"({largest['events_per_second']:,.0f})")
    if largest["events"] < figures["target_at_events"]:
        throughput += (f"; the target is set at {figures['target_at_events']:,} events, where fixed costs "
                       "weigh less")
    verdicts = [f"- {run['events']:,} events: " + goldcheck.verdict_markdown(run["gold_check"]) for run in runs]
    return "\n".join([
        f"{figures['scenario']} event logs of exactly N messages (the scenario played hour after hour, 2,000 "
        "orders an hour). Before each timed run the topics and the lakehouse are emptied and the log is replayed "
        "into Kafka; the timed part is one `run_once` (Bronze availableNow, Silver, registration in Trino, dbt "
        f"Gold), in a Spark session warmed by a {figures['warm_up_messages']:,}-message cycle. The baseline is "
        "DuckDB computing Gold from the same log in one SQL query (CONTRACT.md rules 1-5), in a process of "
        "its own.",
        "",
        *table,
        "",
        f"Per-event cost of {runs[-1]['events']:,} events over {runs[0]['events']:,}: **{ratio:.2f}x** ({linear}; "
        f"linear means <= {figures['linear_within']}). Target of {target:,} events/s at {largest['events']:,} "
        f"events: {throughput}.",
        "",
        "Gold, read back through Trino (`delta.gold.fct_sales_minute`), against DuckDB's and the oracle's:",
        "",
        *verdicts,
        "",
        layers_chart,
        "",
        rate_chart,
    ])
