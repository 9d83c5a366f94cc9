"""P2: Bronze's sustained ingest (availableNow over messages already in Kafka) against Kafka's own consumer
benchmark, kafka-consumer-perf-test (org.apache.kafka.tools.ConsumerPerformance), reading the same topics.

Untimed: a warm-up ingest in the same Spark session (so the first job's JVM costs are not counted), emptying
the topics and the lakehouse, and loading the messages into Kafka. Timed: one Bronze availableNow run over
them; then each topic read by one ConsumerPerformance JVM, both at once, as Bronze reads them (one query per
topic, concurrently).
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path

from benchmarks import plots
from benchmarks.eventlogs import happy_path_log, load
from benchmarks.harness import Context

TITLE = "P2: Bronze sustained ingest vs kafka-consumer-perf-test"
MESSAGES, QUICK_MESSAGES = 200_000, 30_000
WARM_UP_MESSAGES = 2_000
PERF_TEST_CLASS = "org.apache.kafka.tools.ConsumerPerformance"
DATE_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSZ"  # Java's SimpleDateFormat; read back with PYTHON_DATE_FORMAT
PYTHON_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.%f%z"
PERF_TEST_TIMEOUT_MS = 60_000  # the longest wait for a record before the tool gives up
LOG4J2 = """\
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = STDERR
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
"""


def measure(ctx: Context) -> dict:
    from benchmarks import session
    from pipeline.bronze import job as bronze
    from simulator import eventlog

    settings = ctx.settings
    messages = QUICK_MESSAGES if ctx.quick else MESSAGES
    spark = session.spark(settings)
    warm_up = happy_path_log(settings, ctx.work_dir, WARM_UP_MESSAGES, log=ctx.log)
    data = happy_path_log(settings, ctx.work_dir, messages, log=ctx.log)
    per_topic = Counter(message.topic for message in eventlog.records(data))

    ctx.log("    warm-up ingest (untimed) …")
    load(settings, spark, warm_up)
    bronze.run_available_now(spark, settings)
    ctx.log(f"    emptying, then loading {messages:,} messages into Kafka (untimed) …")
    load(settings, spark, data)

    ctx.log("    Bronze availableNow (timed) …")
    started = time.perf_counter()
    bronze.run_available_now(spark, settings)
    bronze_seconds = time.perf_counter() - started
    rows = _bronze_rows(spark, settings)
    if rows != messages:
        raise RuntimeError(f"Bronze holds {rows:,} rows after ingesting {messages:,} messages")
    ctx.log(f"    Bronze: {rows:,} rows in {bronze_seconds:.1f}s")

    ctx.log("    kafka-consumer-perf-test on both topics at once (timed) …")
    perf_test = _perf_test(settings, dict(per_topic), ctx.work_dir)
    ctx.log(f"    kafka-consumer-perf-test: {perf_test['messages']:,} messages in {perf_test['seconds']:.1f}s")
    return {
        "messages": messages,
        "messages_per_topic": dict(per_topic),
        "warm_up_messages": WARM_UP_MESSAGES,
        "bronze": {"rows": rows, "seconds": bronze_seconds, "rows_per_second": rows / bronze_seconds},
        "perf_test": perf_test,
    }


def _bronze_rows(spark, settings) -> int:
    from pipeline.tables import BRONZE_TABLES

    return sum(spark.read.format("delta").load(table.uri(settings)).count() for table in BRONZE_TABLES)


def _perf_test(settings, per_topic: dict[str, int], work_dir: Path) -> dict:
    """Each topic read by its own ConsumerPerformance JVM, all at once, from the earliest offset."""
    from pipeline.stack.artifacts import KAFKA, kafka_classpath, require
    from pipeline.stack.java import find_java_home, java_major_version

    require(settings, KAFKA)
    java_home = find_java_home("kafka-consumer-perf-test", minimum=17)
    config = work_dir / "perf-test-log4j2.properties"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(LOG4J2)
    runs = {}
    for topic, count in per_topic.items():
        command = [
            str(java_home / "bin" / "java"), "-Xmx512m", f"-Dlog4j2.configurationFile={config}",
            "-cp", kafka_classpath(settings), PERF_TEST_CLASS,
            "--bootstrap-server", settings.kafka_bootstrap, "--topic", topic, "--messages", str(count),
            "--group", f"bench-perf-{uuid.uuid4().hex[:8]}", "--timeout", str(PERF_TEST_TIMEOUT_MS),
            "--date-format", DATE_FORMAT, "--hide-header",
        ]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env={**settings.env, "JAVA_HOME": str(java_home)})
        runs[topic] = (process, time.perf_counter(), count)
    results = {}
    for topic, (process, started, count) in runs.items():
        out, err = process.communicate()
        wall = time.perf_counter() - started
        if process.returncode != 0:
            raise RuntimeError(f"kafka-consumer-perf-test on {topic} failed ({process.returncode}): {err[-2000:]}")
        results[topic] = {**parse_perf_test(out), "wall_seconds_with_jvm_start": wall}
        if results[topic]["messages"] != count:
            raise RuntimeError(f"kafka-consumer-perf-test read {results[topic]['messages']:,} of {count:,} "
                               f"messages on {topic}: {out[-2000:]}")
    start = min(datetime.strptime(r["start"], PYTHON_DATE_FORMAT) for r in results.values())
    end = max(datetime.strptime(r["end"], PYTHON_DATE_FORMAT) for r in results.values())
    total = sum(r["messages"] for r in results.values())
    seconds = (end - start).total_seconds()
    return {
        "java": java_major_version(java_home),
        "topics": results,
        "messages": total,
        "seconds": seconds,
        "messages_per_second": total / seconds,
    }


def parse_perf_test(output: str) -> dict:
    """ConsumerPerformance's summary line (--hide-header): start, end, MB, MB/s, messages, messages/s,
    rebalance ms, fetch ms, fetch MB/s, fetch messages/s."""
    lines = [line for line in output.splitlines() if line.strip() and not line.startswith("WARNING")]
    fields = [field.strip() for field in lines[-1].split(",")]
    return {
        "start": fields[0], "end": fields[1],
        "mebibytes": float(fields[2]), "messages": int(fields[4]), "messages_per_second": float(fields[5]),
        "rebalance_ms": int(fields[6]), "fetch_ms": int(fields[7]), "fetch_messages_per_second": float(fields[9]),
    }


def render(figures: dict, plots_dir: Path) -> str:
    bronze, perf = figures["bronze"], figures["perf_test"]
    table = [
        "| reader | messages | seconds | messages/s |",
        "|---|---:|---:|---:|",
        f"| Bronze: Spark availableNow, Kafka -> Delta | {bronze['rows']:,} | {bronze['seconds']:.1f} | "
        f"{bronze['rows_per_second']:,.0f} |",
        f"| kafka-consumer-perf-test, both topics at once (baseline) | {perf['messages']:,} | "
        f"{perf['seconds']:.1f} | {perf['messages_per_second']:,.0f} |",
    ]
    for topic, run in perf["topics"].items():
        table.append(f"| &nbsp;&nbsp;{topic} (its own JVM; fetch only: {run['fetch_messages_per_second']:,.0f}/s; "
                     f"{run['wall_seconds_with_jvm_start']:.1f}s with JVM start) | {run['messages']:,} | "
                     f"{(run['rebalance_ms'] + run['fetch_ms']) / 1000:.1f} | {run['messages_per_second']:,.0f} |")
    chart = plots.bars(plots_dir, "p2-bronze-ingest.png", "P2: reading the same topics", "messages/s",
                       ["Bronze availableNow", "kafka-consumer-perf-test"],
                       [bronze["rows_per_second"], perf["messages_per_second"]], [False, True])
    return "\n".join([
        f"{figures['messages']:,} happy_path messages loaded into Kafka before the clock starts "
        f"({', '.join(f'{t}: {n:,}' for t, n in figures['messages_per_topic'].items())}); the Spark session "
        f"had ingested {figures['warm_up_messages']:,} messages before (warm-up, then emptied). Bronze's time is one "
        "`run_available_now` call: both streaming queries from start to stop, Delta commits and checkpoints "
        f"included. The baseline is Kafka's ConsumerPerformance on Java {perf['java']}, one JVM per topic, "
        "both at once, timed by the tool itself (from its first poll to its last record, group join included); "
        "the combined rate spans the earliest start to the latest end.",
        "",
        *table,
        "",
        f"Bronze ingests at **{bronze['rows_per_second'] / perf['messages_per_second']:.0%}** of the raw "
        "consumer's rate.",
        "",
        chart,
    ])
