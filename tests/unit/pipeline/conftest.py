"""Fixtures for the pipeline's unit tests that run many small Spark jobs."""

from __future__ import annotations

import pytest

from pipeline.spark import INTERPRETED, session_conf


@pytest.fixture(scope="module")
def interpreted(spark):
    """The session without code generation for one module, put back as it was afterwards: generated code costs
    the unit tests' few hundred rows more than it saves (about a quarter of the Silver job's time)."""
    with session_conf(spark, INTERPRETED):
        yield spark
