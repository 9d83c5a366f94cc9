"""The cluster profile's settings, and the Spark master and worker and the Trino worker node the stack would
start, without starting them."""

from __future__ import annotations

import sys
from pathlib import Path

import pyspark
import pytest

from pipeline.settings import Settings, SettingsError
from pipeline.stack import spark_cluster, supervisor, trino
from pipeline.stack.supervisor import write_entry

PYSPARK_HOME = Path(pyspark.__file__).resolve().parent


@pytest.fixture
def cluster(tmp_path) -> Settings:
    return Settings.from_env({"LAKEHOUSE_HOME": str(tmp_path / "home"), "LAKEHOUSE_CLUSTER": "1",
                              "SPARK_CORES_MAX": "2", "SPARK_EXECUTOR_MEMORY": "768m"})


def test_the_jobs_run_on_the_stacks_master_once_it_runs(cluster):
    with pytest.raises(SettingsError, match="LAKEHOUSE_CLUSTER=1, but the Spark master is not running.*stack up"):
        cluster.spark_master
    write_entry(cluster, "spark-master", {"pid": None, "port": 7177, "web_port": 8180})
    assert cluster.spark_master == "spark://127.0.0.1:7177"


def test_an_explicit_master_wins_and_the_stack_then_starts_none(cluster):
    external = Settings.from_env({**cluster.env, "SPARK_MASTER": "spark://spark:7077"})
    assert (external.spark_master, external.embedded_spark_cluster) == ("spark://spark:7077", False)
    local = Settings.from_env({"LAKEHOUSE_HOME": str(cluster.home)})
    assert (local.spark_master, local.cluster, local.embedded_spark_cluster) == ("local[2]", False, False)


def test_the_stack_starts_master_then_worker_only_in_the_cluster_profile(cluster):
    assert supervisor.services(cluster) == ("kafka", "trino", "trino-worker", "spark-master", "spark-worker")
    external = Settings.from_env({**cluster.env, "SPARK_MASTER": "spark://spark:7077"})
    assert supervisor.services(external) == ("kafka", "trino", "trino-worker")
    assert supervisor.services(Settings.from_env({"LAKEHOUSE_HOME": str(cluster.home)})) == ("kafka", "trino")


@pytest.mark.parametrize("env, message", [
    ({"LAKEHOUSE_CLUSTER": "on"}, r"LAKEHOUSE_CLUSTER='on': use 1 to turn it on, or 0"),
    ({"SPARK_EXECUTOR_MEMORY": "1.5g"}, r"SPARK_EXECUTOR_MEMORY='1.5g': give a size in mebibytes or gibibytes"),
    ({"SPARK_EXECUTOR_MEMORY": "1024"}, r"SPARK_EXECUTOR_MEMORY='1024'"),
    ({"SPARK_CORES_MAX": "0"}, r"SPARK_CORES_MAX=0 must be at least 1"),
])
def test_a_wrong_cluster_setting_says_what_to_do(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def _option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_the_master_runs_pyspark_jars_on_loopback_with_a_small_heap(cluster, tmp_path):
    spec = spark_cluster.prepare_master(cluster, java_home=tmp_path / "jdk", port=7177, web_port=8180)

    assert spec.name == "spark-master"
    assert spec.argv[:3] == [str(tmp_path / "jdk" / "bin" / "java"), "-Xmx256m", "-XX:+UseSerialGC"]
    assert _option(spec.argv, "-cp") == f"{PYSPARK_HOME}/jars/*"
    assert spec.argv[spec.argv.index("-cp") + 2:] == [
        "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", "7177", "--webui-port", "8180"]
    assert "-Dspark.master.rest.enabled=false" in spec.argv  # no REST submission server, on any address
    # The web UI binds SPARK_LOCAL_IP, every interface without it.
    assert spec.env["SPARK_LOCAL_IP"] == "127.0.0.1"
    assert (spec.env["JAVA_HOME"], spec.env["SPARK_HOME"]) == (str(tmp_path / "jdk"), str(PYSPARK_HOME))
    # The stack tells its own processes from others by their folder under the run dir.
    assert spec.cwd == cluster.run_dir / "spark-master" and spec.log.parent == spec.cwd


def test_the_worker_offers_room_for_three_jobs_and_keeps_its_files_under_the_run_dir(cluster, tmp_path):
    spec = spark_cluster.prepare_worker(cluster, java_home=tmp_path / "jdk", port=7178, web_port=8181,
                                        master_port=7177, master_web_port=8180)

    base = cluster.run_dir / "spark-worker"
    main = spec.argv.index("org.apache.spark.deploy.worker.Worker")
    assert spec.argv[main:] == [
        "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--port", "7178", "--webui-port", "8181",
        "--cores", "6", "--memory", "2304m", "--work-dir", str(base / "work"), "spark://127.0.0.1:7177"]
    assert "-Dspark.worker.cleanup.enabled=true" in spec.argv
    assert {name: spec.env[name] for name in ("SPARK_LOCAL_IP", "SPARK_LOCAL_DIRS", "SPARK_SCALA_VERSION",
                                              "PYSPARK_PYTHON", "SPARK_HOME")} == {
        "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_LOCAL_DIRS": str(base / "local"), "SPARK_SCALA_VERSION": "2.13",
        "PYSPARK_PYTHON": sys.executable, "SPARK_HOME": str(PYSPARK_HOME)}
    assert (base / "work").is_dir() and (base / "local").is_dir()


@pytest.mark.parametrize("executor, worker", [("1g", "3g"), ("768m", "2304m"), ("2g", "6g")])
def test_worker_memory_is_three_executors(executor, worker):
    assert spark_cluster.worker_memory(executor) == worker


def test_the_worker_is_ready_once_the_master_lists_it_alive(monkeypatch):
    # After a restart on the same port, the master may still list the worker that ran there before, as DEAD.
    views = iter([None,
                  {"status": "ALIVE", "workers": []},
                  {"status": "ALIVE", "workers": [{"port": 7178, "state": "DEAD"}, {"port": 7999, "state": "ALIVE"}]},
                  {"status": "ALIVE", "workers": [{"port": 7178, "state": "DEAD"}, {"port": 7178, "state": "ALIVE"}]}])
    monkeypatch.setattr(spark_cluster, "master_state", lambda web_port: next(views))

    assert [spark_cluster.worker_is_registered(8180, 7178) for _ in range(4)] == [False, False, False, True]


def test_the_trino_coordinator_leaves_every_split_to_its_worker_node_in_the_cluster_profile(cluster, tmp_path):
    coordinator = trino.prepare(cluster, java_home=tmp_path, port=8123)
    worker = trino.prepare_worker(cluster, java_home=tmp_path, port=8124, coordinator_port=8123)
    config = {name: (cluster.run_dir / name / "etc" / "config.properties").read_text().splitlines()
              for name in ("trino", "trino-worker")}
    assert "node-scheduler.include-coordinator=false" in config["trino"]
    assert {"coordinator=false", "http-server.http.port=8124", "discovery.uri=http://127.0.0.1:8123"} <= \
        set(config["trino-worker"])
    assert not any(line.startswith("access-control") for line in config["trino-worker"])  # the coordinator's job
    assert (_option_value(coordinator.argv, "-Dnode.id"), _option_value(worker.argv, "-Dnode.id")) == \
        ("lakehouse-1", "lakehouse-worker-1")
    assert "-Dnode.bind-ip=127.0.0.1" in worker.argv
    assert worker.log == cluster.run_dir / "trino-worker" / "trino-worker.log"
    # Each node reads the same catalogs, from a folder of its own.
    catalogs = [cluster.run_dir / name / "etc" / "catalog" / "delta.properties" for name in ("trino", "trino-worker")]
    assert catalogs[0].read_text() == catalogs[1].read_text() == trino.catalogs(cluster)["delta"]
    local = Settings.from_env({"LAKEHOUSE_HOME": str(tmp_path / "local")})
    trino.prepare(local, java_home=tmp_path, port=8125)
    assert "node-scheduler.include-coordinator=true" in \
        (local.run_dir / "trino" / "etc" / "config.properties").read_text().splitlines()


def _option_value(argv: list[str], name: str) -> str:
    [value] = [arg.partition("=")[2] for arg in argv if arg.startswith(f"{name}=")]
    return value
