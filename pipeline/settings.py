"""The one settings object: every environment variable the project reads, with its default."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlparse

REPO_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting has a value the project cannot use; the message says which and what to do."""


def _int(env: dict[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number; set it to one, e.g. {name}={default}") from None
    if value < minimum:
        raise SettingsError(f"{name}={value} must be at least {minimum}")
    return value


def _lakehouse_uri(value: str) -> str:
    """LAKEHOUSE_URI as Spark addresses it: file:///path, or s3a://bucket/prefix for s3:// and s3a:// alike."""
    parsed = urlparse(value)
    if parsed.scheme in ("s3", "s3a") and parsed.netloc:
        return f"s3a://{parsed.netloc}{parsed.path}".rstrip("/")
    if parsed.scheme == "file" and parsed.path.startswith("/"):
        return value.rstrip("/")
    raise SettingsError(f"LAKEHOUSE_URI={value!r}: use file:///an/absolute/path (the default is "
                        "$LAKEHOUSE_HOME/lake) or s3://bucket/prefix")


def _s3_endpoint(env: dict[str, str]) -> str:
    endpoint = env.get("S3_ENDPOINT", "")
    if endpoint and urlparse(endpoint).scheme not in ("http", "https"):
        raise SettingsError(f"S3_ENDPOINT={endpoint!r}: use the service's URL, e.g. http://localhost:9000")
    if endpoint and not (env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY")):
        raise SettingsError(f"S3_ENDPOINT={endpoint} needs its keys too: set AWS_ACCESS_KEY_ID and "
                            "AWS_SECRET_ACCESS_KEY")
    return endpoint.rstrip("/")


def _flag(env: dict[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise SettingsError(f"{name}={raw!r}: use 1 to turn it on, or 0 (the default) to leave it off")


def _memory(env: dict[str, str], name: str, default: str) -> str:
    """A JVM memory size as Spark writes it: a whole number and a unit, e.g. 512m or 1g."""
    value = (env.get(name) or default).strip().lower()
    if not re.fullmatch(r"[1-9]\d*[mg]", value):
        raise SettingsError(f"{name}={value!r}: give a size in mebibytes or gibibytes, e.g. {name}={default}")
    return value


METASTORES = ("file", "hms")


def _metastore(env: dict[str, str], on_s3: bool) -> str:
    """Trino's catalog: a Hive Metastore on an S3 lakehouse, files beside the tables otherwise."""
    value = env.get("METASTORE") or ("hms" if on_s3 else "file")
    if value not in METASTORES:
        raise SettingsError(f"METASTORE={value!r}: use hms (a Hive Metastore; the default on S3) or file "
                            "(Trino's file metastore in the lakehouse; the default on a local folder)")
    if value == "hms" and not on_s3:
        raise SettingsError("METASTORE=hms needs an S3 lakehouse (LAKEHOUSE_URI=s3://bucket/prefix): the Hive "
                            "Metastore reaches the tables through S3A. Unset METASTORE on a local lakehouse")
    uri = env.get("HIVE_METASTORE_URI", "")
    if uri and (value != "hms" or urlparse(uri).scheme != "thrift"):
        raise SettingsError(f"HIVE_METASTORE_URI={uri!r}: give a thrift://host:port URI, with METASTORE=hms")
    return value


# Loopback, or every interface: the stack's own clients reach either at 127.0.0.1.
BIND_ADDRESSES = ("127.0.0.1", "0.0.0.0")


def _bind_address(env: dict[str, str]) -> str:
    value = env.get("LAKEHOUSE_BIND_ADDRESS") or BIND_ADDRESSES[0]
    if value not in BIND_ADDRESSES:
        raise SettingsError(f"LAKEHOUSE_BIND_ADDRESS={value!r}: use 127.0.0.1 (the default: this machine only) or "
                            "0.0.0.0 (every interface; turn on Trino's authentication first, see README)")
    return value


@dataclass(frozen=True)
class Settings:
    """Where everything lives and how to reach it; built once from the environment and passed down."""

    home: Path
    lakehouse_uri: str
    jvm_cache: Path
    topic_order_events: str
    topic_payment_events: str
    # Explicit addresses of external services; empty means "the embedded stack's".
    kafka_bootstrap_override: str
    trino_host_override: str
    trino_port_override: int
    # The address the embedded Trino and the Spark driver listen on: loopback unless set otherwise.
    bind_address: str
    # Ports the embedded stack binds; 0 picks a free port at `stack up`.
    kafka_port: int
    trino_port: int
    trino_user: str
    kafka_heap: str
    trino_heap: str
    # SPARK_MASTER; empty means local[2], or the embedded standalone master in the cluster profile.
    spark_master_override: str
    spark_driver_memory: str
    spark_shuffle_partitions: int
    trino_java_home: str
    silver_interval_seconds: int
    bronze_trigger_seconds: int
    # Airflow (orchestration/): where it is installed, the port its UI and API bind, and what the DAGs read.
    airflow_venv: Path
    airflow_port: int
    silver_schedule: str
    task_retries: int
    task_retry_delay_seconds: int
    gold_deadline_seconds: int
    alert_webhook_url: str
    # Superset (bi/): where it is installed and the port its web server binds.
    bi_venv: Path
    bi_port: int
    # An S3 lakehouse (LAKEHOUSE_URI=s3://bucket/prefix): the S3 service, or the embedded s3proxy and its port.
    s3_endpoint_override: str
    s3_port: int
    s3_region: str
    # Trino's metastore: `hms` (the embedded Hive Metastore, or HIVE_METASTORE_URI) or `file`.
    metastore: str
    metastore_uri_override: str
    metastore_port: int
    # The cluster profile (LAKEHOUSE_CLUSTER=1): the stack also runs a Spark standalone master and worker, and
    # the jobs run on them; each job's executor takes SPARK_CORES_MAX cores and SPARK_EXECUTOR_MEMORY.
    cluster: bool
    spark_master_port: int
    spark_cores_max: int
    spark_executor_memory: str
    env: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        home = Path(env.get("LAKEHOUSE_HOME") or REPO_ROOT / ".lakehouse").resolve()
        lakehouse_uri = _lakehouse_uri(env.get("LAKEHOUSE_URI") or (home / "lake").as_uri())
        jvm_cache = Path(env.get("LAKEHOUSE_JVM_CACHE") or Path.home() / ".cache" / "lakehouse" / "jvm").resolve()
        return cls(
            home=home,
            lakehouse_uri=lakehouse_uri.rstrip("/"),
            jvm_cache=jvm_cache,
            topic_order_events=env.get("TOPIC_ORDER_EVENTS") or "orders.events",
            topic_payment_events=env.get("TOPIC_PAYMENT_EVENTS") or "payments.events",
            kafka_bootstrap_override=env.get("KAFKA_BOOTSTRAP", ""),
            trino_host_override=env.get("TRINO_HOST", ""),
            trino_port_override=_int(env, "TRINO_PORT", 0),
            bind_address=_bind_address(env),
            kafka_port=_int(env, "KAFKA_PORT", 0),
            trino_port=_int(env, "TRINO_HTTP_PORT", 0),
            trino_user=env.get("TRINO_USER") or "lakehouse",
            kafka_heap=env.get("KAFKA_HEAP") or "512m",
            trino_heap=env.get("TRINO_HEAP") or "2g",
            spark_master_override=env.get("SPARK_MASTER", ""),
            spark_driver_memory=env.get("SPARK_DRIVER_MEMORY") or "2g",
            spark_shuffle_partitions=_int(env, "SPARK_SHUFFLE_PARTITIONS", 2, minimum=1),
            trino_java_home=env.get("TRINO_JAVA_HOME", ""),
            silver_interval_seconds=_int(env, "SILVER_INTERVAL_SECONDS", 5, minimum=1),
            bronze_trigger_seconds=_int(env, "BRONZE_TRIGGER_SECONDS", 5),
            airflow_venv=Path(env.get("AIRFLOW_VENV") or REPO_ROOT / ".venv-airflow").resolve(),
            airflow_port=_int(env, "AIRFLOW_PORT", 0),
            silver_schedule=env.get("SILVER_SCHEDULE") or "*/5 * * * *",
            task_retries=_int(env, "TASK_RETRIES", 2),
            task_retry_delay_seconds=_int(env, "TASK_RETRY_DELAY_SECONDS", 120),
            gold_deadline_seconds=_int(env, "GOLD_DEADLINE_SECONDS", 600, minimum=1),
            alert_webhook_url=env.get("ALERT_WEBHOOK_URL", ""),
            bi_venv=Path(env.get("BI_VENV") or REPO_ROOT / ".venv-bi").resolve(),
            bi_port=_int(env, "BI_PORT", 0),
            s3_endpoint_override=_s3_endpoint(env),
            s3_port=_int(env, "S3_PORT", 0),
            s3_region=env.get("AWS_REGION") or "us-east-1",
            metastore=_metastore(env, lakehouse_uri.startswith("s3a://")),
            metastore_uri_override=env.get("HIVE_METASTORE_URI", ""),
            metastore_port=_int(env, "METASTORE_PORT", 0),
            cluster=_flag(env, "LAKEHOUSE_CLUSTER"),
            spark_master_port=_int(env, "SPARK_MASTER_PORT", 0),
            spark_cores_max=_int(env, "SPARK_CORES_MAX", 2, minimum=1),
            spark_executor_memory=_memory(env, "SPARK_EXECUTOR_MEMORY", "1g"),
            env=env,
        )

    # -- places -------------------------------------------------------------------------
    @property
    def run_dir(self) -> Path:
        """Logs, configs, data dirs and the state file of the embedded stack."""
        return self.home / "run"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "stack.json"

    @property
    def airflow_home(self) -> Path:
        """AIRFLOW_HOME of the embedded Airflow: its config, SQLite metadata database, logs and secrets."""
        return self.run_dir / "airflow"

    @property
    def bi_home(self) -> Path:
        """Superset's home: superset_config.py, its SQLite metadata database, secrets and logs."""
        return self.run_dir / "superset"

    @property
    def alerts_file(self) -> Path:
        """Where the DAGs' failure and missed-deadline alerts go, one JSON object a line."""
        return self.home / "alerts" / "alerts.jsonl"

    @property
    def lake_path(self) -> Path:
        """The lakehouse root as a local path (embedded stack only)."""
        parsed = urlparse(self.lakehouse_uri)
        if parsed.scheme != "file":
            raise SettingsError(f"LAKEHOUSE_URI={self.lakehouse_uri!r} is not a local folder")
        return Path(parsed.path)

    @property
    def on_s3(self) -> bool:
        return self.lakehouse_uri.startswith("s3a://")

    @property
    def embedded_s3(self) -> bool:
        """An S3 lakehouse with no S3_ENDPOINT: the stack starts s3proxy, with its data under LAKEHOUSE_HOME."""
        return self.on_s3 and not self.s3_endpoint_override

    @property
    def embedded_spark_cluster(self) -> bool:
        """The cluster profile with no SPARK_MASTER: the stack starts a Spark standalone master and worker."""
        return self.cluster and not self.spark_master_override

    @property
    def s3_bucket(self) -> str:
        return urlparse(self.lakehouse_uri).netloc

    @property
    def s3_credentials_file(self) -> Path:
        """The embedded s3proxy's generated keys (mode 0600)."""
        return self.run_dir / "s3proxy" / "credentials.json"

    @property
    def s3_endpoint(self) -> str:
        if self.s3_endpoint_override:
            return self.s3_endpoint_override
        port = self._stack_state().get("s3proxy", {}).get("port")
        if port is None:
            raise SettingsError("the lakehouse is on S3 and no S3_ENDPOINT is set, but the embedded s3proxy has "
                                "not been started: run `python -m pipeline stack up`")
        return f"http://127.0.0.1:{port}"

    @property
    def s3_keys(self) -> tuple[str, str]:
        """(access key, secret key) of the S3 service."""
        if self.s3_endpoint_override:
            return self.env["AWS_ACCESS_KEY_ID"], self.env["AWS_SECRET_ACCESS_KEY"]
        try:
            keys = json.loads(self.s3_credentials_file.read_text())
        except FileNotFoundError:
            raise SettingsError(f"no keys for the embedded s3proxy in {self.s3_credentials_file}: run "
                                "`python -m pipeline stack up`") from None
        return keys["access_key"], keys["secret_key"]

    @property
    def embedded_hms(self) -> bool:
        """METASTORE=hms with no HIVE_METASTORE_URI: the stack starts a Hive Metastore (embedded Derby)."""
        return self.metastore == "hms" and not self.metastore_uri_override

    @property
    def metastore_uri(self) -> str:
        """The Hive Metastore's thrift URI (METASTORE=hms)."""
        if self.metastore_uri_override:
            return self.metastore_uri_override
        port = self._stack_state().get("hms", {}).get("port")
        if port is None:
            raise SettingsError("METASTORE=hms and no HIVE_METASTORE_URI is set, but the embedded Hive Metastore "
                                "has not been started: run `python -m pipeline stack up`")
        return f"thrift://127.0.0.1:{port}"

    def table_uri(self, schema: str, table: str) -> str:
        return f"{self.lakehouse_uri}/{schema}/{table}"

    def checkpoint_uri(self, name: str) -> str:
        return f"{self.lakehouse_uri}/_checkpoints/{name}"

    # -- addresses ----------------------------------------------------------------------
    def _stack_state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except FileNotFoundError:
            return {}

    @property
    def kafka_bootstrap(self) -> str:
        if self.kafka_bootstrap_override:
            return self.kafka_bootstrap_override
        port = self._stack_state().get("kafka", {}).get("port")
        if not port:
            raise SettingsError("Kafka is not running: start it with `python -m pipeline stack up` or set KAFKA_BOOTSTRAP")
        return f"127.0.0.1:{port}"

    @property
    def spark_master(self) -> str:
        """SPARK_MASTER; else, in the cluster profile, the embedded standalone master; else local mode."""
        if self.spark_master_override:
            return self.spark_master_override
        if not self.cluster:
            return "local[2]"
        port = self._stack_state().get("spark-master", {}).get("port")
        if not port:
            raise SettingsError("LAKEHOUSE_CLUSTER=1, but the Spark master is not running: start it with "
                                "`python -m pipeline stack up` or set SPARK_MASTER")
        return f"spark://127.0.0.1:{port}"

    @property
    def trino_host(self) -> str:
        return self.trino_host_override or "127.0.0.1"

    @property
    def trino_http_port(self) -> int:
        if self.trino_port_override:
            return self.trino_port_override
        port = self._stack_state().get("trino", {}).get("port")
        if not port:
            raise SettingsError("Trino is not running: start it with `python -m pipeline stack up` or set TRINO_HOST/TRINO_PORT")
        return int(port)

    def describe(self) -> dict[str, str]:
        return {f.name: str(getattr(self, f.name)) for f in fields(self) if f.name != "env"}
