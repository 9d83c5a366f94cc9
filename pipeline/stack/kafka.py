"""The embedded Kafka broker: one KRaft node (broker and controller in one JVM)."""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

from pipeline.settings import Settings
from pipeline.stack.artifacts import kafka_classpath
from pipeline.stack.process import ProcessSpec, StackError, answers_tcp

START_TIMEOUT_SECONDS = 90
PARTITIONS = 3

LOG4J2 = """\
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
logger.state.name = state.change.logger
logger.state.level = WARN
"""


def server_properties(port: int, controller_port: int, data_dir: Path) -> str:
    return f"""\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data_dir}
num.partitions={PARTITIONS}
auto.create.topics.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=-1
"""


def _cluster_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _jvm(settings: Settings, java_home: Path, config_dir: Path) -> list[str]:
    return [
        str(java_home / "bin" / "java"), f"-Xms{settings.kafka_heap}", f"-Xmx{settings.kafka_heap}",
        "-XX:+UseG1GC", "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={config_dir / 'log4j2.properties'}",
        "-cp", kafka_classpath(settings),
    ]


def prepare(settings: Settings, java_home: Path, port: int, controller_port: int) -> ProcessSpec:
    """Write the broker's config, format its storage on first use, and describe its process."""
    base = settings.run_dir / "kafka"
    data_dir = base / "data"
    config = base / "server.properties"
    base.mkdir(parents=True, exist_ok=True)
    config.write_text(server_properties(port, controller_port, data_dir))
    (base / "log4j2.properties").write_text(LOG4J2)
    env = {**settings.env, "JAVA_HOME": str(java_home)}
    if not (data_dir / "meta.properties").exists():
        result = subprocess.run(
            [*_jvm(settings, java_home, base), "kafka.tools.StorageTool", "format",
             # `=`: an id is base64 and starts with "-" one time in 64, which the tool's parser takes for an option.
             f"--cluster-id={_cluster_id()}", "-c", str(config)],
            env=env, capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise StackError(f"formatting Kafka storage in {data_dir} failed:\n{result.stdout}{result.stderr}")
    return ProcessSpec(
        name="kafka",
        argv=[*_jvm(settings, java_home, base), "kafka.Kafka", str(config)],
        env=env,
        cwd=base,
        log=base / "kafka.log",
        ready=lambda: answers_tcp(port) and "Kafka Server started" in (base / "kafka.log").read_text(errors="replace"),
        start_timeout=START_TIMEOUT_SECONDS,
    )
