"""Late events in waves: Gold equals the oracle after every pipeline run, and a full refresh changes nothing;
on the local file system (Gold copy-on-write, file metastore) and on S3 (Gold MERGEd, Hive Metastore)."""

from __future__ import annotations

import pytest

from harness import reconcile
from pipeline import catalog, gold, lag, lakehouse, run
from pipeline.silver import job as silver
from simulator import eventlog
from simulator.oracle import expect as oracle
from simulator.producer import produce
from simulator.scenario import load

WAVES = 4
GOLD_TABLE = "SELECT * FROM delta.gold.fct_sales_minute ORDER BY minute_bucket"


@pytest.fixture(scope="module")
def late_events(lake):
    settings, spark = lake
    lakehouse.empty(settings, spark)
    return load("late_events").messages(settings.topic_order_events, settings.topic_payment_events)


def test_gold_equals_the_oracle_after_every_wave(lake, late_events, tmp_path):
    settings, spark = lake
    size = -(-len(late_events) // WAVES)
    logs = []
    for wave in range(WAVES):
        end = min(len(late_events), (wave + 1) * size)
        logs.append(tmp_path / f"wave-{wave + 1}.jsonl")
        eventlog.write(logs[-1], late_events[wave * size:end])
        produce(late_events[wave * size:end], settings.kafka_bootstrap)
        run.run_once(spark, settings)
        expected = oracle(late_events[:end], settings.topic_order_events, settings.topic_payment_events)
        result = reconcile.reconcile(settings, expected, logs)
        assert result.matches, f"after wave {wave + 1} of {WAVES}:\n" + result.summary("late_events in waves")
        # How dbt wrote Gold this time: the statement it ran last for the model.
        written = (gold.target_dir(settings) / "run" / "lakehouse" / "models" / "gold" / "fct_sales_minute.sql")
        statement = written.read_text().strip().lower()
        if wave > 0:
            assert statement.startswith("merge into" if settings.on_s3 else "create table"), statement[:300]
    # `pipeline lag` reads the same Delta logs and Bronze checkpoints without Spark (on S3 through boto3):
    # every Silver table has caught up with Bronze.
    assert [(silver_lag.table, silver_lag.problem, silver_lag.behind) for silver_lag in lag.measure(settings).silver] \
        == [(table.qualified, None, 0) for table, _ in silver.STEPS]


def test_a_full_refresh_of_gold_equals_its_incremental_runs(lake, late_events):
    settings, _ = lake
    incremental = catalog.query(settings, GOLD_TABLE)
    assert incremental, "the waves should have produced Gold"
    gold.build(settings, full_refresh=True, quiet=True)
    assert catalog.query(settings, GOLD_TABLE) == incremental
    if settings.metastore == "hms":
        # The Hive Metastore is the catalog of both Trino connectors: `hive` finds Gold there too, and
        # redirects it to `delta`.
        assert catalog.query(settings, GOLD_TABLE.replace("delta.gold", "hive.gold")) == incremental


def test_a_full_refresh_of_silver_equals_its_incremental_runs(lake, late_events):
    settings, spark = lake
    incremental = {table: _silver_rows(spark, settings, table) for table, _ in silver.STEPS}
    silver.run(spark, settings, full_refresh=True)
    for table, rows in incremental.items():
        assert _silver_rows(spark, settings, table) == rows, table.qualified


def _silver_rows(spark, settings, table) -> list:
    frame = spark.read.format("delta").load(table.uri(settings))
    # updated_ts is the watermark of the run that last changed the order: it differs by design.
    columns = sorted(c for c in frame.columns if c != "updated_ts")
    return sorted((tuple(row) for row in frame.select(*columns).collect()), key=repr)
