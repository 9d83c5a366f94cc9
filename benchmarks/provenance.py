"""What a report's figures came from: the machine, the versions of every engine and library, the settings."""

from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
from importlib import metadata
from pathlib import Path

from pipeline.settings import REPO_ROOT, Settings

PYTHON_PACKAGES = ("pyspark", "delta-spark", "dbt-core", "dbt-trino", "trino", "kafka-python", "duckdb",
                   "matplotlib", "locust")
# The JVM side: the version property each pom pins.
POM_VERSIONS = {"kafka broker and tools": ("kafka", "kafka.version"), "trino server": ("trino", "trino.version"),
                "spark jars": ("spark", "spark.version"), "delta jars": ("spark", "delta.version")}
SETTINGS_SHOWN = ("spark_master", "spark_driver_memory", "spark_shuffle_partitions", "kafka_heap", "trino_heap",
                  "silver_interval_seconds", "bronze_trigger_seconds")


def machine() -> dict:
    return {
        "hostname": socket.gethostname(),
        "cores": os.cpu_count(),
        "memory_gib": round(_meminfo_kib("MemTotal") / 2**20, 1),
        "cpu_model": _cpu_model(),
        "os": platform.platform(),
    }


def code() -> dict:
    """The commit the figures were measured on, and whether the working tree differed from it."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    changes = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "uncommitted_changes": None if changes is None else bool(changes)}


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def versions(settings: Settings) -> dict:
    from pipeline.stack.java import find_java_home, java_major_version

    found = {"python": platform.python_version()}
    for package in PYTHON_PACKAGES:
        name = "trino (python client)" if package == "trino" else package
        try:
            found[name] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    for name, (component, prop) in POM_VERSIONS.items():
        found[name] = _pom_property(REPO_ROOT / "jvm" / component / "pom.xml", prop)
    for purpose, low, high, explicit in (("Spark", 17, 21, settings.env.get("SPARK_JAVA_HOME", "")),
                                         ("Kafka", 17, None, ""),
                                         ("Trino", 24, None, settings.trino_java_home)):
        try:
            found[f"java for {purpose}"] = str(java_major_version(find_java_home(purpose, low, high, explicit)))
        except RuntimeError as error:
            found[f"java for {purpose}"] = f"not found ({error})"
    return found


def settings_shown(settings: Settings) -> dict:
    return {name: str(getattr(settings, name)) for name in SETTINGS_SHOWN if hasattr(settings, name)}


def _pom_property(pom: Path, name: str) -> str:
    match = re.search(rf"<{re.escape(name)}>([^<]+)</{re.escape(name)}>", pom.read_text())
    return match.group(1) if match else "unknown"


def _meminfo_kib(field: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except FileNotFoundError:
        pass
    return platform.processor() or "unknown"
