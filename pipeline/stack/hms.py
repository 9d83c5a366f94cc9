"""The embedded Hive Metastore of METASTORE=hms: Hive's standalone metastore server on embedded Derby,
listening on LAKEHOUSE_BIND_ADDRESS, reaching the S3 lakehouse through S3A. Trino's `delta` and `hive`
catalogs both use it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from xml.sax.saxutils import escape

from pipeline.settings import Settings
from pipeline.stack.artifacts import hms_classpath, hms_home
from pipeline.stack.process import ProcessSpec, StackError, answers_tcp, tail

START_TIMEOUT_SECONDS = 90
SCHEMA_TIMEOUT_SECONDS = 180
MAIN_CLASS = "org.apache.hadoop.hive.metastore.HiveMetaStore"
SCHEMA_TOOL = "org.apache.hadoop.hive.metastore.tools.schematool.MetastoreSchemaTool"

# Log to stderr (the service's log file) and synchronously: the tarball's own log4j2 file writes to
# /tmp and its asynchronous loggers need a jar it does not ship.
LOG4J2 = """\
status = WARN
name = LakehouseMetastore
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{ISO8601} %5p [%t] %c{2}: %m%n
rootLogger.level = INFO
rootLogger.appenderRef.console.ref = console
logger.datanucleus.name = DataNucleus
logger.datanucleus.level = ERROR
"""


def site(settings: Settings, port: int, derby: Path) -> dict[str, str]:
    """metastore-site.xml: Derby under the run dir, thrift on the bind address, and S3A on the lakehouse's
    S3 service (Trino hands it s3:// locations; the metastore checks and creates schema folders there)."""
    access_key, secret_key = settings.s3_keys
    return {
        "javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={derby};create=true",
        "javax.jdo.option.ConnectionDriverName": "org.apache.derby.jdbc.EmbeddedDriver",
        "metastore.thrift.bind.host": settings.bind_address,
        "metastore.thrift.port": str(port),
        "metastore.warehouse.dir": f"{settings.lakehouse_uri}/_warehouse",
        "metastore.schema.verification": "true",
        "metastore.async.log.enabled": "false",
        "fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "fs.s3a.endpoint": settings.s3_endpoint,
        "fs.s3a.endpoint.region": settings.s3_region,
        "fs.s3a.path.style.access": "true",
        "fs.s3a.access.key": access_key,
        "fs.s3a.secret.key": secret_key,
    }


def site_xml(properties: dict[str, str]) -> str:
    entries = "".join(f"  <property><name>{escape(name)}</name><value>{escape(value)}</value></property>\n"
                      for name, value in properties.items())
    return f'<?xml version="1.0"?>\n<configuration>\n{entries}</configuration>\n'


def _java(settings: Settings, java_home: Path, conf: Path, heap: str) -> list[str]:
    return [str(java_home / "bin" / "java"), f"-Xmx{heap}", "-XX:+UseSerialGC", "-Dfile.encoding=UTF-8",
            "-cp", f"{conf}{os.pathsep}{hms_classpath(settings)}"]


def _init_schema(settings: Settings, java_home: Path, conf: Path, env: dict[str, str], derby: Path,
                 log: Path) -> None:
    """Create the metastore's tables in a new Derby database, once: the database stays under the run dir.
    A marker beside it says the tool finished; without it, what an interrupted run left is started over."""
    done = derby.with_name("derby.initialized")
    if done.exists():
        return
    shutil.rmtree(derby, ignore_errors=True)
    with log.open("a") as out:
        result = subprocess.run([*_java(settings, java_home, conf, "256m"), SCHEMA_TOOL, "-initSchema",
                                 "-dbType", "derby"], env=env, cwd=conf.parent, stdout=out, stderr=subprocess.STDOUT,
                                timeout=SCHEMA_TIMEOUT_SECONDS)
    if result.returncode != 0:
        raise StackError(f"the Hive Metastore's schema tool failed (exit {result.returncode}); last lines of "
                         f"{log}:\n{tail(log)}")
    done.touch()


def prepare(settings: Settings, java_home: Path, port: int) -> ProcessSpec:
    base = settings.run_dir / "hms"
    conf, derby, log = base / "conf", base / "derby", base / "hms.log"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "metastore-log4j2.properties").write_text(LOG4J2)
    descriptor = os.open(conf / "metastore-site.xml", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # S3 keys
    with os.fdopen(descriptor, "w") as file:
        file.write(site_xml(site(settings, port, derby)))
    env = {**settings.env, "JAVA_HOME": str(java_home), "METASTORE_HOME": str(hms_home(settings))}
    _init_schema(settings, java_home, conf, env, derby, log)
    return ProcessSpec(
        name="hms",
        argv=[*_java(settings, java_home, conf, "512m"), MAIN_CLASS],
        env=env,
        cwd=base,
        log=log,
        ready=lambda: answers_tcp(port),
        start_timeout=START_TIMEOUT_SECONDS,
    )
