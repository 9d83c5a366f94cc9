"""The embedded Trino server: coordinator and worker in one JVM, `delta` and `hive` catalogs
on a file metastore over the lakehouse (a local folder, or an S3 bucket through Trino's native S3) or on
the Hive Metastore (METASTORE=hms), listening on LAKEHOUSE_BIND_ADDRESS (loopback by
default), with file-based access control: the pipeline's user writes, `bi` only reads Gold, and every
other user is refused."""

from __future__ import annotations

import json
import os
import re
import urllib.request
from pathlib import Path

from pipeline.catalog import query, schema_location
from pipeline.settings import Settings
from pipeline.stack.artifacts import trino_server_dir
from pipeline.stack.process import ProcessSpec

START_TIMEOUT_SECONDS = 180
# Trino 476 requires Java 24 or newer (it runs on the Temurin 25 these machines carry).
MIN_JAVA = 24
METASTORE_DIR = "_metastore"
# The dashboard's user: SELECT on Gold, nothing else.
READ_ONLY_USER = "bi"
READ_ONLY_SCHEMA = "gold"


def _metastore(settings: Settings) -> str:
    if settings.metastore == "hms":
        return f"hive.metastore=thrift\nhive.metastore.uri={settings.metastore_uri}\n"
    # The file metastore lives beside the tables (in the bucket, or as `local:///_metastore`, which
    # resolves to <local.location>/_metastore); its location checks are off because Spark owns the table
    # folders, not the metastore.
    return f"""\
hive.metastore=file
hive.metastore.disable-location-checks=true
hive.metastore.catalog.dir={schema_location(settings, METASTORE_DIR)}
"""


def _catalog_common(settings: Settings) -> str:
    metastore = _metastore(settings)
    if settings.on_s3:
        access_key, secret_key = settings.s3_keys
        return metastore + f"""\
fs.native-s3.enabled=true
s3.endpoint={settings.s3_endpoint}
s3.region={settings.s3_region}
s3.path-style-access=true
s3.aws-access-key={access_key}
s3.aws-secret-key={secret_key}
"""
    return metastore + f"""\
fs.native-local.enabled=true
local.location={settings.lake_path}
"""


def catalogs(settings: Settings) -> dict[str, str]:
    common = _catalog_common(settings)
    return {
        # Writes on the local file system need enable-non-concurrent-writes: dbt is the only
        # writer through Trino, one model at a time. S3 has conditional writes, which Trino uses instead.
        "delta": "connector.name=delta_lake\n" + common + "delta.register-table-procedure.enabled=true\n"
                 + ("" if settings.on_s3 else "delta.enable-non-concurrent-writes=true\n"),
        # A Delta table read through `hive` is redirected to `delta`, the connector that reads it.
        "hive": "connector.name=hive\n" + common + "hive.delta-lake-catalog-name=delta\n",
    }


def access_rules(pipeline_user: str) -> dict:
    """Trino's file-based access control rules. A user no rule names is refused every catalog, so every
    other user is refused. (User and object names in rules are regular expressions.)"""
    pipeline = re.escape(pipeline_user)
    return {
        "catalogs": [
            {"user": pipeline, "catalog": ".*", "allow": "all"},
            {"user": READ_ONLY_USER, "catalog": "delta", "allow": "read-only"},
        ],
        "schemas": [{"user": pipeline, "schema": ".*", "owner": True}],
        "tables": [
            {"user": pipeline, "privileges": ["SELECT", "INSERT", "DELETE", "UPDATE", "OWNERSHIP", "GRANT_SELECT"]},
            {"user": READ_ONLY_USER, "catalog": "delta", "schema": READ_ONLY_SCHEMA, "privileges": ["SELECT"]},
        ],
        # register_table, for the tables Spark writes.
        "procedures": [{"user": pipeline, "privileges": ["EXECUTE"]}],
    }


def config_properties(port: int, access_control: Path, cluster: bool = False) -> str:
    # In the cluster profile the coordinator only plans: every split runs on the worker node.
    # A finished query's details (its plan and every operator's statistics) are kept for the last 100 queries
    # or the last minute, whichever holds more, not Trino's default 15 minutes: `pipeline run` sends dozens of
    # queries a cycle (registration, dbt), and at the end of a 20-minute soak 15 minutes of them held 13,141
    # operators' statistics in the heap after a full GC.
    return f"""\
coordinator=true
node-scheduler.include-coordinator={str(not cluster).lower()}
http-server.http.port={port}
discovery.uri=http://127.0.0.1:{port}
query.max-memory=1GB
query.max-memory-per-node=1GB
query.max-history=100
query.min-expire-age=1m
access-control.config-files={access_control}
"""


def worker_config_properties(port: int, coordinator_port: int) -> str:
    return f"""\
coordinator=false
http-server.http.port={port}
discovery.uri=http://127.0.0.1:{coordinator_port}
query.max-memory=1GB
query.max-memory-per-node=1GB
"""


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/info", timeout=2) as response:
            return json.load(response).get("starting") is False
    except (OSError, ValueError):
        return False


def active_workers(settings: Settings) -> int:
    """How many worker nodes the coordinator lists as active (-1 when it does not answer). Its /v1/node is a
    management resource, so ask through SQL, as the pipeline's user."""
    import trino  # the Trino client: not in Airflow's virtualenv, which never starts a cluster

    try:
        [(count,)] = query(settings, "SELECT count(*) FROM system.runtime.nodes "
                                     "WHERE NOT coordinator AND state = 'active'")
    except (OSError, trino.exceptions.Error, trino.exceptions.HttpError):
        return -1
    return count


def prepare(settings: Settings, java_home: Path, port: int) -> ProcessSpec:
    """The coordinator (in the default profile also the only worker), with the access rules."""
    etc = _etc(settings, "trino")
    rules, access_control = etc / "rules.json", etc / "access-control.properties"
    rules.write_text(json.dumps(access_rules(settings.trino_user), indent=2) + "\n")
    access_control.write_text(f"access-control.name=file\nsecurity.config-file={rules}\n")
    (etc / "config.properties").write_text(config_properties(port, access_control, settings.cluster))
    return _spec(settings, java_home, "trino", "lakehouse-1", ready=lambda: answers(port))


def prepare_worker(settings: Settings, java_home: Path, port: int, coordinator_port: int) -> ProcessSpec:
    """The cluster profile's worker node: ready once the coordinator (running, in the state file) lists it."""
    etc = _etc(settings, "trino-worker")
    (etc / "config.properties").write_text(worker_config_properties(port, coordinator_port))
    return _spec(settings, java_home, "trino-worker", "lakehouse-worker-1",
                 ready=lambda: answers(port) and active_workers(settings) >= 1)


def _etc(settings: Settings, name: str) -> Path:
    """A node's etc folder under the run dir, with the catalogs written into it."""
    etc = settings.run_dir / name / "etc"
    catalog_dir = etc / "catalog"
    catalog_dir.mkdir(parents=True, exist_ok=True)
    if not settings.on_s3:
        settings.lake_path.mkdir(parents=True, exist_ok=True)
    for catalog, body in catalogs(settings).items():
        # Only the owner reads a catalog: on S3 it holds the keys.
        descriptor = os.open(catalog_dir / f"{catalog}.properties", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(body)
    return etc


def _spec(settings: Settings, java_home: Path, name: str, node_id: str, ready) -> ProcessSpec:
    base = settings.run_dir / name
    etc = base / "etc"
    server = trino_server_dir(settings)
    # A fixed heap, committed and touched at start (as Kafka's is fixed): a heap G1 sizes as it goes grew in
    # steps under load (455 -> 783 MiB committed within a minute, 8 minutes into a soak's load, ~280 MiB in
    # use after its collections), and the RSS with it, which says nothing about a leak. Fixed, the RSS is the
    # heap plus what lies outside it (classes, compiled code, threads), the part that could leak.
    argv = [
        str(java_home / "bin" / "java"),
        f"-Xms{settings.trino_heap}", f"-Xmx{settings.trino_heap}", "-XX:+AlwaysPreTouch",
        "-XX:+UseG1GC", "-XX:+ExitOnOutOfMemoryError",
        "-XX:+EnableDynamicAgentLoading", "-Djdk.attach.allowAttachSelf=true", "-Dfile.encoding=UTF-8",
        f"-Dconfig={etc / 'config.properties'}",
        f"-Dcatalog.config-dir={etc / 'catalog'}",
        f"-Dplugin.dir={server / 'plugin'}",
        "-Dnode.environment=lakehouse", f"-Dnode.id={node_id}", f"-Dnode.data-dir={base / 'data'}",
        # The HTTP server listens on this address (airlift's node.bind-ip); the node announces loopback.
        f"-Dnode.bind-ip={settings.bind_address}", "-Dnode.internal-address=127.0.0.1",
        "-cp", str(server / "lib" / "*"),
        "io.trino.server.TrinoServer",
    ]
    return ProcessSpec(
        name=name,
        argv=argv,
        env={**settings.env, "JAVA_HOME": str(java_home)},
        cwd=base,
        log=base / f"{name}.log",
        ready=ready,
        start_timeout=START_TIMEOUT_SECONDS,
    )
