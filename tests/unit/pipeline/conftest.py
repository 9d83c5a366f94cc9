"""Fixtures for the pipeline's unit tests that run many small Spark jobs."""

from __future__ import annotations

import pytest

from pipeline.spark import session_conf

# Spark compiles Java for every new plan; on a few hundred rows that costs more than it saves
# (about a quarter of the Silver job's time). Interpreted, a plan runs differently, never to a
# different result.
INTERPRETED = {"spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN"}


@pytest.fixture(scope="module")
def interpreted(spark):
    """The session without code generation for one module, put back as it was afterwards."""
    with session_conf(spark, INTERPRETED):
        yield spark
