"""`stack up|down|status`: the one place that knows which processes make the embedded stack."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline import locks
from pipeline.settings import Settings
from pipeline.stack import artifacts, hms, kafka, s3proxy, spark_cluster, trino
from pipeline.stack.java import find_java_home
from pipeline.stack.process import choose_port, is_alive, port_is_taken, start, stop

# In start order: an S3 lakehouse's s3proxy first, then the Hive Metastore that reaches the bucket, then
# Trino, whose catalogs use both (and in the cluster profile its worker node, and Spark's master and worker).
SERVICES = ("s3proxy", "hms", "kafka", "trino", "trino-worker", *spark_cluster.SERVICES)


def services(settings: Settings) -> tuple[str, ...]:
    """The services this configuration runs, plus any other the state file says was started (to stop it)."""
    started = read_state(settings)
    return tuple(name for name in SERVICES if _configured(settings, name) or started.get(name, {}).get("pid"))


def _configured(settings: Settings, name: str) -> bool:
    if name == "s3proxy":
        return settings.embedded_s3
    if name == "hms":
        return settings.embedded_hms
    if name == "trino-worker":
        return settings.cluster
    if name in spark_cluster.SERVICES:
        return settings.embedded_spark_cluster
    return True


@dataclass(frozen=True)
class ServiceStatus:
    """One process the stack started (Kafka, Trino, an Airflow component, Superset), as its status shows it."""

    name: str
    pid: int | None
    port: int | None
    running: bool
    log: str

    def line(self) -> str:
        if not self.running:
            return f"{self.name:14} stopped"
        address = f"127.0.0.1:{self.port:<6} " if self.port else ""
        return f"{self.name:14} running  pid {self.pid:<7} {address}log {self.log}"


def read_state(settings: Settings) -> dict:
    try:
        return json.loads(settings.state_file.read_text())
    except FileNotFoundError:
        return {}


def read_entry(settings: Settings, key: str) -> dict:
    """One service's entry in the stack's state file ({} when it has none)."""
    return read_state(settings).get(key, {})


def write_entry(settings: Settings, key: str, entry: dict) -> None:
    """Replace one service's entry; the file holds the other services' entries too, which stay as they are."""
    state = read_state(settings)
    state[key] = entry
    write_state(settings, state)


def write_state(settings: Settings, state: dict) -> None:
    settings.state_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = settings.state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.replace(settings.state_file)


def _marker(settings: Settings) -> str:
    # Every process of this stack has its run dir on its command line; a pid that does not
    # is someone else's (pids are reused).
    return str(settings.run_dir)


def status(settings: Settings) -> list[ServiceStatus]:
    state = read_state(settings)
    result = []
    for name in services(settings):
        entry = state.get(name, {})
        running = is_alive(entry.get("pid"), _marker(settings))
        result.append(ServiceStatus(name, entry.get("pid"), entry.get("port"), running, entry.get("log", "")))
    return result


def keep_port(earlier: int | None, configured: int, variable: str) -> int:
    # Keep the port of the previous run when it is free, so addresses stay stable across restarts.
    if configured == 0 and earlier and not port_is_taken(earlier):
        return earlier
    return choose_port(configured, variable)


def stack_lock(settings: Settings) -> Path:
    return settings.run_dir / "stack.lock"


def up(settings: Settings, log=print) -> list[ServiceStatus]:
    """Start what is not running; what runs already is reused. Two at once on one LAKEHOUSE_HOME: the
    second waits for the first, then finds its services running."""
    with locks.holding(stack_lock(settings), f"the stack of {settings.home}", wait=True, log=log):
        return _up(settings, log)


def _up(settings: Settings, log) -> list[ServiceStatus]:
    artifacts.require(settings, *(c for c in artifacts.needed(settings) if c is not artifacts.SPARK))
    state = read_state(settings)
    running = {s.name for s in status(settings) if s.running}
    for name in services(settings):
        if name in running:
            log(f"  {name}: already running (pid {state[name]['pid']}), reused")
            _after_start(settings, name, log)
            continue
        previous = state.get(name, {})
        started = time.monotonic()
        component, java_home, port, spec, extra = _prepare(settings, name, previous)
        log(f"  {name}: starting on 127.0.0.1:{port} (Java at {java_home}) …")
        # The server holds its folder in the JVM cache in use (shared) while it runs: no fetch replaces it.
        with locks.holding(component.in_use_lock(settings), str(component.directory(settings)),
                           shared=True) as in_use:
            pid = start(spec, keep_open=(in_use,))
        state[name] = {"pid": pid, "port": port, "log": str(spec.log), "java_home": str(java_home), **extra}
        write_state(settings, state)
        log(f"  {name}: ready in {time.monotonic() - started:.1f}s")
        _after_start(settings, name, log)
    if settings.on_s3 and not settings.embedded_s3:
        _bucket(settings, log)
    return status(settings)


def _prepare(settings: Settings, name: str, previous: dict):
    """(component, java home, port, process spec, extra state) of one service about to start."""
    if name == "s3proxy":
        java_home = find_java_home("s3proxy", minimum=17)
        port = keep_port(previous.get("port"), settings.s3_port, "S3_PORT")
        return artifacts.S3PROXY, java_home, port, s3proxy.prepare(settings, java_home, port), {}
    if name == "hms":
        java_home = find_java_home("the Hive Metastore", minimum=17)
        port = keep_port(previous.get("port"), settings.metastore_port, "METASTORE_PORT")
        return artifacts.HMS, java_home, port, hms.prepare(settings, java_home, port), {}
    if name == "kafka":
        java_home = find_java_home("Kafka", minimum=17)
        port = keep_port(previous.get("port"), settings.kafka_port, "KAFKA_PORT")
        controller_port = keep_port(previous.get("controller_port"), 0, "KAFKA_PORT")
        spec = kafka.prepare(settings, java_home, port, controller_port)
        return artifacts.KAFKA, java_home, port, spec, {"controller_port": controller_port}
    if name in spark_cluster.SERVICES:
        return _prepare_spark(settings, name, previous)
    return _prepare_trino(settings, name, previous)


def _prepare_trino(settings: Settings, name: str, previous: dict):
    """The coordinator, or the cluster profile's worker node (which the coordinator started before it discovers)."""
    java_home = find_java_home("Trino 476", minimum=trino.MIN_JAVA, explicit=settings.trino_java_home,
                               explicit_var="TRINO_JAVA_HOME")
    if name == "trino":
        port = keep_port(previous.get("port"), settings.trino_port, "TRINO_HTTP_PORT")
        return artifacts.TRINO, java_home, port, trino.prepare(settings, java_home, port), {}
    port = keep_port(previous.get("port"), 0, "")
    spec = trino.prepare_worker(settings, java_home, port, read_entry(settings, "trino")["port"])
    return artifacts.TRINO, java_home, port, spec, {}


def _prepare_spark(settings: Settings, name: str, previous: dict):
    """The cluster profile's master, or its worker (which registers with the master started before it)."""
    java_home = find_java_home("Spark", minimum=17, maximum=21, explicit=settings.env.get("SPARK_JAVA_HOME", ""),
                               explicit_var="SPARK_JAVA_HOME")
    web_port = keep_port(previous.get("web_port"), 0, "")
    if name == "spark-master":
        port = keep_port(previous.get("port"), settings.spark_master_port, "SPARK_MASTER_PORT")
        spec = spark_cluster.prepare_master(settings, java_home, port, web_port)
    else:
        master = read_entry(settings, "spark-master")
        port = keep_port(previous.get("port"), 0, "")
        spec = spark_cluster.prepare_worker(settings, java_home, port, web_port, master["port"], master["web_port"])
    # The executors run the Spark component's jars (spark.jars, served by each job's driver).
    return artifacts.SPARK, java_home, port, spec, {"web_port": web_port}


def _after_start(settings: Settings, name: str, log) -> None:
    if name == "s3proxy":
        _bucket(settings, log)


def _bucket(settings: Settings, log) -> None:
    from pipeline import objectstore

    if objectstore.ensure_bucket(settings):
        log(f"  s3: created bucket {settings.s3_bucket} at {settings.s3_endpoint}")


def down(settings: Settings, log=print) -> None:
    with locks.holding(stack_lock(settings), f"the stack of {settings.home}", wait=True, log=log):
        _down(settings, log)


def _down(settings: Settings, log) -> None:
    from pipeline.stack import airflow, bi  # they build on this module

    # Airflow and Superset first: Airflow's tasks read Kafka and write through Trino; Superset reads Trino.
    airflow.down(settings, log)
    bi.down(settings, log)
    state = read_state(settings)
    for service in reversed(status(settings)):
        if service.running:
            log(f"  {service.name}: stopping pid {service.pid} …")
            stop(service.pid)
        state.get(service.name, {}).pop("pid", None)
    if state:
        write_state(settings, state)
    log("  stack stopped")


def reset(settings: Settings, log=print) -> None:
    """Stop the stack and delete its data, the local lakehouse and what was derived from them."""
    down(settings, log)
    # An embedded S3 lakehouse lives in s3proxy's folder under the run dir; one on an S3 service of the
    # user's own is not deleted.
    lake = () if settings.on_s3 else (settings.lake_path,)
    for folder in (settings.run_dir, *lake, settings.home / "expected", settings.home / "dbt"):
        shutil.rmtree(folder, ignore_errors=True)
    log(f"  removed the stack's data and the lakehouse under {settings.home}")
    if settings.on_s3 and not settings.embedded_s3:
        log(f"  {settings.lakehouse_uri} on {settings.s3_endpoint} is left as it is")
