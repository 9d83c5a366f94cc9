"""The one SparkSession of the unit tests: the jobs' own (pipeline.spark.build_session), local, on a temporary home."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession

from pipeline.settings import Settings
from pipeline.spark import build_session


@pytest.fixture(scope="session")
def spark(tmp_path_factory) -> Iterator[SparkSession]:
    # pyspark turns collected timestamps into naive datetimes in this process's zone: make it UTC too.
    os.environ["TZ"] = "UTC"
    time.tzset()
    # Small jobs on few rows: two cores, two shuffle partitions. The JVM cache stays the user's (tox's unit
    # env runs `python -m pipeline fetch spark` first); the lake the environment may name is not touched.
    env = {**os.environ, "LAKEHOUSE_HOME": str(tmp_path_factory.mktemp("lakehouse")),
           "SPARK_MASTER": "local[2]", "SPARK_SHUFFLE_PARTITIONS": "2"}
    env.pop("LAKEHOUSE_URI", None)
    session = build_session(Settings.from_env(env), "unit-tests")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
