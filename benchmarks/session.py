"""The benchmarks' one SparkSession: built on first use, shared by every figure of the run, stopped at its end."""

from __future__ import annotations

import sys

from pipeline.settings import Settings

APP_NAME = "lakehouse-benchmarks"


def spark(settings: Settings):
    """The run's session (build_session returns the running one when there is one)."""
    from pipeline.spark import build_session

    return build_session(settings, APP_NAME)


def stop() -> None:
    """Stop the session if a figure started one; nothing to do (and no pyspark import) otherwise."""
    if "pyspark" not in sys.modules:
        return
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()
