"""The cluster profile (`bin/test -e cluster`): a scenario through a Spark standalone master and worker, a Trino
coordinator and a separate worker node, s3proxy and the Hive Metastore. Gold equals the oracle, Spark's tasks ran
in an executor on the worker, and Trino's splits ran on its worker node.

It needs a Spark session of its own on the standalone master, so it runs alone, in a pytest process of its own:
the e2e profile leaves it out (`-m "not cluster"`)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import pytest
from pyspark.sql import SparkSession

from harness import scenarios
from pipeline import catalog
from pipeline.stack import supervisor
from pipeline.stack.process import descendants, listeners
from tests.e2e.stacks import running_stack, settings_for

pytestmark = pytest.mark.cluster

SCENARIO = "mixed"
WORKER = "lakehouse-worker-1"  # the Trino worker node's id; the coordinator's is lakehouse-1
METADATA = re.compile(r"information_schema|\bsystem\.|^\s*show\s", re.IGNORECASE)


@pytest.fixture(scope="module")
def cluster_settings(tmp_path_factory):
    return settings_for(tmp_path_factory.mktemp("lakehouse-cluster"), LAKEHOUSE_URI="s3://cluster-lake/lakehouse",
                        LAKEHOUSE_CLUSTER="1")


@pytest.fixture(scope="module")
def cluster_stack(cluster_settings):
    yield from running_stack(cluster_settings)


@pytest.fixture(scope="module")
def cluster_spark(cluster_settings, cluster_stack):
    from pipeline.spark import build_session

    active = SparkSession.getActiveSession()
    if active is not None and not active.sparkContext.master.startswith("spark://"):
        pytest.fail("the cluster profile needs a Spark session on the standalone master: run it alone, "
                    "`bin/test -e cluster` (pytest tests/e2e -m cluster)")
    session = build_session(cluster_settings, "lakehouse-cluster-e2e")
    yield session
    session.stop()


def test_a_scenario_on_the_cluster_equals_the_oracle_with_the_work_on_the_workers(cluster_settings, cluster_stack,
                                                                                   cluster_spark):
    running = {s.name for s in supervisor.status(cluster_settings) if s.running}
    assert running == {"s3proxy", "hms", "kafka", "trino", "trino-worker", "spark-master", "spark-worker"}
    assert cluster_spark.sparkContext.master == cluster_settings.spark_master
    assert cluster_settings.spark_master.startswith("spark://127.0.0.1:")

    outcome = scenarios.run(cluster_spark, cluster_settings, SCENARIO)

    assert outcome.result.actual == outcome.expected.gold, outcome.result.summary(outcome.title)
    assert outcome.matches, outcome.result.summary(outcome.title)
    # Spark: an executor besides the driver, on the standalone worker, ran the jobs' tasks.
    executors = cluster_spark.sparkContext._jsc.sc().statusTracker().getExecutorInfos()
    assert len(executors) >= 2, "only the driver: no executor registered from the worker"
    # Trino: the coordinator plans, serves metadata (system and information_schema tables, SHOW) and commits
    # writes; every query that reads tables ran its splits on the worker node.
    tasks = catalog.query(cluster_settings, "SELECT q.query_id, q.query, t.node_id, t.splits "
                                            "FROM system.runtime.tasks t JOIN system.runtime.queries q "
                                            "ON q.query_id = t.query_id")
    splits: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for query_id, query, node, count in tasks:
        if not METADATA.search(query):
            splits[query_id, query][node] += count
    assert sum(nodes[WORKER] for nodes in splits.values()) > 0, tasks
    not_on_worker = [query[:300] for (_, query), nodes in splits.items() if sum(nodes.values()) and not nodes[WORKER]]
    assert not not_on_worker, not_on_worker
    # Every node listens on loopback only, the executor below the Spark worker included.
    found = {service.name: listeners([service.pid, *descendants(service.pid)])
             for service in supervisor.status(cluster_settings)}
    assert all(found.values()), f"a server with no listening socket found: {found}"
    outside = [(name, listener) for name, here in found.items() for listener in here if not listener.is_loopback()]
    assert not outside, f"listening beyond loopback: {outside}"
