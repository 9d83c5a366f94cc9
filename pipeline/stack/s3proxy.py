"""The embedded S3 service of an S3 lakehouse: s3proxy over a folder under LAKEHOUSE_HOME, on loopback,
with keys generated once and kept in a file only its owner can read."""

from __future__ import annotations

import json
import os
import secrets
import urllib.error
import urllib.request
from pathlib import Path

from pipeline.settings import Settings
from pipeline.stack.artifacts import s3proxy_jar
from pipeline.stack.process import ProcessSpec

START_TIMEOUT_SECONDS = 60


def credentials(settings: Settings) -> tuple[str, str]:
    """The embedded service's keys, generated on first use into a 0600 file."""
    path = settings.s3_credentials_file
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        keys = {"access_key": f"lakehouse-{secrets.token_hex(4)}", "secret_key": secrets.token_urlsafe(32)}
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(keys, file)
    return settings.s3_keys


def properties(settings: Settings, port: int, data_dir: Path) -> str:
    access_key, secret_key = credentials(settings)
    return f"""\
s3proxy.endpoint=http://{settings.bind_address}:{port}
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity={access_key}
s3proxy.credential={secret_key}
# Trino sends x-amz-optional-object-attributes, which s3proxy does not know.
s3proxy.ignore-unknown-headers=true
jclouds.provider=filesystem-nio2
jclouds.filesystem.basedir={data_dir}
"""


def answers(port: int) -> bool:
    """Anything S3-shaped: an anonymous request is refused with 403, which still means it is up."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def prepare(settings: Settings, java_home: Path, port: int) -> ProcessSpec:
    base = settings.run_dir / "s3proxy"
    data_dir = base / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    config = base / "s3proxy.conf"
    descriptor = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the secret key
    with os.fdopen(descriptor, "w") as file:
        file.write(properties(settings, port, data_dir))
    return ProcessSpec(
        name="s3proxy",
        argv=[str(java_home / "bin" / "java"), "-Xmx256m", "-XX:+UseSerialGC", "-jar", str(s3proxy_jar(settings)),
              "--properties", str(config)],
        env={**settings.env, "JAVA_HOME": str(java_home)},
        cwd=base,
        log=base / "s3proxy.log",
        ready=lambda: answers(port),
        start_timeout=START_TIMEOUT_SECONDS,
    )
