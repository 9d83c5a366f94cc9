"""Soak: `python -m pipeline run` for 20 minutes at a steady rate (--quick: 2 minutes). Does anything grow that
should not?

Set-up as P4 (empty topics and lakehouse, `pipeline run` as a child process, a warm-up marker through to Gold),
then the simulator sends the mixed scenario at RATE events/s for the whole window while a sampler reads, every
SAMPLE_EVERY_SECONDS:

- `pipeline lag`: Kafka -> Bronze and Bronze -> Silver backlogs in messages, Silver -> Gold in seconds;
- the RSS of every JVM (Kafka, Trino, the pipeline's Spark driver) and of the pipeline's Python process;
- the number of data files in each Delta table of the lakehouse (what OPTIMIZE would have to compact).

Then producing stops, the pipeline catches up, and Gold (with Bronze, clean and quarantined per topic) must
equal the oracle of everything sent. The verdicts compare the last third of the window with the middle third
(the first third is warm-up): the Kafka backlog must not grow, and no RSS may grow by more than GROWTH_ALLOWED.
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks import eventlogs, goldcheck, plots
from benchmarks.freshness import (active_spark, catch_up, check_alive, check_gold, lag_summary, start_pipeline,
                                  stop_pipeline, warm_up)
from benchmarks.harness import Context
from benchmarks.memory import memory_of, spark_driver_pid
from benchmarks.sampling import PeriodicSampler
from pipeline import lag, lakehouse
from pipeline.settings import Settings
from pipeline.tables import BRONZE_TABLES, SILVER_TABLES
from simulator.play import run_produce

TITLE = "Soak: continuous `pipeline run` at a steady rate (lag, RSS, Delta files over time; Gold = oracle)"
RATE = 200
SECONDS, QUICK_SECONDS = 1200, 120
SAMPLE_EVERY_SECONDS, QUICK_SAMPLE_EVERY_SECONDS = 30, 10
CATCH_UP_TIMEOUT_SECONDS = 900
# Allowed RSS growth from the middle third of the window to the last: JVM heaps breathe with GC.
GROWTH_ALLOWED = 0.10


def measure(ctx: Context) -> dict:
    settings = ctx.settings
    seconds = QUICK_SECONDS if ctx.quick else SECONDS
    work = ctx.work_dir / "soak"
    work.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    files = {name: work / f"{stamp}{suffix}" for name, suffix in (
        ("event_log", "-load.jsonl"), ("warm_up_log", "-warm-up.jsonl"), ("marker_log", "-markers.jsonl"),
        ("pipeline_log", "-pipeline.log"), ("reconciliation", "-reconciliation.md"))}
    ctx.log("   emptying the topics and the lakehouse, starting `python -m pipeline run`")
    lakehouse.empty(settings, active_spark(), log=eventlogs.silent)
    pipeline = start_pipeline(settings, files["pipeline_log"])
    figures: dict = {"rate": RATE, "seconds": seconds, "files": {name: str(path) for name, path in files.items()}}
    sampler = soak_sampler(settings, pipeline.pid, QUICK_SAMPLE_EVERY_SECONDS if ctx.quick else SAMPLE_EVERY_SECONDS)
    try:
        figures["ready_seconds"] = warm_up(settings, pipeline, files["warm_up_log"], files["pipeline_log"])
        ctx.log(f"   ready after {figures['ready_seconds']:.0f}s; producing {RATE:,} events/s for {seconds:g}s")
        sampler.start()
        started = time.monotonic()
        run_produce(settings, scenario="mixed", rate=RATE, duration=seconds, record=files["event_log"])
        figures["load_seconds"] = time.monotonic() - started
        sampler.mark("load stopped")
        check_alive(pipeline, files["pipeline_log"])
        ctx.log(f"   load stopped after {figures['load_seconds']:.0f}s; waiting for the pipeline to catch up")
        files["marker_log"].touch()
        figures["catch_up_seconds"] = catch_up(settings, pipeline, files["marker_log"], CATCH_UP_TIMEOUT_SECONDS,
                                                files["pipeline_log"])
        sampler.stop()
        figures["check"] = check_gold(settings, pipeline, (files["warm_up_log"], files["event_log"]),
                                      files["reconciliation"], retry=figures["catch_up_seconds"] is not None)
    finally:
        sampler.stop()
        figures["stop"] = stop_pipeline(pipeline)
    figures["sent"] = sum(1 for _ in files["event_log"].open()) if files["event_log"].is_file() else 0
    figures["samples"] = sampler.samples
    figures["verdicts"] = verdicts(sampler.samples, figures["load_seconds"])
    figures["failures"] = [verdict for verdict in figures["verdicts"] if verdict.startswith("FAIL")]
    if not figures["check"]["matches"]:
        figures["failures"].append("FAIL: Gold differs from the oracle of everything sent")
    for verdict in figures["verdicts"]:
        ctx.log(f"   {verdict}")
    return figures


def soak_sampler(settings: Settings, pipeline_pid: int, every: float) -> PeriodicSampler:
    """Lag, RSS and Delta file counts every `every` seconds. RSS and files are read even when the lag is not."""

    def read() -> dict:
        sample: dict = {"rss_mib": _rss(settings, pipeline_pid), "delta_files": delta_files(settings)}
        try:
            sample.update(lag_summary(lag.measure(settings)))
        except Exception as error:  # noqa: BLE001 -- a missed reading is shown as such, not a failed run
            sample["error"] = f"{type(error).__name__}: {error}"
        return sample

    return PeriodicSampler(read, every, "soak-sampler")


def _rss(settings: Settings, pipeline_pid: int) -> dict[str, float | None]:
    state = settings.state_file.read_text() if settings.state_file.is_file() else "{}"
    services = json.loads(state)
    pids = {"Kafka JVM": services.get("kafka", {}).get("pid"), "Trino JVM": services.get("trino", {}).get("pid"),
            "Spark driver JVM": spark_driver_pid(pipeline_pid), "pipeline Python": pipeline_pid}
    return {name: memory_of(pid).get("current_mib") if pid else None for name, pid in pids.items()}


def delta_files(settings: Settings) -> dict[str, int]:
    """Data files (Parquet) under each Bronze and Silver table's folder, committed or not."""
    return {table.qualified: sum(1 for _ in (settings.lake_path / table.schema / table.name).rglob("*.parquet"))
            for table in (*BRONZE_TABLES, *SILVER_TABLES)}


def verdicts(samples: list[dict], load_seconds: float) -> list[str]:
    """The Kafka backlog and each RSS, last third of the load against the middle third."""
    loaded = [s for s in samples if "rss_mib" in s and s["t"] <= load_seconds]
    middle = [s for s in loaded if load_seconds / 3 <= s["t"] < 2 * load_seconds / 3]
    last = [s for s in loaded if s["t"] >= 2 * load_seconds / 3]
    if not middle or not last:
        return ["INCOMPLETE: too few samples to compare the middle and the last third of the load"]
    found = []
    backlog = [_mean(part, lambda s: s.get("kafka_behind")) for part in (middle, last)]
    if None in backlog:
        found.append("INCOMPLETE: no Kafka backlog readings")
    else:
        # Growing: a quarter more, and more than 10 s of input further behind (a cycle's backlog comes and goes).
        grew = backlog[1] > 1.25 * backlog[0] and backlog[1] - backlog[0] > RATE * 10
        found.append(f"{'FAIL' if grew else 'PASS'}: Kafka -> Bronze backlog {backlog[0]:,.0f} -> {backlog[1]:,.0f} "
                     "messages (middle third -> last third)")
    for name in middle[0]["rss_mib"]:
        rss = [_mean(part, lambda s, n=name: s["rss_mib"].get(n)) for part in (middle, last)]
        if None in rss:
            found.append(f"INCOMPLETE: {name} RSS not read")
            continue
        growth = rss[1] / rss[0] - 1
        found.append(f"{'FAIL' if growth > GROWTH_ALLOWED else 'PASS'}: {name} RSS {rss[0]:,.0f} -> {rss[1]:,.0f} MiB "
                     f"({growth:+.0%}, allowed +{GROWTH_ALLOWED:.0%})")
    return found


def _mean(samples: list[dict], read) -> float | None:
    values = [value for value in map(read, samples) if value is not None]
    return statistics.fmean(values) if values else None


def render(figures: dict, plots_dir: Path) -> str:
    samples = [s for s in figures["samples"] if "rss_mib" in s]
    lines = [f"**{failure}**" for failure in figures["failures"]] + [""] if figures["failures"] else []
    last = samples[-1] if samples else {}
    lines += [
        f"`python -m pipeline run` for {figures['load_seconds']:.0f}s of load at {figures['rate']:,} events/s "
        f"({figures['sent']:,} messages sent, the mixed scenario), sampled every "
        f"{samples[1]['t'] - samples[0]['t']:.0f}s. Ready {figures['ready_seconds']:.0f}s after start; caught up "
        f"{_s(figures.get('catch_up_seconds'))} after the load stopped.",
        "",
        *[f"- {verdict}" for verdict in figures["verdicts"]],
        f"- Gold = oracle: {goldcheck.verdict_markdown(figures['check']['gold'])}",
        "",
        "Data files per Delta table at the last sample: " + ", ".join(
            f"{table} {count:,}" for table, count in last.get("delta_files", {}).items()) + ".",
        "",
        _plot(samples, figures["load_seconds"], plots_dir),
    ]
    return "\n".join(lines)


def _plot(samples: list[dict], load_seconds: float, plots_dir: Path) -> str:
    plt = plots.pyplot()
    figure, (backlog, rss, files) = plt.subplots(3, 1, figsize=(7.5, 7.8), sharex=True)
    times = [s["t"] for s in samples]
    backlog.plot(times, [s.get("kafka_behind") for s in samples], label="Kafka -> Bronze (messages)")
    backlog.plot(times, [s.get("silver_behind") for s in samples], linestyle="--", label="Bronze -> Silver (messages)")
    for name in samples[0]["rss_mib"] if samples else ():
        rss.plot(times, [s["rss_mib"].get(name) for s in samples], label=name)
    for table in samples[0]["delta_files"] if samples else ():
        files.plot(times, [s["delta_files"].get(table) for s in samples], label=table)
    for axes, label in ((backlog, "messages behind"), (rss, "RSS MiB"), (files, "data files")):
        axes.axvline(load_seconds, color=plots.BASELINE_COLOUR, linewidth=1)
        axes.set_ylabel(label)
        axes.legend(fontsize=7)
    files.set_xlabel("seconds since the load started (grey: load stopped)")
    backlog.set_title("Soak: backlog, memory and files over time")
    return plots.save(figure, plots_dir, "soak.png", "Soak: backlog, memory and Delta files over time")


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}s"
