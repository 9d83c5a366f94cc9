"""The cluster profile's Spark: a standalone master and one worker, JVMs from pyspark's own distribution, on loopback."""

from __future__ import annotations

import json
import re
import sys
import urllib.request
from pathlib import Path

from pipeline.settings import Settings
from pipeline.stack.process import ProcessSpec

# In start order: the worker registers with the master.
SERVICES = ("spark-master", "spark-worker")
START_TIMEOUT_SECONDS = 90
DAEMON_HEAP = "256m"
# Jobs the worker runs at once, each with an executor of SPARK_CORES_MAX cores and SPARK_EXECUTOR_MEMORY:
# `pipeline run` with `maintain` beside it, or Airflow's Bronze and Silver tasks, plus one more. A job
# that finds no room waits for one; more cores than the machine has only means they share it.
APPLICATIONS = 3
# A stopped job's folder (its executors' logs and the 31 MiB of jars they fetched) goes after an hour.
WORK_DIR_TTL_SECONDS = 3600


def spark_home() -> Path:
    """pyspark's package folder is a Spark distribution: jars/, bin/, and the executors' launcher reads it."""
    import pyspark  # not in Airflow's virtualenv, which imports the stack but never starts a cluster

    return Path(pyspark.__file__).resolve().parent


def scala_version() -> str:
    """The Scala version pyspark's jars are built for, from spark-core's name (spark-core_2.13-4.2.0.jar)."""
    core = next((spark_home() / "jars").glob("spark-core_*.jar"))
    return core.name.removeprefix("spark-core_").split("-")[0]


def _java(java_home: Path, *properties: str) -> list[str]:
    return [str(java_home / "bin" / "java"), f"-Xmx{DAEMON_HEAP}", "-XX:+UseSerialGC", "-Duser.timezone=UTC",
            *(f"-D{p}" for p in properties), "-cp", str(spark_home() / "jars" / "*")]


def _env(settings: Settings, java_home: Path) -> dict[str, str]:
    return {
        **settings.env,
        "JAVA_HOME": str(java_home),
        "SPARK_HOME": str(spark_home()),
        # The worker's launcher of executors looks for a source build's folders without it (bin/spark-class
        # sets it too).
        "SPARK_SCALA_VERSION": scala_version(),
        # The web UIs bind where SPARK_LOCAL_IP says, every interface without it; executors inherit it.
        "SPARK_LOCAL_IP": "127.0.0.1",
        # Executors start Python workers with the driver's interpreter (PYSPARK_PYTHON, set by the driver),
        # falling back to this one: the project's, which has pyspark.
        "PYSPARK_PYTHON": settings.env.get("PYSPARK_PYTHON") or sys.executable,
    }


def master_url(port: int) -> str:
    return f"spark://127.0.0.1:{port}"


def master_state(web_port: int) -> dict | None:
    """The master's own view (its UI's JSON: status, workers, applications), None while it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/json/", timeout=2) as response:
            return json.load(response)
    except (OSError, ValueError):
        return None


def master_is_alive(web_port: int) -> bool:
    state = master_state(web_port)
    return bool(state) and state.get("status") == "ALIVE"


def worker_is_registered(master_web_port: int, worker_port: int) -> bool:
    """The worker listening on `worker_port` is among the master's live workers: jobs can get executors."""
    state = master_state(master_web_port) or {}
    return any(worker.get("state") == "ALIVE" and worker.get("port") == worker_port
               for worker in state.get("workers", []))


def prepare_master(settings: Settings, java_home: Path, port: int, web_port: int) -> ProcessSpec:
    base = settings.run_dir / "spark-master"
    base.mkdir(parents=True, exist_ok=True)
    return ProcessSpec(
        name="spark-master",
        argv=[*_java(java_home, "spark.master.rest.enabled=false"), "org.apache.spark.deploy.master.Master",
              "--host", "127.0.0.1", "--port", str(port), "--webui-port", str(web_port)],
        env=_env(settings, java_home),
        cwd=base,
        log=base / "spark-master.log",
        ready=lambda: master_is_alive(web_port),
        start_timeout=START_TIMEOUT_SECONDS,
    )


def worker_memory(executor_memory: str, applications: int = APPLICATIONS) -> str:
    """Room for `applications` executors of `executor_memory` each (a size such as 1g or 512m)."""
    amount, unit = re.fullmatch(r"(\d+)([mg])", executor_memory).groups()
    return f"{int(amount) * applications}{unit}"


def prepare_worker(settings: Settings, java_home: Path, port: int, web_port: int, master_port: int,
                   master_web_port: int) -> ProcessSpec:
    base = settings.run_dir / "spark-worker"
    work_dir = base / "work"
    local_dir = base / "local"
    for folder in (work_dir, local_dir):
        folder.mkdir(parents=True, exist_ok=True)
    return ProcessSpec(
        name="spark-worker",
        argv=[*_java(java_home, "spark.worker.cleanup.enabled=true",
                     f"spark.worker.cleanup.appDataTtl={WORK_DIR_TTL_SECONDS}"),
              "org.apache.spark.deploy.worker.Worker",
              "--host", "127.0.0.1", "--port", str(port), "--webui-port", str(web_port),
              "--cores", str(APPLICATIONS * settings.spark_cores_max),
              "--memory", worker_memory(settings.spark_executor_memory),
              "--work-dir", str(work_dir), master_url(master_port)],
        # Executors' shuffle and spill files under the run dir, not /tmp.
        env={**_env(settings, java_home), "SPARK_LOCAL_DIRS": str(local_dir)},
        cwd=base,
        log=base / "spark-worker.log",
        ready=lambda: worker_is_registered(master_web_port, port),
        start_timeout=START_TIMEOUT_SECONDS,
    )
