"""One embedded stack (Kafka + Trino) and one SparkSession for the whole e2e session; a second stack,
with its lakehouse on S3 (s3proxy and the Hive Metastore), for the tests that run on both, started when the
first asks for it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
from pyspark.sql import SparkSession

from pipeline.settings import Settings
from tests.e2e.stacks import running_stack, settings_for


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    return settings_for(tmp_path_factory.mktemp("lakehouse"))


@pytest.fixture(scope="session")
def stack(settings):
    yield from running_stack(settings)


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
    """A lakehouse on S3: the embedded s3proxy (its data under this home) and Hive Metastore, a Kafka and a Trino
    of its own."""
    return settings_for(tmp_path_factory.mktemp("lakehouse-s3"), LAKEHOUSE_URI="s3://e2e-lake/lakehouse")


@pytest.fixture(scope="session")
def s3_stack(s3_settings):
    yield from running_stack(s3_settings)


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


# What the fault tests timed with `recovered`, listed at the end of the session.
RECOVERIES: list[tuple[str, float]] = []


@contextmanager
def _timed(recovery: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    RECOVERIES.append((recovery, time.monotonic() - started))


@pytest.fixture
def recovered() -> Callable[[str], AbstractContextManager[None]]:
    """`with recovered("fault: what the operator does"):` around a recovery, from the operator's action until the
    lakehouse is whole again: how long it took goes into the session's summary."""
    return _timed


def pytest_terminal_summary(terminalreporter) -> None:
    if RECOVERIES:
        terminalreporter.section("recovery after each fault, from the operator's action to a whole lakehouse")
        for recovery, seconds in RECOVERIES:
            terminalreporter.write_line(f"{seconds:6.1f} s  {recovery}")
