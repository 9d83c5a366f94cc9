"""Empty the pipeline's data while Kafka and Trino keep running: the start of a scenario run."""

from __future__ import annotations

import shutil
import time

from kafka.admin import KafkaAdminClient
from pyspark.sql import SparkSession

from pipeline import catalog, objectstore, topics
from pipeline.settings import Settings
from pipeline.catalog import PIPELINE_SCHEMAS

TOPIC_DELETION_TIMEOUT_SECONDS = 30


def empty(settings: Settings, spark: SparkSession | None = None, log=print) -> None:
    """Delete the topics' messages and every Bronze, Silver and Gold table with its checkpoints.

    Only the pipeline's own schemas go; anything else in the catalog stays. `spark`, when given,
    forgets the Delta logs it cached for the deleted tables.
    """
    _drop_schemas(settings)
    for folder in (*PIPELINE_SCHEMAS, "_checkpoints"):
        if settings.on_s3:
            objectstore.delete_prefix(settings, f"{settings.lakehouse_uri}/{folder}")
        else:
            shutil.rmtree(settings.lake_path / folder, ignore_errors=True)
    if spark is not None:
        spark._jvm.org.apache.spark.sql.delta.DeltaLog.clearCache()
    _recreate_topics(settings)
    log(f"  emptied topics {settings.topic_order_events}, {settings.topic_payment_events} and the lakehouse "
        f"schemas {', '.join(PIPELINE_SCHEMAS)}")


def _drop_schemas(settings: Settings) -> None:
    rows = catalog.query(settings, f"SELECT table_schema, table_name, table_type FROM {catalog.CATALOG}."
                                   f"information_schema.tables WHERE table_schema IN "
                                   f"({', '.join('?' * len(PIPELINE_SCHEMAS))})", PIPELINE_SCHEMAS)
    for schema, table, kind in rows:
        what = "VIEW" if kind == "VIEW" else "TABLE"
        catalog.query(settings, f'DROP {what} IF EXISTS {catalog.CATALOG}.{schema}."{table}"')
    for schema in PIPELINE_SCHEMAS:
        catalog.query(settings, f"DROP SCHEMA IF EXISTS {catalog.CATALOG}.{schema}")


def _recreate_topics(settings: Settings) -> None:
    names = {settings.topic_order_events, settings.topic_payment_events}
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="lakehouse-admin")
    try:
        present = names & set(admin.list_topics())
        if present:
            admin.delete_topics(sorted(present))
        deadline = time.monotonic() + TOPIC_DELETION_TIMEOUT_SECONDS
        # Deletion is asynchronous; a topic created before it finishes would keep the old messages.
        while names & set(admin.list_topics()):
            if time.monotonic() > deadline:
                raise topics.KafkaUnavailable(f"Kafka did not delete {sorted(present)} within "
                                              f"{TOPIC_DELETION_TIMEOUT_SECONDS}s; see its log "
                                              "(`python -m pipeline stack status`)")
            time.sleep(0.2)
    finally:
        admin.close()
    topics.ensure_topics(settings)
