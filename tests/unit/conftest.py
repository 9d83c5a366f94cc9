"""The one SparkSession of the unit tests: local, in UTC, with Delta (for the Silver job on a temporary lake), no servers."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession

from pipeline.settings import Settings
from pipeline.stack import artifacts
from pipeline.stack.java import find_java_home


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    # pyspark turns collected timestamps into naive datetimes in this process's zone: make it UTC too.
    os.environ["TZ"] = "UTC"
    time.tzset()
    # pyspark starts its JVM from JAVA_HOME; Spark 4.2 runs on Java 17 or 21.
    os.environ["JAVA_HOME"] = str(find_java_home("Spark", minimum=17, maximum=21))
    settings = Settings.from_env()
    artifacts.require(settings, artifacts.SPARK)  # tox's unit env runs `python -m pipeline fetch spark` first
    session = (
        SparkSession.builder.appName("unit-tests")
        .master("local[2]")
        .config("spark.jars", ",".join(str(jar) for jar in artifacts.spark_jars(settings)))
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.databricks.delta.snapshotPartitions", "2")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.databricks.delta.properties.defaults.enableDeletionVectors", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
