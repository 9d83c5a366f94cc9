"""JVM artifacts (Kafka broker, Spark's extra jars, Trino) fetched through mvn into a cache, once."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.settings import REPO_ROOT, Settings
from pipeline.stack.java import find_java_home

POM_ROOT = REPO_ROOT / "jvm"
# Only these parts of the Trino tarball are unpacked: the server and the two plugins the
# catalogs use. Fewer plugins also means a faster start.
TRINO_PARTS = ("lib/", "plugin/delta-lake/", "plugin/hive/")


class ArtifactsMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class Component:
    name: str
    description: str

    def pom(self) -> Path:
        return POM_ROOT / self.name / "pom.xml"

    def directory(self, settings: Settings) -> Path:
        return settings.jvm_cache / self.name

    def _stamp(self, settings: Settings) -> Path:
        return self.directory(settings) / ".fetched"

    def fingerprint(self) -> str:
        return hashlib.sha256(self.pom().read_bytes()).hexdigest()

    def is_fetched(self, settings: Settings) -> bool:
        stamp = self._stamp(settings)
        return stamp.is_file() and stamp.read_text().strip() == self.fingerprint()

    def mark_fetched(self, settings: Settings) -> None:
        self._stamp(settings).write_text(self.fingerprint() + "\n")


KAFKA = Component("kafka", "Apache Kafka broker")
SPARK = Component("spark", "Delta Lake and Kafka source jars for Spark")
TRINO = Component("trino", "Trino server and CLI")
COMPONENTS = (KAFKA, SPARK, TRINO)


def kafka_classpath(settings: Settings) -> str:
    return str(KAFKA.directory(settings) / "lib" / "*")


def spark_jars(settings: Settings) -> list[Path]:
    return sorted((SPARK.directory(settings) / "jars").glob("*.jar"))


def trino_server_dir(settings: Settings) -> Path:
    return TRINO.directory(settings) / "server"


def trino_cli_jar(settings: Settings) -> Path:
    return TRINO.directory(settings) / "trino-cli-executable.jar"


def require(settings: Settings, *components: Component) -> None:
    missing = [c for c in components if not c.is_fetched(settings)]
    if missing:
        names = ", ".join(c.description for c in missing)
        raise ArtifactsMissing(
            f"JVM artifacts not fetched ({names}) in {settings.jvm_cache}: run `python -m pipeline fetch` first"
        )


def _unpack_trino(settings: Settings) -> None:
    tarball = TRINO.directory(settings) / "trino-server.tar.gz"
    target = trino_server_dir(settings)
    shutil.rmtree(target, ignore_errors=True)
    with tarfile.open(tarball) as archive:
        # The tarball hard-links jars shared between plugins; tarfile copies a link's target
        # when that target is not extracted itself, which a `tar --wildcards` would not.
        members = [m for m in archive.getmembers() if m.name.partition("/")[2].startswith(TRINO_PARTS)]
        top = members[0].name.partition("/")[0]
        archive.extractall(target.parent, members=members, filter="data")
    (target.parent / top).rename(target)
    tarball.unlink()  # the copy in the Maven repository stays; this one is no longer needed


def fetch(settings: Settings, components: tuple[Component, ...] = COMPONENTS, log=print) -> None:
    """Fetch what is missing; a component already fetched with the same pom costs nothing."""
    mvn = shutil.which("mvn")
    for component in components:
        if component.is_fetched(settings):
            log(f"  {component.description}: cached in {component.directory(settings)}")
            continue
        if mvn is None:
            raise ArtifactsMissing("`mvn` is not on PATH: install Apache Maven (e.g. `apt-get install maven`)")
        log(f"  {component.description}: fetching through mvn …")
        started = time.monotonic()
        target = component.directory(settings)
        shutil.rmtree(target, ignore_errors=True)
        java_home = find_java_home("Maven", minimum=17)
        result = subprocess.run(
            [mvn, "-B", "-q", "-f", str(component.pom()), "package", f"-Doutput.dir={target}"],
            env={**settings.env, "JAVA_HOME": str(java_home)},
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
            raise ArtifactsMissing(f"mvn could not fetch {component.description}; its output is above")
        if component is TRINO:
            _unpack_trino(settings)
        component.mark_fetched(settings)
        size_mb = sum(p.stat().st_size for p in target.rglob("*") if p.is_file()) / 2**20
        log(f"  {component.description}: {size_mb:,.0f} MiB in {time.monotonic() - started:.0f}s")
