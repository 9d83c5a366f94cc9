"""`pipeline lag`: how far behind each layer is, and what to run when one is stuck.

Read without Spark: Kafka's end offsets (kafka-python), the Bronze queries' streaming
checkpoints and the Silver tables' Delta logs (files under LAKEHOUSE_URI, local or on S3), and Gold through
Trino. Four readings, one per hand-over:

- Kafka -> Bronze: per partition, Kafka's end offset against the end offset of the latest
  micro-batch the Bronze query committed (`<checkpoint>/commits/<n>`, `offsets/<n>`);
- Bronze -> Silver: per Silver table, the Bronze messages beyond its bookmark (the
  `silver_bookmark` in the `userMetadata` of its latest commits, see silver/bookmark.py) and the
  Bronze Delta versions it has not read;
- Silver -> Gold: Silver's newest change to a fully paid order (`updated_ts`) against Gold's
  watermark (the newest `source_updated_ts` in fct_sales_minute);
- Gold: the age of its newest minute.

`measure(settings)` returns a `Lag`; the CLI renders it (`render`) or prints it as JSON, and
the freshness benchmark polls it to know when the pipeline has caught up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pipeline import objectstore
from pipeline.deltalog import delta_commits, latest_version
from pipeline.objectstore import LOCAL, Files, Unreadable
from pipeline.settings import Settings, SettingsError
from pipeline.tables import GOLD_SCHEMA, ORDER_PAYMENTS_ENRICHED, ORDERS_RAW, PAYMENTS_RAW, SILVER_TABLES, Table

# silver/bookmark.py's userMetadata key, and how many commits back it looks for a bookmark (an OPTIMIZE or
# VACUUM may sit on top). Repeated, not imported: that would pull in pyspark for a command that needs no
# Spark. A unit test keeps them equal.
BOOKMARK_KEY = "silver_bookmark"
BOOKMARK_LOOKBACK = 50
GOLD_FACT = f"delta.{GOLD_SCHEMA}.fct_sales_minute"
KAFKA_TIMEOUT_MS = 5_000

FIX_STACK = "python -m pipeline stack up"
FIX_BRONZE = "python -m pipeline run (Bronze streams only while it runs)"
FIX_SILVER = "python -m pipeline silver"
FIX_SILVER_REBUILD = "python -m pipeline silver --full-refresh"
FIX_GOLD = "python -m pipeline gold"
FIX_NEW_DATA = "nothing paid lately (python -m simulator produce), or a layer above is stuck"

Offsets = dict[str, dict[int, int]]  # topic or Bronze table -> Kafka partition -> offset


# -- Bronze: the streaming checkpoint -------------------------------------------------------------

@dataclass(frozen=True)
class Checkpoint:
    """What a Bronze query has committed: Kafka offsets before `ends` are in Bronze."""

    batch: int  # the latest committed micro-batch
    ends: Offsets  # topic -> partition -> the next offset the query reads
    starts: Offsets = field(default_factory=dict)  # topic -> partition -> where the query began


def read_checkpoint(uri: str, files: Files = LOCAL) -> Checkpoint | None:
    """The latest committed batch of the streaming checkpoint at `uri`; None before the first one.

    `commits/<n>` is written once batch n is in the sink; `offsets/<n>` holds, after a version
    line and the batch's metadata line, one line per source: {"topic": {"partition": end offset}}.
    """
    batches = [int(name) for name in files.names(f"{uri}/commits") or () if name.isdigit()]
    if not batches:
        return None
    batch = max(batches)
    ends = _source_offsets(files.text(f"{uri}/offsets/{batch}").splitlines()[2:])
    starts_at = f"{uri}/sources/0/0"
    starts = (_source_offsets(files.text(starts_at).splitlines()[1:]) if "0" in (files.names(f"{uri}/sources/0") or ())
              else {})
    return Checkpoint(batch, ends, starts)


def _source_offsets(lines: list[str]) -> Offsets:
    offsets: Offsets = {}
    for line in lines:
        try:
            document = json.loads(line)
        except ValueError:
            continue  # a source without offsets is written as "-"
        if isinstance(document, dict):
            for topic, partitions in document.items():
                offsets[topic] = {int(p): int(o) for p, o in partitions.items()}
    return offsets


@dataclass(frozen=True)
class Bookmark:
    """A Silver table's position in Bronze (silver/bookmark.py), and the commit that holds it."""

    version: int  # the Silver commit
    offsets: Offsets  # Bronze table -> partition -> last offset read
    watermark: str | None  # the newest Bronze ingest_ts read, ISO-8601 UTC
    bronze_versions: dict[str, int] | None  # Bronze table -> Delta version read up to (absent in older bookmarks)


def parse_bookmark(version: int, user_metadata: str | None) -> Bookmark | None:
    try:
        document = json.loads(user_metadata or "")[BOOKMARK_KEY]
        offsets = {table: {int(p): int(o) for p, o in parts.items()} for table, parts in document["offsets"].items()}
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    # Older bookmarks have no versions, and tables without a change data feed none to give: unknown, not 0.
    versions = document.get("versions") or None
    return Bookmark(
        version=version,
        offsets=offsets,
        watermark=document.get("watermark"),
        bronze_versions={table: int(v) for table, v in versions.items()} if isinstance(versions, dict) else None,
    )


def latest_bookmark(table_uri: str, lookback: int = BOOKMARK_LOOKBACK, files: Files = LOCAL) -> Bookmark | None:
    for number, commit in enumerate(delta_commits(table_uri, files)):
        if number >= lookback:
            break
        bookmark = parse_bookmark(commit.version, commit.user_metadata)
        if bookmark is not None:
            return bookmark
    return None


# -- the readings ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class PartitionLag:
    partition: int
    kafka_end: int  # the offset Kafka gives the next message
    bronze_end: int  # the offset Bronze reads next (where it starts, before its first batch)

    @property
    def behind(self) -> int:
        return max(0, self.kafka_end - self.bronze_end)


@dataclass(frozen=True)
class TopicLag:
    """Kafka -> Bronze for one topic."""

    topic: str
    table: str
    partitions: tuple[PartitionLag, ...] = ()
    problem: str | None = None  # why it could not be measured
    note: str | None = None
    fix: str = FIX_BRONZE

    @property
    def behind(self) -> int | None:
        return None if self.problem else sum(p.behind for p in self.partitions)


@dataclass(frozen=True)
class SilverLag:
    """Bronze -> one Silver table."""

    table: str
    behind: int | None = None  # Bronze messages beyond the bookmark
    versions_behind: dict[str, int] | None = None  # Bronze table -> Delta versions not read yet
    watermark: str | None = None
    problem: str | None = None
    fix: str = FIX_SILVER


@dataclass(frozen=True)
class GoldLag:
    """Silver -> Gold, and how old Gold's newest minute is."""

    silver_newest: datetime | None = None  # newest order_payments_enriched.updated_ts
    silver_newest_paid: datetime | None = None  # the same among fully paid orders: what Gold's watermark follows
    gold_watermark: datetime | None = None  # newest fct_sales_minute.source_updated_ts
    newest_minute: datetime | None = None
    problem: str | None = None
    fix: str = FIX_GOLD

    @property
    def behind_seconds(self) -> float | None:
        """How far Gold's watermark trails Silver's newest paid-order change; 0 when Gold has counted it."""
        if self.problem or self.silver_newest_paid is None:
            return None if self.problem else 0.0
        if self.gold_watermark is None:
            return None
        return max(0.0, (self.silver_newest_paid - self.gold_watermark).total_seconds())


@dataclass(frozen=True)
class Lag:
    measured_at: datetime
    kafka: tuple[TopicLag, ...]
    silver: tuple[SilverLag, ...]
    gold: GoldLag

    @property
    def newest_minute_age_seconds(self) -> float | None:
        minute = self.gold.newest_minute
        return None if minute is None else (self.measured_at - minute).total_seconds()

    @property
    def caught_up(self) -> bool:
        """Every layer measured and nothing waiting: Bronze holds Kafka, Silver Bronze, Gold Silver."""
        return (all(topic.behind == 0 for topic in self.kafka)
                and all(table.behind == 0 for table in self.silver)
                and self.gold.behind_seconds == 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "measured_at": _iso(self.measured_at),
            "caught_up": self.caught_up,
            "kafka_to_bronze": [
                {"topic": t.topic, "table": t.table, "behind": t.behind, "problem": t.problem, "note": t.note,
                 "fix": t.fix,
                 "partitions": [{"partition": p.partition, "kafka_end": p.kafka_end, "bronze_end": p.bronze_end,
                                 "behind": p.behind} for p in t.partitions]}
                for t in self.kafka
            ],
            "bronze_to_silver": [
                {"table": s.table, "behind": s.behind, "versions_behind": s.versions_behind,
                 "watermark": s.watermark, "problem": s.problem, "fix": s.fix}
                for s in self.silver
            ],
            "silver_to_gold": {
                "silver_newest": _iso(self.gold.silver_newest), "silver_newest_paid": _iso(self.gold.silver_newest_paid),
                "gold_watermark": _iso(self.gold.gold_watermark), "behind_seconds": self.gold.behind_seconds,
                "problem": self.gold.problem, "fix": self.gold.fix,
            },
            "gold": {"newest_minute": _iso(self.gold.newest_minute),
                     "newest_minute_age_seconds": self.newest_minute_age_seconds, "fix": FIX_NEW_DATA},
        }


def topic_lag(topic: str, table: str, kafka_starts: dict[int, int], kafka_ends: dict[int, int],
              checkpoint: Checkpoint | None) -> TopicLag:
    read = {} if checkpoint is None else checkpoint.ends.get(topic, {})
    partitions = tuple(PartitionLag(p, kafka_ends[p], read.get(p, kafka_starts.get(p, 0))) for p in sorted(kafka_ends))
    note = "Bronze has not committed a batch yet" if checkpoint is None else None
    return TopicLag(topic, table, partitions, note=note)


def silver_lag(table: str, bookmark: Bookmark | None, bronze: dict[str, Checkpoint | None],
               bronze_topics: dict[str, str], bronze_versions: dict[str, int | None]) -> SilverLag:
    """One Silver table's lag from its bookmark and what Bronze holds (its checkpoints and Delta versions).

    `bronze` maps each Bronze table to its query's checkpoint, `bronze_topics` to its topic.
    """
    if bookmark is None:
        return SilverLag(table, problem="no bookmark: the table is new or was written before bookmarks",
                         fix=FIX_SILVER_REBUILD)
    behind = 0
    for bronze_table, checkpoint in bronze.items():
        if checkpoint is None:
            continue
        topic = bronze_topics[bronze_table]
        read = bookmark.offsets.get(bronze_table, {})
        for partition, end in checkpoint.ends.get(topic, {}).items():
            first_unread = read[partition] + 1 if partition in read else checkpoint.starts.get(topic, {}).get(partition, 0)
            behind += max(0, end - first_unread)
    versions_behind = None
    if bookmark.bronze_versions is not None:
        versions_behind = {name: max(0, latest - bookmark.bronze_versions[name])
                           for name, latest in bronze_versions.items()
                           if latest is not None and name in bookmark.bronze_versions}
    return SilverLag(table, behind, versions_behind, bookmark.watermark)


# -- measuring ------------------------------------------------------------------------------------

def measure(settings: Settings, now: datetime | None = None) -> Lag:
    """Read every layer's position now. A layer that cannot be read (no stack, no table) carries a
    `problem` saying why, and the other layers are still measured."""
    bronze_tables = {settings.topic_order_events: ORDERS_RAW, settings.topic_payment_events: PAYMENTS_RAW}
    checkpoints, bronze_problem = _checkpoints(settings, bronze_tables)
    kafka = _kafka_lag(settings, bronze_tables, checkpoints, bronze_problem)
    silver = _silver_lag(settings, bronze_tables, checkpoints, bronze_problem)
    gold = _gold_lag(settings)
    return Lag(now or datetime.now(timezone.utc), kafka, silver, gold)


def _checkpoints(settings: Settings, bronze_tables: dict[str, Table]) -> tuple[dict[str, Checkpoint | None], str | None]:
    try:
        files = objectstore.files(settings)
        return {t.name: read_checkpoint(settings.checkpoint_uri(f"bronze/{t.name}"), files)
                for t in bronze_tables.values()}, None
    except (Unreadable, OSError, ValueError) as error:
        return {t.name: None for t in bronze_tables.values()}, f"cannot read the Bronze checkpoints: {error}"


def _kafka_lag(settings: Settings, bronze_tables: dict[str, Table], checkpoints: dict[str, Checkpoint | None],
               bronze_problem: str | None) -> tuple[TopicLag, ...]:
    try:
        starts, ends = kafka_offsets(settings, tuple(bronze_tables))
    except KafkaUnreachable as error:
        return tuple(TopicLag(topic, table.qualified, problem=str(error), fix=FIX_STACK)
                     for topic, table in bronze_tables.items())
    lags = []
    for topic, table in bronze_tables.items():
        if topic not in ends:
            lags.append(TopicLag(topic, table.qualified, problem=f"Kafka has no topic {topic}"))
        elif bronze_problem:
            lags.append(TopicLag(topic, table.qualified, problem=bronze_problem))
        else:
            lags.append(topic_lag(topic, table.qualified, starts[topic], ends[topic], checkpoints[table.name]))
    return tuple(lags)


class KafkaUnreachable(RuntimeError):
    pass


def kafka_offsets(settings: Settings, topics: tuple[str, ...]) -> tuple[Offsets, Offsets]:
    """(first offsets, end offsets) per topic and partition; a topic Kafka does not have is left out."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    try:
        bootstrap = settings.kafka_bootstrap
    except SettingsError as error:
        raise KafkaUnreachable(str(error)) from None
    try:
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, client_id="lakehouse-lag",
                                 bootstrap_timeout_ms=KAFKA_TIMEOUT_MS, request_timeout_ms=KAFKA_TIMEOUT_MS + 1000)
    except KafkaError as error:
        raise KafkaUnreachable(f"no Kafka broker answers at {bootstrap} ({error}): {FIX_STACK} or set KAFKA_BOOTSTRAP") \
            from None
    try:
        partitions = [TopicPartition(topic, p) for topic in topics for p in sorted(consumer.partitions_for_topic(topic) or ())]
        starts = consumer.beginning_offsets(partitions, timeout_ms=KAFKA_TIMEOUT_MS)
        ends = consumer.end_offsets(partitions, timeout_ms=KAFKA_TIMEOUT_MS)
    except KafkaError as error:
        raise KafkaUnreachable(f"Kafka at {bootstrap} did not answer ({error})") from None
    finally:
        consumer.close()
    first: Offsets = {}
    last: Offsets = {}
    for tp in partitions:
        first.setdefault(tp.topic, {})[tp.partition] = starts[tp]
        last.setdefault(tp.topic, {})[tp.partition] = ends[tp]
    return first, last


def _silver_lag(settings: Settings, bronze_tables: dict[str, Table], checkpoints: dict[str, Checkpoint | None],
                bronze_problem: str | None) -> tuple[SilverLag, ...]:
    bronze_topics = {table.name: topic for topic, table in bronze_tables.items()}
    try:
        files = objectstore.files(settings)
        bronze_versions = {t.name: latest_version(t.uri(settings), files) for t in bronze_tables.values()}
    except (Unreadable, OSError, ValueError) as error:
        return tuple(SilverLag(t.qualified, problem=f"cannot read the Delta logs: {error}") for t in SILVER_TABLES)
    if all(version is None for version in bronze_versions.values()):
        return tuple(SilverLag(t.qualified, problem="no Bronze tables yet", fix=FIX_BRONZE) for t in SILVER_TABLES)
    lags = []
    for table in SILVER_TABLES:
        uri = table.uri(settings)
        try:
            if latest_version(uri, files) is None:
                lags.append(SilverLag(table.qualified, problem="no table yet"))
                continue
            lag = silver_lag(table.qualified, latest_bookmark(uri, files=files), checkpoints, bronze_topics,
                             bronze_versions)
        except (OSError, ValueError) as error:
            lag = SilverLag(table.qualified, problem=f"cannot read its Delta log: {error}")
        if bronze_problem and lag.problem is None:
            lag = SilverLag(table.qualified, versions_behind=lag.versions_behind, watermark=lag.watermark,
                            problem=bronze_problem)
        lags.append(lag)
    return tuple(lags)


def _gold_lag(settings: Settings) -> GoldLag:
    from pipeline import catalog

    try:
        silver = catalog.query(settings, "SELECT max(updated_ts), max(updated_ts) FILTER (WHERE fully_paid) "
                                         f"FROM delta.{ORDER_PAYMENTS_ENRICHED.qualified}")[0]
    except Exception as error:  # noqa: BLE001 -- every failure becomes the reading's problem, shown on its line
        return GoldLag(**_trino_problem(error, ORDER_PAYMENTS_ENRICHED.qualified, FIX_SILVER))
    try:
        gold = catalog.query(settings, f"SELECT max(source_updated_ts), max(minute_bucket) FROM {GOLD_FACT}")[0]
    except Exception as error:  # noqa: BLE001
        return GoldLag(_utc(silver[0]), _utc(silver[1]), **_trino_problem(error, GOLD_FACT, FIX_GOLD))
    return GoldLag(_utc(silver[0]), _utc(silver[1]), _utc(gold[0]), _utc(gold[1]))


def _trino_problem(error: Exception, table: str, fix: str) -> dict[str, str]:
    """The problem and the fix for a failed Trino query: no stack, no table, or Trino not answering."""
    if isinstance(error, SettingsError):
        return {"problem": str(error), "fix": FIX_STACK}
    text = str(error)
    if "TABLE_NOT_FOUND" in text or "SCHEMA_NOT_FOUND" in text or "does not exist" in text:
        return {"problem": f"no table {table} in Trino yet", "fix": fix}
    first_line = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return {"problem": f"Trino does not answer ({first_line[:120]}…)", "fix": "python -m pipeline stack status"}


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(timezone.utc)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(timezone.utc).isoformat(timespec="milliseconds")


# -- rendering ------------------------------------------------------------------------------------

def render(lag: Lag) -> str:
    """The console view: one line per layer and table, each ending with what to run if it stays stuck."""
    lines = [f"lag at {lag.measured_at:%Y-%m-%d %H:%M:%S} UTC: "
             f"{'caught up' if lag.caught_up else 'behind (or not measurable) somewhere, see below'}", ""]
    lines.append("Kafka -> Bronze (messages in Kafka not yet in Bronze)")
    for topic in lag.kafka:
        subject = f"{topic.topic} -> {topic.table}"
        if topic.problem:
            lines.append(_line(subject, "?", topic.problem, topic.fix))
            continue
        parts = " ".join(f"p{p.partition} {p.bronze_end:,}/{p.kafka_end:,}" for p in topic.partitions)
        detail = f"offsets read/end {parts}" + (f"; {topic.note}" if topic.note else "")
        lines.append(_line(subject, f"{topic.behind:,} behind", detail, FIX_BRONZE))
    lines += ["", "Bronze -> Silver (Bronze messages beyond each table's bookmark)"]
    for table in lag.silver:
        if table.problem:
            lines.append(_line(table.table, "?", table.problem, table.fix))
            continue
        versions = ("Bronze versions behind: " + ", ".join(f"{n} {v}" for n, v in sorted(table.versions_behind.items()))
                    if table.versions_behind is not None else "no Bronze versions in its bookmark")
        detail = f"read up to Bronze ingest {_short(table.watermark)}; {versions}"
        lines.append(_line(table.table, f"{table.behind:,} behind", detail, table.fix))
    lines += ["", "Silver -> Gold (Silver's newest change to a paid order vs Gold's watermark)"]
    gold = lag.gold
    if gold.problem:
        lines.append(_line(GOLD_FACT.removeprefix("delta."), "?", gold.problem, gold.fix))
    else:
        behind = gold.behind_seconds
        shown = "not built yet" if behind is None else f"{behind:,.1f}s behind"
        detail = (f"Silver paid {_clock(gold.silver_newest_paid)}, any {_clock(gold.silver_newest)}; "
                  f"Gold watermark {_clock(gold.gold_watermark)}")
        lines.append(_line(GOLD_FACT.removeprefix("delta."), shown, detail, gold.fix))
    lines += ["", "Gold (age of the newest minute)"]
    age = lag.newest_minute_age_seconds
    if gold.problem:
        lines.append(_line("newest minute", "?", gold.problem, gold.fix))
    elif age is None:
        lines.append(_line("newest minute", "none", "Gold has no rows: no fully paid order yet", FIX_NEW_DATA))
    else:
        lines.append(_line("newest minute", _age(age), f"{gold.newest_minute:%Y-%m-%d %H:%M} UTC (event time)",
                           FIX_NEW_DATA))
    return "\n".join(lines)


def _line(subject: str, amount: str, detail: str, fix: str) -> str:
    return f"  {subject:42} {amount:>13}  {detail}  | if stuck: {fix}"


def _clock(value: datetime | None) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M:%S.%f}"[:-3]


def _short(iso: str | None) -> str:
    return "-" if not iso else iso.replace("T", " ").removesuffix("Z")[:23]


def _age(seconds: float) -> str:
    how = "ahead" if seconds < 0 else "old"
    seconds = abs(seconds)
    if seconds < 120:
        return f"{seconds:.0f}s {how}"
    if seconds < 7200:
        return f"{seconds / 60:.0f}min {how}"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h {how}"
    return f"{seconds / 86400:.1f}d {how}"
