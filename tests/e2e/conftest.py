"""One embedded stack (Kafka + Trino) and one SparkSession for the whole e2e session; a second stack,
with its lakehouse on S3 (s3proxy), for the tests that run on both, started when the first asks for it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from pipeline.settings import Settings
from pipeline.stack import artifacts, supervisor
from pipeline.stack.process import is_alive


def _settings(home: Path, **extra: str) -> Settings:
    # A fresh lakehouse and fresh ports per session; the JVM cache is shared with the user's.
    env = {**os.environ, "LAKEHOUSE_HOME": str(home), "KAFKA_PORT": "0", "TRINO_HTTP_PORT": "0", **extra}
    for external in ("KAFKA_BOOTSTRAP", "TRINO_HOST", "TRINO_PORT", "LAKEHOUSE_URI", "S3_ENDPOINT"):
        if external not in extra:
            env.pop(external, None)
    return Settings.from_env(env)


def _stack(settings: Settings) -> Iterator[list]:
    artifacts.fetch(settings)
    yield supervisor.up(settings)
    # The services as they run at the end: a test may have restarted one.
    services = supervisor.status(settings)
    supervisor.down(settings)
    leftovers = [s for s in services if is_alive(s.pid, str(settings.run_dir))]
    assert not leftovers, f"stack down left processes behind: {leftovers}"


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    return _settings(tmp_path_factory.mktemp("lakehouse"))


@pytest.fixture(scope="session")
def stack(settings):
    yield from _stack(settings)


@pytest.fixture
def fast(settings) -> Settings:
    """The session's stack, with the continuous pipeline's cadence short enough for a test."""
    return Settings.from_env({**settings.env, "BRONZE_TRIGGER_SECONDS": "1", "SILVER_INTERVAL_SECONDS": "2"})


@pytest.fixture(scope="session")
def spark(settings, stack):
    from pipeline.spark import build_session

    session = build_session(settings, "lakehouse-e2e")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def s3_settings(tmp_path_factory) -> Settings:
    """A lakehouse on S3: the embedded s3proxy (its data under this home), a Kafka and a Trino of its own."""
    return _settings(tmp_path_factory.mktemp("lakehouse-s3"), LAKEHOUSE_URI="s3://e2e-lake/lakehouse")


@pytest.fixture(scope="session")
def s3_stack(s3_settings):
    yield from _stack(s3_settings)


@pytest.fixture(scope="session")
def s3_spark(s3_settings, s3_stack):
    """The process's one SparkSession (the `spark` fixture's, whichever asks first), which then also
    reaches the S3 lakehouse's bucket."""
    from pipeline.spark import build_session

    return build_session(s3_settings, "lakehouse-e2e")


@pytest.fixture(scope="module", params=["local", "s3"])
def lake(request) -> tuple[Settings, SparkSession]:
    """The settings and Spark session of a module's tests, run once on each storage: the local file
    system (copy-on-write Gold), then S3 (Gold MERGEd)."""
    if request.param == "local":
        return request.getfixturevalue("settings"), request.getfixturevalue("spark")
    return request.getfixturevalue("s3_settings"), request.getfixturevalue("s3_spark")
