"""The embedded Airflow: api-server, scheduler, dag-processor and triggerer as local processes.

They run from Airflow's own virtualenv (AIRFLOW_VENV, made by bin/setup-airflow), with AIRFLOW_HOME under
the stack's run dir, a SQLite metadata database (Airflow 3's default, with the LocalExecutor), the DAG
folder `orchestration/dags`, and the UI and REST API on 127.0.0.1. The admin password and the secrets
the components share are generated on first start and kept there with mode 0600. The DAGs' tasks call
`python -m pipeline ...` with the interpreter that ran `airflow up` (the project's venv).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from pipeline.settings import REPO_ROOT, Settings
from pipeline.stack import supervisor
from pipeline.stack.process import ProcessSpec, StackError, is_alive, start, stop, tail, write_private

DAGS_FOLDER = REPO_ROOT / "orchestration" / "dags"
# In start order: the api-server first, since the others' readiness is read from its health endpoint.
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
# The health endpoint's key for each component after the api-server.
HEALTH_KEYS = {"scheduler": "scheduler", "dag-processor": "dag_processor", "triggerer": "triggerer"}
START_TIMEOUT_SECONDS = 180
MIGRATE_TIMEOUT_SECONDS = 300
ADMIN = "admin"
STATE_KEY = "airflow"


def airflow_bin(settings: Settings) -> Path:
    return settings.airflow_venv / "bin" / "airflow"


def url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def dbt_manifest(settings: Settings) -> Path:
    """The dbt project's manifest the gold_dbt DAG is drawn from (astronomer-cosmos), written by `up`."""
    return settings.airflow_home / "dbt" / "manifest.json"


def parse_dbt_project(settings: Settings) -> Path:
    """`dbt parse` of the project into dbt_manifest (the project's dbt: call it from the project's venv)."""
    from pipeline import gold

    target = dbt_manifest(settings).parent
    code = gold.cli(settings, ["parse", "--quiet", "--project-dir", str(gold.DBT_PROJECT), "--target-path", str(target),
                               "--log-path", str(target / "logs")])
    if code != 0:
        raise StackError(f"`dbt parse` of {gold.DBT_PROJECT} failed (exit code {code}); see {target / 'logs'}")
    return dbt_manifest(settings)


def password_file(settings: Settings) -> Path:
    """The admin password, in the simple auth manager's format ({"admin": "..."}); mode 0600."""
    return settings.airflow_home / "passwords.json"


def admin_password(settings: Settings) -> str:
    return json.loads(password_file(settings).read_text())[ADMIN]


def _secrets_file(settings: Settings) -> Path:
    return settings.airflow_home / "secrets.json"


def ensure_secrets(settings: Settings) -> dict[str, str]:
    """The admin password and the keys the components share, generated once, stored with mode 0600."""
    if not password_file(settings).exists():
        write_private(password_file(settings), json.dumps({ADMIN: secrets.token_urlsafe(18)}) + "\n")
    if not _secrets_file(settings).exists():
        write_private(_secrets_file(settings), json.dumps({
            # The api-server checks the tokens the scheduler gives the tasks: one secret for all four.
            "jwt_secret": secrets.token_urlsafe(32),
            "api_secret_key": secrets.token_urlsafe(32),
            "fernet_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        }) + "\n")
    return json.loads(_secrets_file(settings).read_text())


def environment(settings: Settings, port: int) -> dict[str, str]:
    """The environment of every Airflow process, and so of the DAGs' tasks."""
    keys = ensure_secrets(settings)
    home = settings.airflow_home
    return {
        **settings.env,
        # The tasks and the alert notifier find the lakehouse, the stack and the settings through these.
        "LAKEHOUSE_HOME": str(settings.home),
        "PIPELINE_PYTHON": sys.executable,
        # orchestration.* (the notifier the triggerer imports) and pipeline.settings, which the DAGs read.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), settings.env.get("PYTHONPATH", "")])),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        # The bronze stream holds one slot for good, silver and gold one or two more.
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file(settings)),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url(port)}/execution/",
        # Four components and the tasks write to one SQLite file: wait up to a minute for its lock (the
        # default 5 s gave "database is locked" while Spark kept both cores busy).
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}?timeout=60",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"{url(port)}/",
        "AIRFLOW__API__SECRET_KEY": keys["api_secret_key"],
        "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        # astronomer-cosmos keeps its partial-parse and profile caches here instead of /tmp/cosmos.
        "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos"),
    }


def port(settings: Settings) -> int | None:
    return supervisor.read_entry(settings, STATE_KEY).get("port")


def status(settings: Settings) -> list[supervisor.ServiceStatus]:
    state = supervisor.read_entry(settings, STATE_KEY)
    marker = str(settings.airflow_home)
    return [supervisor.ServiceStatus(name, state.get(name, {}).get("pid"), None,
                                     is_alive(state.get(name, {}).get("pid"), marker), state.get(name, {}).get("log", ""))
            for name in COMPONENTS]


def health(port: int) -> dict:
    """The api-server's view of the metadata database, scheduler, dag-processor and triggerer; {} when it does not answer."""
    try:
        with urllib.request.urlopen(f"{url(port)}/api/v2/monitor/health", timeout=5) as response:
            return json.load(response)
    except (OSError, ValueError):
        return {}


def _healthy(port: int, component: str) -> bool:
    report = health(port)
    if component == "api-server":
        return bool(report)
    return (report.get(HEALTH_KEYS[component]) or {}).get("status") == "healthy"


def _require_installed(settings: Settings) -> None:
    if not airflow_bin(settings).exists():
        raise StackError(f"Airflow is not installed at {settings.airflow_venv}: run bin/setup-airflow "
                         "(or set AIRFLOW_VENV to a virtualenv that has apache-airflow 3.3)")
    if not DAGS_FOLDER.is_dir():
        raise StackError(f"no DAG folder at {DAGS_FOLDER}")


def _migrate(settings: Settings, env: dict[str, str]) -> None:
    """Create or upgrade the metadata database (idempotent; a few seconds once it exists)."""
    log = settings.airflow_home / "db-migrate.log"
    with log.open("ab") as out:
        result = subprocess.run([str(airflow_bin(settings)), "db", "migrate"], env=env, cwd=settings.airflow_home,
                                stdout=out, stderr=subprocess.STDOUT, timeout=MIGRATE_TIMEOUT_SECONDS)
    if result.returncode != 0:
        raise StackError(f"`airflow db migrate` failed with exit code {result.returncode}; last lines of "
                         f"{log}:\n{tail(log)}")


def _spec(settings: Settings, component: str, env: dict[str, str], port: int) -> ProcessSpec:
    folder = settings.airflow_home / component
    folder.mkdir(parents=True, exist_ok=True)
    argv = [str(airflow_bin(settings)), component]
    if component == "api-server":
        # One worker: a local UI for one user, and a third of the memory of the default.
        argv += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    elif component in ("scheduler", "triggerer"):
        # Their log servers would bind all interfaces on fixed ports (8793, 8794); on one machine the
        # api-server reads the task logs from AIRFLOW_HOME/logs itself.
        argv += ["--skip-serve-logs"]
    return ProcessSpec(
        name=f"airflow {component}",
        argv=argv,
        env=env,
        # is_alive knows our processes by this folder: the api-server rewrites its command line.
        cwd=folder,
        log=folder / f"{component}.log",
        ready=lambda: _healthy(port, component),
        start_timeout=START_TIMEOUT_SECONDS,
    )


def up(settings: Settings, log=print) -> list[supervisor.ServiceStatus]:
    """Start the components that are not running; the ones that are, are reused."""
    _require_installed(settings)
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    state = supervisor.read_entry(settings, STATE_KEY)
    running = {s.name for s in status(settings) if s.running}
    if running:
        chosen = state["port"]
    else:
        chosen = supervisor.keep_port(state.get("port"), settings.airflow_port, "AIRFLOW_PORT")
    env = environment(settings, chosen)
    state["port"] = chosen
    if not running:
        started = time.monotonic()
        _migrate(settings, env)
        log(f"  airflow metadata database ready in {time.monotonic() - started:.1f}s")
        started = time.monotonic()
        parse_dbt_project(settings)
        log(f"  dbt project parsed for gold_dbt in {time.monotonic() - started:.1f}s")
    for component in COMPONENTS:
        if component in running:
            log(f"  airflow {component}: already running (pid {state[component]['pid']}), reused")
            continue
        started = time.monotonic()
        spec = _spec(settings, component, env, chosen)
        pid = start(spec)
        state[component] = {"pid": pid, "log": str(spec.log)}
        supervisor.write_entry(settings, STATE_KEY, state)
        log(f"  airflow {component}: ready in {time.monotonic() - started:.1f}s")
    return status(settings)


def down(settings: Settings, log=print) -> None:
    """Stop the components and every process they started (tasks included)."""
    state = supervisor.read_entry(settings, STATE_KEY)
    # The scheduler first: it stops handing out tasks and ends the running ones.
    for component in ("scheduler", "triggerer", "dag-processor", "api-server"):
        entry = state.get(component, {})
        if is_alive(entry.get("pid"), str(settings.airflow_home)):
            log(f"  airflow {component}: stopping pid {entry['pid']} …")
            stop(entry["pid"])
        entry.pop("pid", None)
    if state:
        supervisor.write_entry(settings, STATE_KEY, state)


class ApiError(RuntimeError):
    pass


class Api:
    """Airflow's REST API (/api/v2) as the admin user, for `status` and the tests."""

    def __init__(self, settings: Settings):
        self.port = port(settings)
        if not self.port:
            raise StackError("Airflow is not running: start it with `python -m pipeline airflow up`")
        self.base = url(self.port)
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        login = {"username": ADMIN, "password": admin_password(settings)}
        token = self._call("POST", "/auth/token", login)["access_token"]
        self._headers["Authorization"] = f"Bearer {token}"

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(self.base + path, method=method, headers=self._headers,
                                         data=None if body is None else json.dumps(body).encode())
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            raise ApiError(f"{method} {path}: HTTP {error.code} {error.read().decode(errors='replace')[:500]}") from None

    def get(self, path: str) -> dict:
        return self._call("GET", "/api/v2" + path)

    def post(self, path: str, body: dict) -> dict:
        return self._call("POST", "/api/v2" + path, body)

    def patch(self, path: str, body: dict) -> dict:
        return self._call("PATCH", "/api/v2" + path, body)
