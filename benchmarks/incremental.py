"""Incremental cycle: the same batches of 1,000 new events, each produced to Kafka and then processed by one
cycle as `pipeline run` makes it (`run_once` without dbt's data tests, which read whole tables by design), on a lakehouse that already holds a small and a large Bronze. A cycle should cost what is new,
so the two should take about the same time (target: the large within 1.2x of the small).

Untimed: bringing the lakehouse to each state (the large one is the one P3 leaves, when P3 ran just before
in the same run; otherwise it is built here), one warm-up cycle on each state (a batch of its own: the first
cycles after a catch-up run code the JVM has not compiled yet) and producing each batch. Timed: each cycle,
per layer; the figure is the median of the cycles. Silver's size before the cycles is recorded: while it is
small, Silver's incremental steps run without whole-stage code generation (silver/job.py).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from benchmarks import plots
from benchmarks.harness import Context

NEW_EVENTS = 1_000
TITLE = f"Incremental cycle: {NEW_EVENTS:,} new events on a small vs a large Bronze"
CYCLES, QUICK_CYCLES = 3, 1
SMALL, QUICK_SMALL = 10_000, 5_000
WITHIN = 1.2


def measure(ctx: Context) -> dict:
    from benchmarks import catchup, session
    from benchmarks.eventlogs import happy_path_log, load, new_events, replay, silent
    from pipeline import objectstore
    from pipeline.run import run_once
    from pipeline.silver.job import silver_size_bytes

    settings = ctx.settings
    spark = session.spark(settings)
    cycles = QUICK_CYCLES if ctx.quick else CYCLES
    warm_up, *batches = [new_events(settings, ctx.work_dir, batch, NEW_EVENTS) for batch in range(cycles + 1)]
    large = catchup.sizes(ctx.quick)[-1]
    small = QUICK_SMALL if ctx.quick else SMALL
    states = []
    for size in (large, small):  # the large first: P3 may have left it in place
        held = catchup.held_log(ctx.work_dir)
        (ctx.work_dir / catchup.LAKEHOUSE_STATE).unlink(missing_ok=True)  # the cycles change what it holds
        reused = held is not None and held["events"] == size and _bronze_rows(spark, settings) == size
        if reused:
            ctx.log(f"    {size:,} events in Bronze: the lakehouse P3 left")
        else:
            ctx.log(f"    {size:,} events in Bronze: building it (untimed) …")
            load(settings, spark, happy_path_log(settings, ctx.work_dir, size, log=ctx.log))
            run_once(spark, settings, log=silent)
        replay(settings, warm_up)
        run_once(spark, settings, log=silent, data_tests=False)
        silver_bytes = silver_size_bytes(settings, objectstore.files(settings))
        ctx.log(f"    warmed up; Silver {silver_bytes / 2**20:,.1f} MiB" if silver_bytes is not None
                else "    warmed up; Silver's size unknown (no Delta checksum)")
        timed = []
        for number, batch in enumerate(batches, start=1):
            replay(settings, batch)
            started = time.perf_counter()
            timings = run_once(spark, settings, log=silent, data_tests=False)
            seconds = time.perf_counter() - started
            ctx.log(f"    cycle {number}: {seconds:.1f}s ("
                    + ", ".join(f"{layer} {s:.1f}" for layer, s in timings.seconds.items()) + ")")
            timed.append({"seconds": seconds, "layers": dict(timings.seconds)})
        states.append({
            "bronze_rows_before": size,
            "reused_from_catchup": reused,
            "silver_bytes": silver_bytes,
            "cycles": timed,
            "median": {"seconds": statistics.median(cycle["seconds"] for cycle in timed),
                       "layers": {layer: statistics.median(cycle["layers"][layer] for cycle in timed)
                                  for layer in timed[0]["layers"]}},
        })
    large_state, small_state = states
    return {
        "new_events_per_cycle": NEW_EVENTS,
        "cycles": cycles,
        "states": [small_state, large_state],
        "ratio": large_state["median"]["seconds"] / small_state["median"]["seconds"],
        "layer_ratios": {layer: large_state["median"]["layers"][layer] / small_state["median"]["layers"][layer]
                         for layer in small_state["median"]["layers"] if small_state["median"]["layers"][layer]},
        "within": WITHIN,
    }


def _bronze_rows(spark, settings) -> int:
    from pyspark.errors import AnalysisException

    from pipeline.tables import BRONZE_TABLES

    try:
        return sum(spark.read.format("delta").load(table.uri(settings)).count() for table in BRONZE_TABLES)
    except AnalysisException:  # no Bronze table: nothing to reuse
        return -1


def render(figures: dict, plots_dir: Path) -> str:
    states = figures["states"]
    layers = list(states[0]["median"]["layers"])
    table = ["| Bronze rows before | Silver MiB | " + " | ".join(f"{layer} s" for layer in layers)
             + " | cycle s (median) | each cycle s |",
             "|---:|---:|" + "---:|" * len(layers) + "---:|---|"]
    for state in states:
        median = state["median"]
        silver_bytes = state.get("silver_bytes")  # not in reports before it was recorded
        table.append(f"| {state['bronze_rows_before']:,} | "
                     + ("" if silver_bytes is None else f"{silver_bytes / 2**20:,.1f}") + " | "
                     + " | ".join(f"{median['layers'][layer]:.1f}" for layer in layers)
                     + f" | {median['seconds']:.1f} | "
                     + ", ".join(f"{cycle['seconds']:.1f}" for cycle in state["cycles"]) + " |")
    ratio = figures["ratio"]
    verdict = "within target" if ratio <= figures["within"] else "**over target**"
    chart = plots.stacked_layers(plots_dir, "incremental-cycle.png",
                                 f"One cycle of {figures['new_events_per_cycle']:,} new events (median)",
                                 [f"{state['bronze_rows_before']:,} rows in Bronze" for state in states],
                                 [state["median"]["layers"] for state in states])
    per_layer = ", ".join(f"{layer} {value:.2f}x" for layer, value in figures["layer_ratios"].items())
    return "\n".join([
        f"{figures['cycles']} cycles on each state; each cycle produces the same {figures['new_events_per_cycle']:,} "
        "new events (whole orders of their own, so they add to any state) and times one cycle as `pipeline run` "
        "makes it: Bronze (availableNow here), Silver, registration and `dbt run` (the models; `run --once` adds "
        "their data tests, which read whole tables by design); each "
        "column is its own median"
        + (", after one untimed warm-up cycle on each state. Silver MiB: its four tables before the timed cycles"
           if any("silver_bytes" in state for state in states) else "")
        # Reports of 2026-12-05 and before: incremental steps ran interpreted only below a size of Silver.
        + (f"; below {figures['interpreted_below_bytes'] / 2**20:,.0f} MiB its incremental steps ran without "
           "whole-stage code generation" if "interpreted_below_bytes" in figures else "")
        + ". The small state is the baseline.",
        "",
        *table,
        "",
        f"Large over small: **{ratio:.2f}x** ({verdict}: <= {figures['within']}x); per layer: {per_layer}.",
        "",
        chart,
    ])
