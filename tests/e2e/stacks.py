"""The e2e sessions' stacks: settings for a fresh LAKEHOUSE_HOME, and a stack started for a session and checked
to leave nothing behind when it stops."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from pipeline.settings import Settings
from pipeline.stack import artifacts, supervisor
from pipeline.stack.process import is_alive


def settings_for(home: Path, **extra: str) -> Settings:
    # A fresh lakehouse and fresh ports per session; the JVM cache is shared with the user's.
    env = {**os.environ, "LAKEHOUSE_HOME": str(home), "KAFKA_PORT": "0", "TRINO_HTTP_PORT": "0", **extra}
    for external in ("KAFKA_BOOTSTRAP", "TRINO_HOST", "TRINO_PORT", "LAKEHOUSE_URI", "S3_ENDPOINT", "METASTORE",
                     "HIVE_METASTORE_URI", "LAKEHOUSE_CLUSTER", "SPARK_MASTER"):
        if external not in extra:
            env.pop(external, None)
    return Settings.from_env(env)


def running_stack(settings: Settings) -> Iterator[list]:
    artifacts.fetch(settings)
    try:
        started = supervisor.up(settings)
    except BaseException:
        supervisor.down(settings)  # what started before the failure
        raise
    yield started
    # The services as they run at the end: a test may have restarted one.
    services = supervisor.status(settings)
    supervisor.down(settings)
    leftovers = [s for s in services if is_alive(s.pid, str(settings.run_dir))]
    assert not leftovers, f"stack down left processes behind: {leftovers}"
