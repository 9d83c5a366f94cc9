"""The Silver job on a local Delta lake: incremental, idempotent, and the same however Bronze arrives in runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from hypothesis import HealthCheck, Phase, example, given, settings as hypothesis_settings, strategies as st
from pyspark.sql import DataFrame, SparkSession
from pyspark.testing import assertDataFrameEqual

from pipeline.objectstore import LOCAL
from pipeline.settings import Settings
from pipeline.spark import INTERPRETED
from pipeline.silver import bookmark, job
from pipeline.tables import (
    ORDER_PAYMENTS_ENRICHED,
    ORDERS_CLEAN,
    ORDERS_RAW,
    PAYMENTS_RAW,
    QUARANTINE,
    SILVER_TABLES,
    Table,
)
from simulator.model import Message
from simulator.oracle import expect, silver_state
from simulator.scenario import load
from simulator.validation import Valid, validate_order, validate_payment
from tests.bronze import Delivery, Kafka, append, bronze_frames, ingest_time
from tests.messages import ORDERS, PAYMENTS, order
from tests.profiles import examples, is_thorough

pytestmark = pytest.mark.usefixtures("interpreted")

# Few orders, but every kind of trouble: redeliveries and batches replayed hours later (so a cut
# parts an event from its redelivery), late events, payments before orders, malformed messages.
MIXED = load("mixed")
ORDER_COUNT = 20
MESSAGES = MIXED.messages(ORDERS, PAYMENTS, orders=ORDER_COUNT)


def _deliveries(messages: list[Message]) -> list[Delivery]:
    kafka = Kafka()
    deliveries = kafka.deliver(messages)
    # Then some valid events again, replayed through a producer that partitions otherwise: in
    # partition 0, their copy arrives last but is their first delivery by (partition, offset), so
    # the run that reads it must move the clean row there (the MERGE's update).
    replayed = [d.message for d in deliveries if d.partition > 0 and is_valid(d.message)][::10]
    return deliveries + kafka.deliver(replayed, partition=0)


def is_valid(message: Message) -> bool:
    return isinstance((validate_order if message.topic == ORDERS else validate_payment)(message.value), Valid)


Stream = tuple[str, int]  # a (topic, partition): Kafka orders nothing across them


def _streams(deliveries: list[Delivery]) -> dict[Stream, list[Delivery]]:
    streams: dict[Stream, list[Delivery]] = {}
    for delivery in deliveries:
        streams.setdefault((delivery.message.topic, delivery.partition), []).append(delivery)
    return streams


DELIVERIES = _deliveries(MESSAGES)
STREAMS = _streams(DELIVERIES)


@cache
def streams_of(seed: int) -> dict[Stream, list[Delivery]]:
    """The streams of the same scenario drawn with another seed (STREAMS for the file's seed)."""
    if seed == MIXED.seed:
        return STREAMS
    return _streams(_deliveries(MIXED.messages(ORDERS, PAYMENTS, orders=ORDER_COUNT, seed=seed)))


def lake_settings(folder: Path) -> Settings:
    return Settings.from_env({"LAKEHOUSE_HOME": str(folder), "LAKEHOUSE_URI": (folder / "lake").as_uri()})


def ingest_in_runs(spark: SparkSession, settings: Settings, streams: dict[Stream, list[Delivery]],
                   cuts: dict[Stream, list[int]] | None = None) -> None:
    """Append the streams' deliveries to Bronze in slices, running the Silver job after each: slice i
    holds each stream's deliveries from its (i-1)th to its ith cut, as a Bronze micro-batch reads
    every Kafka partition up to where it has got to (one slice when there are no cuts)."""
    runs = len(next(iter(cuts.values()))) + 1 if cuts else 1
    slices: list[list[Delivery]] = [[] for _ in range(runs)]
    for stream, deliveries in streams.items():
        bounds = [0, *(cuts[stream] if cuts else []), len(deliveries)]
        for run, (start, end) in enumerate(zip(bounds, bounds[1:])):
            slices[run] += deliveries[start:end]
    for deliveries in slices:
        append(bronze_frames(spark, deliveries), settings)
        job.run(spark, settings)


def arrival_cuts(*positions: int) -> dict[Stream, list[int]]:
    """Every stream cut where DELIVERIES (in arrival order) is cut at `positions`."""
    return {stream: [sum(1 for d in deliveries if d.position < position) for position in positions]
            for stream, deliveries in STREAMS.items()}


# ci always cuts the deliveries of the scenario file's seed; thorough draws the seed as well.
SEEDS = st.integers(0, 2**32 - 1) if is_thorough() else st.just(MIXED.seed)


@st.composite
def seeded_cuts(draw) -> tuple[int, dict[Stream, list[int]]]:
    """A scenario seed, and each stream of its deliveries cut in two on its own (either part may be empty)."""
    seed = draw(SEEDS)
    return seed, {stream: [draw(st.integers(0, len(deliveries)))] for stream, deliveries in streams_of(seed).items()}


def silver(spark: SparkSession, settings: Settings, table: Table) -> DataFrame:
    frame = spark.read.format("delta").load(table.uri(settings))
    # updated_ts is the watermark of the run that last touched the order: it depends on the runs by design.
    return frame.drop("updated_ts") if table == ORDER_PAYMENTS_ENRICHED else frame


@pytest.fixture(scope="module")
def one_run(spark, tmp_path_factory) -> Settings:
    settings = lake_settings(tmp_path_factory.mktemp("one-run"))
    ingest_in_runs(spark, settings, STREAMS)
    return settings


@pytest.fixture(scope="module")
def one_run_of(spark, tmp_path_factory, one_run) -> Callable[[int], Settings]:
    """The lake of one run over the deliveries of a scenario seed, made when first asked for."""
    lakes = {MIXED.seed: one_run}

    def of(seed: int) -> Settings:
        if seed not in lakes:
            lakes[seed] = lake_settings(tmp_path_factory.mktemp("one-run"))
            ingest_in_runs(spark, lakes[seed], streams_of(seed))
        return lakes[seed]

    return of


def test_the_deliveries_hold_every_kind_of_trouble():
    expected = expect(MESSAGES, ORDERS, PAYMENTS)
    for topic in (expected.orders, expected.payments):
        assert topic.duplicates > 0
    assert expected.orders.quarantined + expected.payments.quarantined > 0
    assert DELIVERIES[-1].partition == 0 and is_valid(DELIVERIES[-1].message)


def test_one_run_matches_the_oracle(spark, one_run):
    # The replays hold no event that ties on event_ts with another of its order or payment, so the
    # oracle's tie-break by production order still agrees with (partition, offset).
    expected = silver_state([d.message for d in DELIVERIES], ORDERS, PAYMENTS)
    enriched = {row["order_id"]: row for row in silver(spark, one_run, ORDER_PAYMENTS_ENRICHED).collect()}
    assert {order_id: (row["total_amount"], row["paid_amount"], row["fully_paid"])
            for order_id, row in enriched.items()} == {
        order_id: (state.latest.total_amount, state.paid_amount, state.fully_paid)
        for order_id, state in expected.orders.items()
    }


def test_a_run_with_nothing_new_commits_nothing(spark, one_run):
    versions = {t: _version(spark, one_run, t) for t in SILVER_TABLES}
    outcome = job.run(spark, one_run)
    assert set(outcome.values()) == {job.UP_TO_DATE}
    assert {t: _version(spark, one_run, t) for t in SILVER_TABLES} == versions


def test_each_table_records_the_bronze_position_it_reached(spark, one_run):
    produced = {ORDERS_RAW.name: ORDERS, PAYMENTS_RAW.name: PAYMENTS}
    for table in SILVER_TABLES:
        position = bookmark.read(table.uri(one_run))
        last = ingest_time(len(DELIVERIES) - 1)
        assert position is not None and position.watermark == f"{last:%Y-%m-%dT%H:%M:%S}.000000Z"
        for bronze_table, topic in produced.items():
            assert sum(last + 1 for last in position.offsets[bronze_table].values()) == sum(
                1 for delivery in DELIVERIES if delivery.message.topic == topic)


def test_up_to_date_is_told_from_the_delta_logs_and_silver_then_starts_no_spark(spark, one_run, monkeypatch,
                                                                              capsys):
    import pipeline.__main__ as pipeline_cli
    from pipeline import spark as spark_module

    assert job.up_to_date(one_run, LOCAL)
    for name, value in one_run.env.items():
        monkeypatch.setenv(name, value)

    def started(*args, **kwargs):
        raise AssertionError("started Spark for a run with nothing new")

    monkeypatch.setattr(spark_module, "build_session", started)
    assert pipeline_cli.main(["silver", "--unchanged-exit-code", "99"]) == 99
    assert capsys.readouterr().out.count(": up to date") == len(SILVER_TABLES)


def test_not_up_to_date_when_bronze_moved_on_or_a_table_has_no_bookmark(tmp_path):
    settings = lake_settings(tmp_path)

    def commit(table: Table, version: int, position: bookmark.Position | None = None) -> None:
        log = Path(table.uri(settings).removeprefix("file:")) / "_delta_log"
        log.mkdir(parents=True, exist_ok=True)
        info = {"operation": "MERGE", **({"userMetadata": position.to_metadata()} if position else {})}
        (log / f"{version:020d}.json").write_text(json.dumps({"commitInfo": info}) + "\n")

    with pytest.raises(job.BronzeMissing):
        job.up_to_date(settings, LOCAL)
    for table in (ORDERS_RAW, PAYMENTS_RAW):
        commit(table, 0)
        commit(table, 1)
    assert not job.up_to_date(settings, LOCAL)  # no Silver table yet
    at_bronze = bookmark.Position(versions={ORDERS_RAW.name: 1, PAYMENTS_RAW.name: 1})
    for table in SILVER_TABLES:
        commit(table, 0, at_bronze)
    assert job.up_to_date(settings, LOCAL)
    commit(PAYMENTS_RAW, 2)
    assert not job.up_to_date(settings, LOCAL)
    for table in SILVER_TABLES:
        commit(table, 1, bookmark.Position(versions={ORDERS_RAW.name: 1, PAYMENTS_RAW.name: 2}))
    assert job.up_to_date(settings, LOCAL)
    commit(QUARANTINE, 2, bookmark.Position())  # a bookmark that records no versions (written before they were)
    assert not job.up_to_date(settings, LOCAL)


def test_silvers_size_is_what_its_tables_hold(spark, one_run):
    sizes = [DeltaTable.forPath(spark, table.uri(one_run)).detail().first()["sizeInBytes"] for table in SILVER_TABLES]
    assert job.silver_size_bytes(one_run, LOCAL) == sum(sizes) > 0


def test_incremental_steps_run_interpreted_without_adaptive_execution():
    assert INTERPRETED.items() <= job.INCREMENTAL_CONF.items()
    assert job.INCREMENTAL_CONF["spark.sql.adaptive.enabled"] == "false"


# A run is a dozen Delta reads, merges and commits: seconds, whatever the row count. So a few
# examples, each cutting every stream on its own (which tries as many splits as there are
# streams), and no shrinking (a failure prints its seed and cuts).
@hypothesis_settings(max_examples=examples(ci=1, thorough=10), deadline=None, phases=(Phase.explicit, Phase.generate),
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seeded=seeded_cuts())
# The first run reads a single message; the last run only the last replay into partition 0.
@example(seeded=(MIXED.seed, arrival_cuts(1, len(DELIVERIES) - 1)))
# Topics apart: in partition 0 every order event comes in the first run and every payment in the
# second; in the other partitions the other way round. The second run changes orders through
# their payments alone, and others through their order events alone.
@example(seeded=(MIXED.seed, {(topic, partition): [len(deliveries) if (topic == ORDERS) == (partition == 0) else 0]
                              for (topic, partition), deliveries in STREAMS.items()}))
def test_k_incremental_runs_equal_one_run_over_everything(spark, one_run_of, tmp_path_factory, seeded):
    seed, cuts = seeded
    settings = lake_settings(tmp_path_factory.mktemp("runs"))
    ingest_in_runs(spark, settings, streams_of(seed), cuts)
    for table in SILVER_TABLES:
        assertDataFrameEqual(silver(spark, settings, table), silver(spark, one_run_of(seed), table),
                             checkRowOrder=False)


def _version(spark: SparkSession, settings: Settings, table: Table) -> int:
    return DeltaTable.forPath(spark, table.uri(settings)).history(1).collect()[0]["version"]


def test_an_incremental_run_quarantines_bytes_that_are_not_utf8_as_the_first_run_would(spark, tmp_path):
    settings = lake_settings(tmp_path)
    kafka = Kafka()
    append(bronze_frames(spark, kafka.deliver([Message(ORDERS, "o-1", order(order_id="o-1"))])), settings)
    job.run(spark, settings)
    # A valid order but for one byte that no UTF-8 text holds, arriving after the bookmark.
    broken = order(order_id="o-2").replace(b'"o-2"', b'"o-\xff2"')
    append(bronze_frames(spark, kafka.deliver([Message(ORDERS, "o-2", broken)])), settings)

    job.run(spark, settings)

    quarantined = silver(spark, settings, QUARANTINE).collect()
    assert [row["reason"] for row in quarantined] == ["invalid_utf8"]
    assert [row["order_id"] for row in silver(spark, settings, ORDERS_CLEAN).collect()] == ["o-1"]


def test_a_table_silver_did_not_write_stops_the_run_untouched_with_what_to_do(spark, tmp_path):
    settings = lake_settings(tmp_path)
    append(bronze_frames(spark, Kafka().deliver(MESSAGES[:5])), settings)
    foreign = ORDERS_CLEAN.uri(settings)
    spark.range(3).write.format("delta").save(foreign)

    with pytest.raises(bookmark.BookmarkError, match=rf"{foreign} holds a Delta table, but none of its last 1 commits "
                                                     r"carries a Silver bookmark .*"
                                                     r"`python -m pipeline silver --full-refresh`"):
        job.run(spark, settings)
    assert _version(spark, settings, ORDERS_CLEAN) == 0


def test_a_broken_bookmark_stops_the_run_and_a_full_refresh_rebuilds_the_table(spark, tmp_path):
    settings = lake_settings(tmp_path)
    append(bronze_frames(spark, Kafka().deliver(MESSAGES)), settings)
    job.run(spark, settings)
    expected = silver(spark, settings, ORDERS_CLEAN).collect()
    uri = ORDERS_CLEAN.uri(settings)
    # Someone's commit on top, with a bookmark that is not one.
    spark.conf.set(job.USER_METADATA, '{"silver_bookmark": {"offsets": 7, "watermark": null}}')
    spark.conf.set(job.SKIP_EMPTY_COMMITS, "false")
    try:
        spark.read.format("delta").load(uri).limit(0).write.format("delta").mode("append").save(uri)
    finally:
        spark.conf.unset(job.USER_METADATA)
        spark.conf.unset(job.SKIP_EMPTY_COMMITS)

    with pytest.raises(bookmark.BookmarkError, match=r"the Silver bookmark in commit 1 of .* is broken \(AttributeError"
                                                     r".*`python -m pipeline silver --full-refresh`"):
        job.run(spark, settings)

    job.run(spark, settings, full_refresh=True)
    assertDataFrameEqual(silver(spark, settings, ORDERS_CLEAN), expected, checkRowOrder=False)
    assert set(job.run(spark, settings).values()) == {job.UP_TO_DATE}
