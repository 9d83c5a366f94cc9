"""One embedded stack (Kafka + Trino) and one SparkSession for the whole e2e session."""

from __future__ import annotations

import os

import pytest

from pipeline.settings import Settings
from pipeline.stack import artifacts, supervisor
from pipeline.stack.process import is_alive


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    # A fresh lakehouse and fresh ports per session; the JVM cache is shared with the user's.
    home = tmp_path_factory.mktemp("lakehouse")
    env = {**os.environ, "LAKEHOUSE_HOME": str(home), "KAFKA_PORT": "0", "TRINO_HTTP_PORT": "0"}
    for external in ("KAFKA_BOOTSTRAP", "TRINO_HOST", "TRINO_PORT", "LAKEHOUSE_URI"):
        env.pop(external, None)
    return Settings.from_env(env)


@pytest.fixture
def fast(settings) -> Settings:
    """The session's stack, with the continuous pipeline's cadence short enough for a test."""
    return Settings.from_env({**settings.env, "BRONZE_TRIGGER_SECONDS": "1", "SILVER_INTERVAL_SECONDS": "2"})


@pytest.fixture(scope="session")
def stack(settings):
    artifacts.fetch(settings)
    yield supervisor.up(settings)
    # The services as they run at the end: a test may have restarted one.
    services = supervisor.status(settings)
    supervisor.down(settings)
    leftovers = [s for s in services if is_alive(s.pid, str(settings.run_dir))]
    assert not leftovers, f"stack down left processes behind: {leftovers}"


@pytest.fixture(scope="session")
def spark(settings, stack):
    from pipeline.spark import build_session

    session = build_session(settings, "lakehouse-e2e")
    yield session
    session.stop()
