"""P4: freshness in continuous mode: how long an event takes to show in Gold while locust produces steadily.

For each rate (200 and 2,000 events/s for 5 minutes each; --quick: 200 events/s for 30 s):

1. set-up, not timed: empty the topics and the lakehouse, start `python -m pipeline run` (Bronze streaming,
   Silver + Gold every SILVER_INTERVAL_SECONDS) as a child process, and send one warm-up marker: the pipeline
   is ready when Gold counts it;
2. locust headless (benchmarks/locustfile.py): ProducerUser at the rate, a DashboardUser refreshing the
   dashboard every 5 s, the MarkerUser sending a fully paid marker order every 5 s and polling Gold through
   Trino until it is counted there. Freshness = seen in Gold - sent. `pipeline lag` is sampled throughout;
3. producing stops; the pipeline runs on until `pipeline lag` says it has caught up and every marker is in
   Gold (markers seen after the stop still count: they were sent under load);
4. Gold (and Bronze, clean, quarantined per topic) must equal the oracle of the event log of everything sent,
   markers included, minute by minute to the cent. A load test that loses or double-counts an event is a
   FAIL: recorded in the figures (`failures`, `verdict`) and shown at the top of the section;
5. the peak RSS (VmHWM) of the pipeline's Python process and of its Spark JVM is read, and the pipeline is
   stopped with SIGINT (what Ctrl-C sends).

Baseline beside it: the time Kafka takes to acknowledge a send (acks=all), from the same run.
"""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks import eventlogs, goldcheck, loadtest, markers, plots
from benchmarks.harness import Context
from benchmarks.memory import memory_of, spark_driver_pid
from benchmarks.sampling import PeriodicSampler
from harness import reconcile
from pipeline import catalog, lag, lakehouse
from pipeline.settings import REPO_ROOT, Settings

TITLE = "P4: freshness in continuous mode (locust load, marker orders polled in Gold)"
RATES = (200, 2_000)
QUICK_RATES = (200,)
LOAD_SECONDS = 300
QUICK_LOAD_SECONDS = 30
MARKER_EVERY_SECONDS = 5
MARKER_POLL_SECONDS = 1
DASHBOARD_WAIT_SECONDS = 5
LAG_EVERY_SECONDS = 10
READY_TIMEOUT_SECONDS = 600  # Spark start-up, the first cycles, on a busy machine
CATCH_UP_TIMEOUT_SECONDS = 900
QUICK_CATCH_UP_TIMEOUT_SECONDS = 300
STOP_TIMEOUT_SECONDS = 180
CHECK_ATTEMPTS = 3
CYCLE_ALLOWANCE_SECONDS = 30  # beyond SILVER_INTERVAL_SECONDS, for one Silver + Gold cycle to finish
# Users: the MarkerUser is always one, the other two are split between ProducerUser and DashboardUser.
USERS = 3
TARGET_P95_SECONDS, TARGET_RATE = 30, 200


def measure(ctx: Context) -> dict:
    rates = QUICK_RATES if ctx.quick else RATES
    seconds = QUICK_LOAD_SECONDS if ctx.quick else LOAD_SECONDS
    catch_up_timeout = QUICK_CATCH_UP_TIMEOUT_SECONDS if ctx.quick else CATCH_UP_TIMEOUT_SECONDS
    work = ctx.work_dir / "freshness"
    levels = [_level(ctx, work, rate, seconds, catch_up_timeout) for rate in rates]
    return {
        "silver_interval_seconds": ctx.settings.silver_interval_seconds,
        "marker_every_seconds": MARKER_EVERY_SECONDS,
        "marker_poll_seconds": MARKER_POLL_SECONDS,
        "target_p95_seconds": TARGET_P95_SECONDS,
        "target_rate": TARGET_RATE,
        "levels": levels,
        "failures": [f"{level['rate']:,}/s: {level['verdict']}" for level in levels if level["verdict"] != "PASS"],
    }


# -- one rate -------------------------------------------------------------------------------------

def _level(ctx: Context, work: Path, rate: int, seconds: float, catch_up_timeout: float) -> dict:
    settings = ctx.settings
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    files = {name: work / f"{stamp}-{rate}{suffix}" for name, suffix in (
        ("event_log", "-load.jsonl"), ("warm_up_log", "-warm-up.jsonl"), ("marker_log", "-load.markers.jsonl"),
        ("pipeline_log", "-pipeline.log"), ("locust_csv", "-locust"), ("reconciliation", "-reconciliation.md"))}
    work.mkdir(parents=True, exist_ok=True)
    ctx.log(f"   {rate:,} events/s: emptying the topics and the lakehouse, starting `python -m pipeline run`")
    lakehouse.empty(settings, active_spark(), log=eventlogs.silent)
    pipeline = start_pipeline(settings, files["pipeline_log"])
    figures: dict = {"rate": rate, "seconds": seconds, "users": USERS,
                     "files": {name: str(path) for name, path in files.items()}}
    sampler = lag_sampler(settings)
    try:
        figures["ready_seconds"] = warm_up(settings, pipeline, files["warm_up_log"], files["pipeline_log"])
        ctx.log(f"   ready: the warm-up marker reached Gold {figures['ready_seconds']:.0f}s after the pipeline "
                f"started; locust for {seconds:g}s")
        sampler.start()
        load_started_at, started = time.time(), time.monotonic()
        stats = loadtest.run(
            settings, ("ProducerUser", "DashboardUser", "MarkerUser"), USERS, seconds, files["locust_csv"],
            {"target-rate": rate, "event-log": files["event_log"], "marker-log": files["marker_log"],
             "marker-every": MARKER_EVERY_SECONDS, "marker-poll": MARKER_POLL_SECONDS,
             "dashboard-wait": DASHBOARD_WAIT_SECONDS},
            exclude_tags=("baseline",))
        load_seconds = time.monotonic() - started
        sampler.mark("load stopped")
        ctx.log(f"   load stopped after {load_seconds:.0f}s; waiting for the pipeline to catch up")
        caught_up = catch_up(settings, pipeline, files["marker_log"], catch_up_timeout, files["pipeline_log"])
        sampler.stop()
        figures["catch_up_seconds"] = caught_up
        ctx.log("   checking the lakehouse against the oracle of the event log"
                + ("" if caught_up is not None else f" (NOT caught up after {catch_up_timeout:.0f}s)"))
        figures["check"] = check_gold(settings, pipeline, (files["warm_up_log"], files["event_log"]),
                                      files["reconciliation"], retry=caught_up is not None)
        figures["peak_rss_mib"] = _peak_rss(pipeline.pid)
    finally:
        sampler.stop()
        figures["stop"] = stop_pipeline(pipeline)
    figures["lag"] = sampler.samples
    sent = sum(1 for _ in files["event_log"].open()) if files["event_log"].is_file() else 0
    # Over the run time locust was given (locust's own start-up is not producing time).
    figures["sent"] = {"messages": sent, "per_second": sent / seconds, "load_seconds": load_seconds,
                       "kafka": {s["name"]: s for s in stats.values() if s["type"] == "kafka"}}
    figures["dashboard"] = {s["name"]: s for s in stats.values() if s["type"] == "trino"}
    figures["freshness"] = _freshness(files["marker_log"], load_started_at)
    figures["verdict"] = _verdict(figures, caught_up, catch_up_timeout)
    ctx.log(f"   {rate:,}/s: {figures['verdict']}; freshness p50 {_s(figures['freshness']['p50_s'])}, "
            f"p95 {_s(figures['freshness']['p95_s'])}, max {_s(figures['freshness']['max_s'])}")
    return figures


def active_spark():
    """The benchmark run's own SparkSession, if a figure before this one started it: it must forget the
    Delta logs of the tables emptied here."""
    if "pyspark" not in sys.modules:
        return None
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession()


def start_pipeline(settings: Settings, log_path: Path) -> subprocess.Popen:
    with log_path.open("w") as log:
        return subprocess.Popen([sys.executable, "-m", "pipeline", "run"], cwd=REPO_ROOT,
                                env={**settings.env, "PYTHONUNBUFFERED": "1"}, stdout=log, stderr=subprocess.STDOUT)


class PipelineDied(RuntimeError):
    pass


def check_alive(pipeline: subprocess.Popen, log_path: Path) -> None:
    if pipeline.poll() is not None:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
        raise PipelineDied(f"`python -m pipeline run` exited with {pipeline.returncode} ({log_path}):\n{tail}")


def warm_up(settings: Settings, pipeline: subprocess.Popen, log_path: Path, pipeline_log: Path) -> float:
    """Send one marker and wait until Gold counts it; returns the seconds since the pipeline started."""
    from simulator import eventlog
    from simulator.producer import produce

    started = time.monotonic()
    order_id = f"{markers.PREFIX}warm-up-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}"
    messages = markers.marker_messages(order_id, datetime.now(timezone.utc), settings.topic_order_events,
                                       settings.topic_payment_events)
    produce(messages, settings.kafka_bootstrap, progress=False)
    eventlog.write(log_path, messages)
    since = datetime.now(timezone.utc)
    while time.monotonic() - started < READY_TIMEOUT_SECONDS:
        check_alive(pipeline, pipeline_log)
        if _seen(settings, [order_id], since):
            return time.monotonic() - started
        time.sleep(MARKER_POLL_SECONDS)
    raise TimeoutError(f"the warm-up marker did not reach Gold within {READY_TIMEOUT_SECONDS}s; see {pipeline_log}")


def _seen(settings: Settings, order_ids: list[str], since: datetime) -> set[str]:
    connection = catalog.connect(settings)
    try:
        return markers.seen_in_gold(connection.cursor(), order_ids, since)
    except Exception:  # noqa: BLE001 -- Gold does not exist before the first cycle: not seen yet
        return set()
    finally:
        connection.close()


def catch_up(settings: Settings, pipeline: subprocess.Popen, marker_log: Path, timeout: float,
              pipeline_log: Path) -> float | None:
    """Wait until every marker sent is in Gold and `pipeline lag` reads caught up; the seconds it took, or None."""
    started = time.monotonic()
    log = markers.MarkerLog(marker_log)
    try:
        while time.monotonic() - started < timeout:
            check_alive(pipeline, pipeline_log)
            unseen = {order_id: entry["produced_at"] for order_id, entry in markers.read(marker_log).items()
                      if entry["seen_at"] is None}
            if unseen:
                since = datetime.fromtimestamp(min(unseen.values()), timezone.utc)
                now = time.time()
                for order_id in _seen(settings, list(unseen), since):
                    log.seen(order_id, now)
            elif lag.measure(settings).caught_up:
                return time.monotonic() - started
            time.sleep(MARKER_POLL_SECONDS)
    finally:
        log.close()
    return None


def lag_sampler(settings: Settings) -> PeriodicSampler:
    """`pipeline lag` every LAG_EVERY_SECONDS: Kafka and Silver backlog in messages, Gold behind Silver and the
    age of Gold's newest minute in seconds."""
    return PeriodicSampler(lambda: lag_summary(lag.measure(settings)), LAG_EVERY_SECONDS, "lag-sampler")


def lag_summary(reading: lag.Lag) -> dict:
    kafka = [topic.behind for topic in reading.kafka]
    silver = [table.behind for table in reading.silver]
    return {
        "kafka_behind": None if None in kafka else sum(kafka),
        "silver_behind": None if None in silver else max(silver, default=0),
        "gold_behind_s": reading.gold.behind_seconds,
        "gold_minute_age_s": reading.newest_minute_age_seconds,
        "caught_up": reading.caught_up,
    }


def _peak_rss(pid: int) -> dict:
    """VmHWM of the pipeline's Python process and of its Spark JVM (a descendant running SparkSubmit), in MiB."""
    peaks = {"pipeline Python": memory_of(pid).get("peak_mib")}
    jvm = spark_driver_pid(pid)
    peaks["Spark driver JVM"] = memory_of(jvm).get("peak_mib") if jvm else None
    return peaks


def stop_pipeline(pipeline: subprocess.Popen) -> dict:
    """SIGINT (what Ctrl-C sends: the run loop stops its queries and Spark), then wait; kill only if it hangs."""
    started = time.monotonic()
    if pipeline.poll() is None:
        pipeline.send_signal(signal.SIGINT)
        try:
            pipeline.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            pipeline.kill()
            pipeline.wait()
            return {"seconds": time.monotonic() - started, "exit_code": pipeline.returncode, "killed": True}
    return {"seconds": time.monotonic() - started, "exit_code": pipeline.returncode, "killed": False}


def _freshness(marker_log: Path, started_at: float) -> dict:
    """Per marker: when it was sent (seconds into the load) and its freshness; percentiles over those seen."""
    entries = sorted(markers.read(marker_log).items(), key=lambda item: item[1]["produced_at"])
    series = [[entry["produced_at"] - started_at, None if entry["seen_at"] is None else
               entry["seen_at"] - entry["produced_at"]] for _, entry in entries]
    values = sorted(value for _, value in series if value is not None)
    return {
        "markers": len(series),
        "seen": len(values),
        "p50_s": percentile(values, 50),
        "p95_s": percentile(values, 95),
        "max_s": values[-1] if values else None,
        "series": series,
    }


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of sorted `values`."""
    if not values:
        return None
    return values[max(0, math.ceil(p / 100 * len(values)) - 1)]


def check_gold(settings: Settings, pipeline: subprocess.Popen, logs: tuple[Path, ...], report: Path,
               retry: bool) -> dict:
    """The oracle of everything sent against what Trino shows: Gold per minute, and per topic Bronze, clean,
    quarantined and duplicates. With `retry`, a difference is looked at again after each of the next two
    cycles (the pipeline still runs) before it counts; `attempts` says how many looks it took."""
    sent = tuple(p for p in logs if p.is_file())
    expected = eventlogs.in_child(_expected, sent, settings.topic_order_events, settings.topic_payment_events)
    attempts = 0
    while True:
        attempts += 1
        result = reconcile.reconcile(settings, expected, sent)
        if result.matches or not retry or attempts == CHECK_ATTEMPTS or pipeline.poll() is not None:
            break
        time.sleep(settings.silver_interval_seconds + CYCLE_ALLOWANCE_SECONDS)
    report.write_text(result.markdown("freshness load test"))
    return {"matches": result.matches, "attempts": attempts,
            "gold": goldcheck.compare({"oracle": result.expected, "pipeline": result.actual}),
            "differences": result.differences(limit=10)}


def _expected(paths: tuple[Path, ...], order_topic: str, payment_topic: str):
    from simulator import eventlog
    from simulator.oracle import Oracle

    oracle = Oracle(order_topic, payment_topic)
    for path in paths:
        for message in eventlog.records(path):
            oracle.add(message)
    return oracle.expected()


def _verdict(figures: dict, caught_up: float | None, timeout: float) -> str:
    if caught_up is None:
        return f"INCOMPLETE: the pipeline did not catch up within {timeout:.0f}s after the load"
    failed = sum(s["failures"] for s in figures["sent"]["kafka"].values())
    if failed:
        return f"FAIL: Kafka refused {failed:,} sends"
    if not figures["check"]["matches"]:
        return "FAIL: the lakehouse differs from the oracle of the event log: " + "; ".join(
            figures["check"]["differences"][:3])
    return "PASS"


# -- report ---------------------------------------------------------------------------------------

def render(figures: dict, plots_dir: Path) -> str:
    levels = figures["levels"]
    lines = []
    for failure in figures["failures"]:
        lines += [f"**{failure}**", ""]
    lines += [
        f"`python -m pipeline run` with SILVER_INTERVAL_SECONDS={figures['silver_interval_seconds']}, locust "
        f"producing at each rate, a marker order every {figures['marker_every_seconds']}s polled in Gold every "
        f"{figures['marker_poll_seconds']}s (so freshness is known to about a second). Freshness = marker "
        f"counted in `gold.fct_sales_minute` through Trino - marker sent; markers still in flight when the load "
        f"stopped are followed until they arrive. Baseline: Kafka's acknowledgement of a send (acks=all). "
        f"Target: p95 <= {figures['target_p95_seconds']}s at {figures.get('target_rate', 200):,} events/s.",
        "",
        "| rate (events/s) | sent | achieved/s | Kafka ack p50 / p95 | markers seen | freshness p50 | p95 | max | "
        "ready after | caught up after load | Gold = oracle | peak RSS Python / Spark JVM (MiB) |",
        "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for level in levels:
        fresh, sent = level["freshness"], level["sent"]
        acks = [s for s in sent["kafka"].values() if s["requests"]]
        ack = (f"{_ms(max(s['p50_ms'] or 0 for s in acks))} / {_ms(max(s['p95_ms'] or 0 for s in acks))}"
               if acks else "-")
        rss = level.get("peak_rss_mib", {})
        verdict = "yes" if level["check"]["matches"] else "**NO**"
        lines.append(
            f"| {level['rate']:,} | {sent['messages']:,} | {sent['per_second']:,.0f} | {ack} | "
            f"{fresh['seen']}/{fresh['markers']} | {_s(fresh['p50_s'])} | {_s(fresh['p95_s'])} | "
            f"{_s(fresh['max_s'])} | {_s(level.get('ready_seconds'))} | {_s(level.get('catch_up_seconds'))} | "
            f"{verdict} | {_mib(rss.get('pipeline Python'))} / {_mib(rss.get('Spark driver JVM'))} |")
    lines += ["", _target_verdict(figures), "", "Dashboard queries during the load (locust, a refresh every 5 s):", "",
              "| rate | query | requests | failures | p50 | p95 |", "|---:|---|---:|---:|---:|---:|"]
    for level in levels:
        for name, stat in sorted(level["dashboard"].items()):
            lines.append(f"| {level['rate']:,} | {name} | {stat['requests']} | {stat['failures']} | "
                         f"{_ms(stat['p50_ms'])} | {_ms(stat['p95_ms'])} |")
    lines += ["", "Gold against the oracle of the event log (markers included):", ""]
    for level in levels:
        lines.append(f"- {level['rate']:,}/s: {level['verdict']}. {goldcheck.verdict_markdown(level['check']['gold'])}")
    lines += ["", _plot(levels, plots_dir, figures["target_p95_seconds"]), "", _lag_plot(levels, plots_dir)]
    return "\n".join(lines)


def _target_verdict(figures: dict) -> str:
    target, rate = figures["target_p95_seconds"], figures.get("target_rate", 200)
    p95 = next((level["freshness"]["p95_s"] for level in figures["levels"] if level["rate"] == rate), None)
    if p95 is None:
        return f"Target p95 <= {target}s at {rate:,} events/s: not measured in this run."
    if p95 <= target:
        return f"Target p95 <= {target}s at {rate:,} events/s: **met** ({_s(p95)})."
    return f"Target p95 <= {target}s at {rate:,} events/s: **missed** by {p95 / target:.1f}x ({_s(p95)})."


def _plot(levels: list[dict], plots_dir: Path, target: float) -> str:
    plt = plots.pyplot()
    figure, axes = plt.subplots(figsize=(7.5, 3.8))
    for level in levels:
        points = [(sent, fresh) for sent, fresh in level["freshness"]["series"] if fresh is not None]
        if points:
            axes.plot(*zip(*points), marker=".", linewidth=1, label=f"{level['rate']:,} events/s")
    axes.axhline(target, color=plots.BASELINE_COLOUR, linestyle="--", linewidth=1, label=f"target p95 {target}s")
    axes.set_xlabel("marker sent, seconds into the load")
    axes.set_ylabel("freshness, seconds")
    axes.set_title("Freshness of each marker order")
    axes.legend(fontsize=8)
    return plots.save(figure, plots_dir, "freshness-markers.png", "Freshness of each marker order")


def _lag_plot(levels: list[dict], plots_dir: Path) -> str:
    plt = plots.pyplot()
    figure, (messages, seconds) = plt.subplots(2, 1, figsize=(7.5, 5.2), sharex=True)
    for level in levels:
        samples = [s for s in level.get("lag", []) if "kafka_behind" in s]
        label = f"{level['rate']:,}/s"
        messages.plot([s["t"] for s in samples], [s["kafka_behind"] for s in samples], label=f"Kafka -> Bronze, {label}")
        messages.plot([s["t"] for s in samples], [s["silver_behind"] for s in samples], linestyle="--",
                      label=f"Bronze -> Silver, {label}")
        seconds.plot([s["t"] for s in samples], [s["gold_behind_s"] for s in samples], label=f"Silver -> Gold, {label}")
        stops = [s["t"] for s in level.get("lag", []) if s.get("event") == "load stopped"]
        for at in stops:
            messages.axvline(at, color=plots.BASELINE_COLOUR, linewidth=1)
            seconds.axvline(at, color=plots.BASELINE_COLOUR, linewidth=1)
    messages.set_ylabel("messages behind")
    seconds.set_ylabel("seconds behind")
    seconds.set_xlabel("seconds since the load started (grey: load stopped)")
    messages.set_title("`pipeline lag` during the load")
    messages.legend(fontsize=7)
    seconds.legend(fontsize=7)
    return plots.save(figure, plots_dir, "freshness-lag.png", "pipeline lag during the load")


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}s"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"
