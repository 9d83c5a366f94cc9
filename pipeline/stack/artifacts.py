"""JVM artifacts (Kafka broker, Spark's extra jars, Trino) fetched through mvn into a cache, once."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline import locks
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

    def mark_fetched(self, target: Path) -> None:
        (target / ".fetched").write_text(self.fingerprint() + "\n")

    def in_use_lock(self, settings: Settings) -> Path:
        """Held shared by every server started from this component's folder, for as long as it runs."""
        return settings.jvm_cache / f".{self.name}.in-use"


KAFKA = Component("kafka", "Apache Kafka broker")
SPARK = Component("spark", "Delta Lake, Kafka source and S3A jars for Spark")
TRINO = Component("trino", "Trino server and CLI")
S3PROXY = Component("s3proxy", "s3proxy (the embedded S3 service)")
HMS = Component("hms", "Hive Metastore with the Hadoop S3A client")
COMPONENTS = (KAFKA, SPARK, TRINO, S3PROXY, HMS)


def needed(settings: Settings) -> tuple[Component, ...]:
    """What this configuration runs: s3proxy only for an S3 lakehouse without an S3_ENDPOINT of its own, the
    Hive Metastore only for METASTORE=hms without a HIVE_METASTORE_URI."""
    optional = {S3PROXY: settings.embedded_s3, HMS: settings.embedded_hms}
    return tuple(c for c in COMPONENTS if optional.get(c, True))


def kafka_classpath(settings: Settings) -> str:
    return str(KAFKA.directory(settings) / "lib" / "*")


def spark_jars(settings: Settings) -> list[Path]:
    return sorted((SPARK.directory(settings) / "jars").glob("*.jar"))


def s3proxy_jar(settings: Settings) -> Path:
    return S3PROXY.directory(settings) / "s3proxy.jar"


def hms_home(settings: Settings) -> Path:
    """The unpacked metastore tarball (apache-hive-metastore-<version>-bin)."""
    [home] = HMS.directory(settings).glob("apache-hive-metastore-*-bin")
    return home


def hms_classpath(settings: Settings) -> str:
    """The metastore's own jars, then the Hadoop and AWS SDK jars the pom adds (under extra/)."""
    return f"{hms_home(settings) / 'lib' / '*'}{os.pathsep}{HMS.directory(settings) / 'extra' / '*'}"


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


def _unpack_trino(fetched: Path) -> None:
    tarball = fetched / "trino-server.tar.gz"
    target = fetched / "server"
    with tarfile.open(tarball) as archive:
        # The tarball hard-links jars shared between plugins; tarfile copies a link's target
        # when that target is not extracted itself, which a `tar --wildcards` would not.
        members = [m for m in archive.getmembers() if m.name.partition("/")[2].startswith(TRINO_PARTS)]
        top = members[0].name.partition("/")[0]
        archive.extractall(target.parent, members=members, filter="data")
    (target.parent / top).rename(target)
    tarball.unlink()  # the copy in the Maven repository stays; this one is no longer needed


def fetch(settings: Settings, components: tuple[Component, ...] | None = None, log=print) -> None:
    """Fetch what is missing (by default what this configuration runs); a component already fetched with
    the same pom costs nothing.

    One fetch at a time per cache (a second one waits, then finds the work done). A component is built
    in a folder of its own and renamed into place whole, so nobody starts from a half-unpacked one; and
    one that a running server uses is not replaced under it.
    """
    with locks.holding(settings.jvm_cache / ".fetch.lock", f"the JVM cache {settings.jvm_cache}", wait=True,
                       log=log):
        for component in components or needed(settings):
            if component.is_fetched(settings):
                log(f"  {component.description}: cached in {component.directory(settings)}")
                continue
            _fetch(settings, component, log)


def _fetch(settings: Settings, component: Component, log) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ArtifactsMissing("`mvn` is not on PATH: install Apache Maven (e.g. `apt-get install maven`)")
    log(f"  {component.description}: fetching through mvn …")
    started = time.monotonic()
    target = component.directory(settings)
    partial = target.with_name(f"{target.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)  # what a fetch that was killed left
    java_home = find_java_home("Maven", minimum=17)
    result = subprocess.run(
        [mvn, "-B", "-q", "-f", str(component.pom()), "package", f"-Doutput.dir={partial}"],
        env={**settings.env, "JAVA_HOME": str(java_home)},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise ArtifactsMissing(f"mvn could not fetch {component.description}; its output is above")
    if component is TRINO:
        _unpack_trino(partial)
    component.mark_fetched(partial)
    try:
        with locks.holding(component.in_use_lock(settings), f"{target}"):
            old = target.with_name(f"{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            if target.exists():
                target.rename(old)
            partial.rename(target)
            shutil.rmtree(old, ignore_errors=True)
    except locks.Busy:
        raise ArtifactsMissing(f"a running server uses {target}, which this fetch would replace: stop it "
                               f"(`python -m pipeline stack down` with its LAKEHOUSE_HOME), then fetch again") from None
    size_mb = sum(p.stat().st_size for p in target.rglob("*") if p.is_file()) / 2**20
    log(f"  {component.description}: {size_mb:,.0f} MiB in {time.monotonic() - started:.0f}s")
