"""`pipeline lag` without servers: checkpoints and Delta logs written by hand under tmp_path, readings, rendering."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pipeline import deltalog, lag
from pipeline.lag import Bookmark, Checkpoint, GoldLag, Lag, PartitionLag, SilverLag, TopicLag
from pipeline.settings import Settings
from pipeline.silver.bookmark import HISTORY_LOOKBACK, METADATA_KEY, Position

NOW = datetime(2026, 11, 26, 10, 30, tzinfo=timezone.utc)
BATCH_METADATA = json.dumps({"batchWatermarkMs": 0, "batchTimestampMs": 1796159275168, "conf": {}})


def write_checkpoint(folder: Path, batches: dict[int, dict], committed: int | None, starts: dict | None = None) -> None:
    """A Structured Streaming checkpoint as Spark writes it: offsets/<n> per planned batch, commits/<n> per done one."""
    (folder / "offsets").mkdir(parents=True)
    (folder / "commits").mkdir()
    for batch, offsets in batches.items():
        (folder / "offsets" / str(batch)).write_text(f"v1\n{BATCH_METADATA}\n{json.dumps(offsets)}")
        (folder / "offsets" / f".{batch}.crc").write_bytes(b"\0")
    for batch in range(committed + 1 if committed is not None else 0):
        (folder / "commits" / str(batch)).write_text('v1\n{"nextBatchWatermarkMs":0}')
    if starts is not None:
        (folder / "sources" / "0").mkdir(parents=True)
        (folder / "sources" / "0" / "0").write_text(f"v1\n{json.dumps(starts)}")


def write_commit(table: Path, version: int, operation: str, user_metadata: str | None = None) -> None:
    """One Delta commit file: commitInfo first, then an add action, one JSON object per line."""
    log = table / "_delta_log"
    log.mkdir(parents=True, exist_ok=True)
    info = {"timestamp": 1796159344951 + version, "operation": operation, "operationParameters": {}}
    if user_metadata is not None:
        info["userMetadata"] = user_metadata
    actions = [{"commitInfo": info}, {"add": {"path": f"part-{version}.parquet", "size": 1, "dataChange": True}}]
    (log / f"{version:020d}.json").write_text("\n".join(json.dumps(a) for a in actions) + "\n")
    (log / f"{version:020d}.crc").write_text("{}")


def bookmark_text(orders: dict[int, int], payments: dict[int, int], versions: dict[str, int] | None = None) -> str:
    document = {"offsets": {"orders_raw": {str(p): o for p, o in orders.items()},
                            "payments_raw": {str(p): o for p, o in payments.items()}},
                "watermark": "2026-11-26T10:29:00.000000Z"}
    if versions is not None:
        document["versions"] = versions
    return json.dumps({"silver_bookmark": document})


# -- reading files --------------------------------------------------------------------------------

def test_checkpoint_gives_the_offsets_of_the_latest_committed_batch(tmp_path):
    # Batch 2 is planned (offsets/2) but not committed: its messages may not be in Bronze yet.
    write_checkpoint(tmp_path, {0: {"orders.events": {"0": 10, "1": 7}},
                                1: {"orders.events": {"0": 25, "1": 9}},
                                2: {"orders.events": {"0": 40, "1": 9}}}, committed=1,
                     starts={"orders.events": {"0": 0, "1": 3}})
    checkpoint = lag.read_checkpoint(tmp_path.as_uri())
    assert checkpoint == Checkpoint(batch=1, ends={"orders.events": {0: 25, 1: 9}},
                                    starts={"orders.events": {0: 0, 1: 3}})


def test_no_checkpoint_before_the_first_committed_batch(tmp_path):
    assert lag.read_checkpoint((tmp_path / "missing").as_uri()) is None
    write_checkpoint(tmp_path, {0: {"orders.events": {"0": 10}}}, committed=None)
    assert lag.read_checkpoint(tmp_path.as_uri()) is None


def test_bookmark_comes_from_the_newest_commit_that_carries_one(tmp_path):
    write_commit(tmp_path, 0, "WRITE", bookmark_text({0: 9}, {0: 4}))
    write_commit(tmp_path, 1, "MERGE", bookmark_text({0: 24}, {0: 8}, versions={"orders_raw": 3, "payments_raw": 2}))
    write_commit(tmp_path, 2, "OPTIMIZE")  # a user's maintenance on top carries no bookmark
    write_commit(tmp_path, 3, "WRITE", "not a bookmark")

    assert [c.operation for c in deltalog.delta_commits(tmp_path.as_uri())] == ["WRITE", "OPTIMIZE", "MERGE", "WRITE"]
    assert lag.latest_bookmark(tmp_path.as_uri()) == Bookmark(
        version=1, offsets={"orders_raw": {0: 24}, "payments_raw": {0: 8}},
        watermark="2026-11-26T10:29:00.000000Z", bronze_versions={"orders_raw": 3, "payments_raw": 2})
    assert lag.latest_bookmark(tmp_path.as_uri(), lookback=2) is None


def test_bookmark_without_bronze_versions_is_read_too(tmp_path):
    write_commit(tmp_path, 0, "WRITE", bookmark_text({0: 9, 1: 2}, {}))
    bookmark = lag.latest_bookmark(tmp_path.as_uri())
    assert bookmark is not None and bookmark.bronze_versions is None
    assert bookmark.offsets == {"orders_raw": {0: 9, 1: 2}, "payments_raw": {}}


def test_bookmark_reader_reads_what_the_silver_job_writes():
    position = Position({"orders_raw": {0: 41, 2: 7}, "payments_raw": {1: 3}}, "2026-11-26T10:29:59.123456Z",
                        versions={"orders_raw": 12, "payments_raw": 9})
    assert lag.parse_bookmark(5, position.to_metadata()) == Bookmark(5, position.offsets, position.watermark,
                                                                     position.versions)


def test_lag_looks_for_bookmarks_as_far_back_as_silver_does():
    # lag.py repeats bookmark.py's constants rather than import pyspark with it.
    assert (lag.BOOKMARK_KEY, lag.BOOKMARK_LOOKBACK) == (METADATA_KEY, HISTORY_LOOKBACK)


def test_bookmark_with_no_versions_kept_has_versions_unknown():
    # The Silver job writes {} when Bronze had no change data feed to read versions from.
    bookmark = lag.parse_bookmark(0, json.dumps({"silver_bookmark": {"offsets": {}, "watermark": None,
                                                                     "versions": {}}}))
    assert bookmark == Bookmark(0, {}, None, None)


def test_no_table_means_no_commits(tmp_path):
    assert list(deltalog.delta_commits((tmp_path / "nothing").as_uri())) == []
    assert deltalog.latest_version((tmp_path / "nothing").as_uri()) is None


def test_the_local_reader_refuses_an_s3_lakehouse():
    # An S3 lakehouse is read through objectstore.files(settings), which the callers with settings pass.
    try:
        lag.read_checkpoint("s3a://bucket/lake/_checkpoints/bronze/orders_raw")
    except lag.Unreadable as error:
        assert "s3a://" in str(error)
    else:
        raise AssertionError("an s3a:// checkpoint was read as a local file")


# -- readings -------------------------------------------------------------------------------------

def test_kafka_lag_per_partition_counts_from_where_bronze_reads_next():
    checkpoint = Checkpoint(batch=4, ends={"orders.events": {0: 25, 1: 9}})
    reading = lag.topic_lag("orders.events", "bronze_raw.orders_raw", {0: 0, 1: 0, 2: 5}, {0: 30, 1: 9, 2: 8},
                            checkpoint)
    # Partition 2 is new to Bronze: everything from Kafka's first offset is behind.
    assert reading.partitions == (PartitionLag(0, 30, 25), PartitionLag(1, 9, 9), PartitionLag(2, 8, 5))
    assert reading.behind == 5 + 0 + 3


def test_kafka_lag_before_bronze_committed_anything_is_all_of_kafka():
    reading = lag.topic_lag("orders.events", "bronze_raw.orders_raw", {0: 2}, {0: 12}, None)
    assert reading.behind == 10 and reading.note


def test_silver_lag_counts_bronze_messages_beyond_the_bookmark():
    bronze = {"orders_raw": Checkpoint(3, {"orders.events": {0: 25, 1: 9}}, {"orders.events": {0: 0, 1: 0}}),
              "payments_raw": Checkpoint(2, {"payments.events": {0: 8, 1: 4}}, {"payments.events": {0: 0, 1: 2}})}
    topics = {"orders_raw": "orders.events", "payments_raw": "payments.events"}
    # The bookmark holds the last offset read; payments partition 1 has not been read at all.
    bookmark = Bookmark(7, {"orders_raw": {0: 19, 1: 8}, "payments_raw": {0: 7}}, "2026-11-26T10:29:00Z",
                        {"orders_raw": 3, "payments_raw": 1})
    reading = lag.silver_lag("silver.orders_clean", bookmark, bronze, topics, {"orders_raw": 5, "payments_raw": 1})
    assert reading == SilverLag("silver.orders_clean", behind=(25 - 20) + 0 + 0 + (4 - 2),
                                versions_behind={"orders_raw": 2, "payments_raw": 0},
                                watermark="2026-11-26T10:29:00Z")


def test_silver_lag_without_bookmark_says_to_rebuild():
    reading = lag.silver_lag("silver.quarantine", None, {}, {}, {})
    assert reading.behind is None and reading.fix == lag.FIX_SILVER_REBUILD


def test_gold_lag_follows_silvers_newest_paid_order():
    assert GoldLag(NOW, NOW - timedelta(seconds=5), NOW - timedelta(seconds=12)).behind_seconds == 7.0
    assert GoldLag(NOW, NOW, NOW).behind_seconds == 0.0
    # Silver has changes but none to a paid order: nothing for Gold to count.
    assert GoldLag(NOW, None, None).behind_seconds == 0.0
    assert GoldLag(NOW, NOW, None).behind_seconds is None  # Gold not built yet
    assert GoldLag(problem="no table").behind_seconds is None


def caught_up_lag() -> Lag:
    return Lag(
        measured_at=NOW,
        kafka=(TopicLag("orders.events", "bronze_raw.orders_raw", (PartitionLag(0, 30, 30),)),),
        silver=(SilverLag("silver.orders_clean", 0, None, "2026-11-26T10:29:00Z"),),
        gold=GoldLag(NOW - timedelta(seconds=40), NOW - timedelta(seconds=40), NOW - timedelta(seconds=40),
                     datetime(2026, 11, 26, 10, 29, tzinfo=timezone.utc)),
    )


def test_caught_up_only_when_every_layer_is_measured_and_level():
    assert caught_up_lag().caught_up
    behind = caught_up_lag()
    behind = Lag(behind.measured_at, (TopicLag("orders.events", "t", (PartitionLag(0, 31, 30),)),), behind.silver,
                 behind.gold)
    assert not behind.caught_up
    unknown = Lag(NOW, caught_up_lag().kafka, caught_up_lag().silver, GoldLag(problem="Trino is not running"))
    assert not unknown.caught_up


# -- measuring and rendering ----------------------------------------------------------------------

def test_measure_without_a_stack_reads_the_lake_and_names_what_is_missing(tmp_path):
    settings = Settings.from_env({"LAKEHOUSE_HOME": str(tmp_path)})
    lake = settings.lake_path
    write_checkpoint(lake / "_checkpoints" / "bronze" / "orders_raw", {0: {"orders.events": {"0": 25}}}, committed=0)
    write_commit(lake / "bronze_raw" / "orders_raw", 0, "WRITE")
    write_commit(lake / "bronze_raw" / "orders_raw", 1, "STREAMING UPDATE")
    write_commit(lake / "silver" / "orders_clean", 0, "WRITE", bookmark_text({0: 20}, {}, versions={"orders_raw": 0}))

    reading = lag.measure(settings, now=NOW)

    assert [t.problem is not None and "stack up" in t.problem for t in reading.kafka] == [True, True]
    silver = {s.table: s for s in reading.silver}
    assert silver["silver.orders_clean"] == SilverLag("silver.orders_clean", behind=4,
                                                      versions_behind={"orders_raw": 1},
                                                      watermark="2026-11-26T10:29:00.000000Z")
    assert silver["silver.quarantine"].problem == "no table yet"
    assert "Trino is not running" in reading.gold.problem and reading.gold.fix == lag.FIX_STACK
    assert not reading.caught_up


def test_every_rendered_reading_says_what_to_run_when_stuck():
    reading = Lag(
        measured_at=NOW,
        kafka=(TopicLag("orders.events", "bronze_raw.orders_raw", (PartitionLag(0, 30, 25), PartitionLag(1, 9, 9))),
               TopicLag("payments.events", "bronze_raw.payments_raw", problem="Kafka has no topic payments.events")),
        silver=(SilverLag("silver.orders_clean", 12, {"orders_raw": 2}, "2026-11-26T10:29:00.000000Z"),
                SilverLag("silver.quarantine", problem="no table yet")),
        gold=GoldLag(NOW, NOW, NOW - timedelta(seconds=7.5), datetime(2026, 11, 26, 10, 27, tzinfo=timezone.utc)),
    )
    text = lag.render(reading)
    readings = [line for line in text.splitlines() if line.startswith("  ")]
    assert len(readings) == 2 + 2 + 1 + 1
    assert all("| if stuck: python -m " in line or line.endswith(lag.FIX_NEW_DATA) for line in readings)
    assert "5 behind" in text and "p0 25/30" in text
    assert "Kafka has no topic payments.events" in text
    assert "12 behind" in text and "orders_raw 2" in text
    assert "7.5s behind" in text
    assert "3min old" in text
    assert text.splitlines()[0].endswith("see below")


def test_json_holds_the_readings_and_the_verdict():
    document = json.loads(json.dumps(caught_up_lag().to_dict()))
    assert document["caught_up"] is True
    assert document["kafka_to_bronze"][0]["partitions"] == [{"partition": 0, "kafka_end": 30, "bronze_end": 30,
                                                            "behind": 0}]
    assert document["bronze_to_silver"][0]["behind"] == 0
    assert document["silver_to_gold"]["behind_seconds"] == 0.0
    assert document["gold"]["newest_minute_age_seconds"] == 60.0


def test_the_files_commits_added_skip_what_optimize_rewrote_and_say_when_the_log_or_a_file_is_gone(tmp_path):
    table = tmp_path / "orders_raw"
    for version in range(3):
        write_commit(table, version, "STREAMING UPDATE")
        (table / f"part-{version}.parquet").write_bytes(b"x")
    compaction = table / "_delta_log" / f"{3:020d}.json"
    compaction.write_text(json.dumps({"commitInfo": {"operation": "OPTIMIZE"}}) + "\n"
                          + json.dumps({"add": {"path": "part-3.parquet", "size": 1, "dataChange": False}}) + "\n")
    uri = table.as_uri()

    assert deltalog.added_data_files(uri, 1, 3) == [f"{uri}/part-1.parquet", f"{uri}/part-2.parquet"]
    assert deltalog.added_data_files(uri, 2, 4) is None  # version 4 is not in the log
    (table / "part-2.parquet").unlink()  # compacted, then vacuumed with a forced short retention
    assert deltalog.added_data_files(uri, 1, 3) is None


def test_a_tables_size_comes_from_its_latest_checksum_and_is_unknown_without_one(tmp_path):
    table = tmp_path / "orders_clean"
    assert deltalog.size_bytes(table.as_uri()) is None  # no table
    for version in range(2):
        write_commit(table, version, "MERGE")
        (table / "_delta_log" / f"{version:020d}.crc").write_text(json.dumps({"tableSizeBytes": 100 * (version + 1)}))
    assert deltalog.size_bytes(table.as_uri()) == 200
    (table / "_delta_log" / f"{1:020d}.crc").unlink()
    assert deltalog.size_bytes(table.as_uri()) is None


def test_a_tables_properties_come_from_its_latest_checksum_and_are_unknown_without_one(tmp_path):
    table = tmp_path / "orders_raw"
    assert deltalog.properties(table.as_uri()) is None  # no table
    for version, configuration in enumerate(({}, {"delta.enableChangeDataFeed": "true"})):
        write_commit(table, version, "WRITE")
        checksum = {"tableSizeBytes": 1, "metadata": {"id": "t", "configuration": configuration}}
        (table / "_delta_log" / f"{version:020d}.crc").write_text(json.dumps(checksum))
    assert deltalog.properties(table.as_uri()) == {"delta.enableChangeDataFeed": "true"}
    (table / "_delta_log" / f"{1:020d}.crc").unlink()
    assert deltalog.properties(table.as_uri()) is None
