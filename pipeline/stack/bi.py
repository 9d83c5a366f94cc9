"""The embedded Superset: the live sales dashboard (bi/superset, a bundle kept as code) served by gunicorn.

Superset runs from its own virtualenv (BI_VENV, made by bin/setup-bi) with its home under the stack's run
dir: a generated superset_config.py, a SQLite metadata database, the admin password and the secret key
(mode 0600), and the logs. `up` prepares the metadata database once (db upgrade, the admin, init), starts
gunicorn on 127.0.0.1, and then, on every start, imports the bundle with the live Trino address filled in
and lets anonymous visitors read the dashboard (Superset's read-only Public role, plus database_access on
the lakehouse database only).
"""

from __future__ import annotations

import io
import json
import secrets
import string
import subprocess
import time
import zipfile
from pathlib import Path

import yaml

from pipeline.settings import REPO_ROOT, Settings
from pipeline.stack import supervisor
from pipeline.stack.process import ProcessSpec, StackError, is_alive, start, stop, tail, write_private

BUNDLE = REPO_ROOT / "bi" / "superset"
DASHBOARD_SLUG = "sales"
DASHBOARD_PATH = f"/superset/dashboard/{DASHBOARD_SLUG}/"
DATABASE_NAME = "lakehouse"
# Gold is read as its own Trino user (a read-only one comes with the reliability issue).
TRINO_USER = "bi"
ADMIN = "admin"
PUBLIC_ROLE = "Public"
STATE_KEY = "superset"
START_TIMEOUT_SECONDS = 180
SETUP_TIMEOUT_SECONDS = 600
# What the metadata database was prepared with; a different Superset (or this file's steps) prepares it again.
SETUP_STAMP = "superset 6.1.0, setup 1"


# -- places and secrets ----------------------------------------------------------------------------------
def superset_bin(settings: Settings, name: str = "superset") -> Path:
    return settings.bi_venv / "bin" / name


def config_file(settings: Settings) -> Path:
    return settings.bi_home / "superset_config.py"


def password_file(settings: Settings) -> Path:
    """The admin's password ({"admin": "..."}), mode 0600; `bi status` prints it."""
    return settings.bi_home / "passwords.json"


def _secrets_file(settings: Settings) -> Path:
    return settings.bi_home / "secrets.json"


def _stamp_file(settings: Settings) -> Path:
    return settings.bi_home / "prepared"


def admin_password(settings: Settings) -> str:
    return json.loads(password_file(settings).read_text())[ADMIN]


def ensure_secrets(settings: Settings) -> dict[str, str]:
    """The admin password and SECRET_KEY, generated once and kept (mode 0600): Superset encrypts stored
    connection details with SECRET_KEY, so it must not change between starts."""
    if not password_file(settings).exists():
        write_private(password_file(settings), json.dumps({ADMIN: secrets.token_urlsafe(18)}) + "\n")
    if not _secrets_file(settings).exists():
        write_private(_secrets_file(settings), json.dumps({"secret_key": secrets.token_urlsafe(42)}) + "\n")
    return json.loads(_secrets_file(settings).read_text())


def url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def dashboard_url(port: int) -> str:
    return url(port) + DASHBOARD_PATH


# -- superset_config.py ------------------------------------------------------------------------------------
def config_text(metadata_db: Path, secret_key: str) -> str:
    """superset_config.py: SQLite metadata, the generated key, anonymous read-only viewing, no result cache."""
    return f'''\
"""Superset's settings for the embedded stack, written by `python -m pipeline bi up` (pipeline/stack/bi.py)
on every start: change that module, not this file."""

SECRET_KEY = {secret_key!r}
# SQLite is enough for one local user; wait for its lock rather than fail while the machine is busy.
SQLALCHEMY_DATABASE_URI = {f"sqlite:///{metadata_db}?timeout=60"!r}

# Anonymous visitors get Superset's read-only Public role (view dashboards and their charts' data; no SQL Lab,
# no saving). `bi up` grants that role database_access on the lakehouse database and nothing else, through
# the role API that FAB_ADD_SECURITY_API turns on.
PUBLIC_ROLE_LIKE = "Public"
FAB_ADD_SECURITY_API = True

# No cached chart data or metadata: every refresh asks Trino, so a pipeline run shows at the next refresh.
CACHE_CONFIG = {{"CACHE_TYPE": "NullCache"}}
DATA_CACHE_CONFIG = {{"CACHE_TYPE": "NullCache"}}
FEATURE_FLAGS = {{}}
'''


def write_config(settings: Settings) -> Path:
    keys = ensure_secrets(settings)
    path = config_file(settings)
    text = config_text(settings.bi_home / "superset.db", keys["secret_key"])
    if not path.exists():
        write_private(path, text)
    elif path.read_text() != text:
        path.write_text(text)
    return path


def environment(settings: Settings) -> dict[str, str]:
    """The environment of every Superset command and of gunicorn."""
    return {
        **settings.env,
        "SUPERSET_CONFIG_PATH": str(config_file(settings)),
        # Superset's DATA_DIR (uploads, the default SQLite file) would otherwise be ~/.superset.
        "SUPERSET_HOME": str(settings.bi_home),
        "FLASK_APP": "superset.app:create_app()",
        "PYTHONUNBUFFERED": "1",
    }


# -- the bundle --------------------------------------------------------------------------------------------
def bundle_files(bundle: Path = BUNDLE) -> dict[str, str]:
    """The bundle's YAML files by their path inside it."""
    return {str(path.relative_to(bundle)): path.read_text() for path in sorted(bundle.rglob("*.yaml"))}


def render_bundle(files: dict[str, str], trino_host: str, trino_port: int) -> dict[str, str]:
    """The bundle as Superset imports it: the Trino address filled in (the only templated values), and each
    chart's query_context, kept readable as YAML in the repo, turned into the JSON string Superset stores."""
    rendered = {}
    for name, text in files.items():
        text = string.Template(text).substitute(trino_host=trino_host, trino_port=trino_port)
        if name.startswith("charts/"):
            chart = yaml.safe_load(text)
            chart["query_context"] = json.dumps(chart["query_context"])
            text = yaml.safe_dump(chart, sort_keys=False)
        rendered[name] = text
    return rendered


def bundle_zip(rendered: dict[str, str]) -> bytes:
    """A ZIP whose files sit in one root folder, as Superset's importer expects (it strips the first folder)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in rendered.items():
            archive.writestr(f"bundle/{name}", text)
    return buffer.getvalue()


def chart_uuids(files: dict[str, str]) -> dict[str, str]:
    """Chart uuid -> chart name, from the bundle's charts/."""
    charts = (yaml.safe_load(text) for name, text in files.items() if name.startswith("charts/"))
    return {chart["uuid"]: chart["slice_name"] for chart in charts}


def position_chart_uuids(dashboard: dict) -> list[str]:
    """The chart uuids the dashboard's layout places, in layout order."""
    return [entry["meta"].get("uuid") for entry in dashboard["position"].values()
            if isinstance(entry, dict) and entry.get("type") == "CHART"]


# -- processes ---------------------------------------------------------------------------------------------
def port(settings: Settings) -> int | None:
    return supervisor.read_entry(settings, STATE_KEY).get("port")


def status(settings: Settings) -> supervisor.ServiceStatus:
    entry = supervisor.read_entry(settings, STATE_KEY)
    running = is_alive(entry.get("pid"), str(settings.bi_home))
    return supervisor.ServiceStatus("superset", entry.get("pid"), entry.get("port"), running, entry.get("log", ""))


def _require_installed(settings: Settings) -> None:
    if not superset_bin(settings).exists():
        raise StackError(f"Superset is not installed at {settings.bi_venv}: run bin/setup-bi "
                         "(or set BI_VENV to a virtualenv that has apache-superset 6.1.0)")


def _superset(settings: Settings, env: dict[str, str], *args: str) -> None:
    """One `superset` command, its output appended to setup.log; a failure stops with the log's tail."""
    log = settings.bi_home / "setup.log"
    with log.open("ab") as out:
        result = subprocess.run([str(superset_bin(settings)), *args], env=env, cwd=settings.bi_home, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=SETUP_TIMEOUT_SECONDS)
    if result.returncode != 0:
        raise StackError(f"`superset {args[0]}` failed with exit code {result.returncode}; last lines of {log}:\n"
                         f"{tail(log)}")


def prepare(settings: Settings, env: dict[str, str], log=print) -> None:
    """Create or upgrade the metadata database, the admin and the built-in roles, once per Superset version
    (about 40 s here); a stamp file makes later starts skip it."""
    stamp = _stamp_file(settings)
    if stamp.exists() and stamp.read_text() == SETUP_STAMP:
        return
    started = time.monotonic()
    _superset(settings, env, "db", "upgrade")
    _superset(settings, env, "fab", "create-admin", "--username", ADMIN, "--firstname", "Lakehouse", "--lastname",
              "Admin", "--email", "admin@localhost", "--password", admin_password(settings))
    _superset(settings, env, "init")
    stamp.write_text(SETUP_STAMP)
    log(f"  superset metadata database, admin and roles ready in {time.monotonic() - started:.1f}s")


def _health(port: int) -> bool:
    import requests

    try:
        return requests.get(f"{url(port)}/health", timeout=5).text.strip() == "OK"
    except requests.RequestException:
        return False


def _spec(settings: Settings, env: dict[str, str], port: int) -> ProcessSpec:
    log = settings.bi_home / "superset.log"
    return ProcessSpec(
        name="superset (gunicorn)",
        argv=[str(superset_bin(settings, "gunicorn")), "--bind", f"127.0.0.1:{port}",
              # One worker process (~330 MB) with threads: a dashboard asks for its five charts at once.
              "--workers", "1", "--worker-class", "gthread", "--threads", "8", "--timeout", "120",
              # Its control socket would go to ~/.gunicorn, shared by every stack on the machine.
              "--no-control-socket", "superset.app:create_app()"],
        env=env,
        # is_alive knows the process by this folder (gunicorn's command line does not name it).
        cwd=settings.bi_home,
        log=log,
        ready=lambda: _health(port),
        start_timeout=START_TIMEOUT_SECONDS,
    )


def up(settings: Settings, log=print) -> supervisor.ServiceStatus:
    """Start Superset if it is not running, then import the bundle with Trino's current address (every time:
    the import overwrites by uuid, so a changed bundle or a new Trino port takes effect)."""
    _require_installed(settings)
    trino_port = settings.trino_http_port  # fails with what to do when the stack is not up
    settings.bi_home.mkdir(parents=True, exist_ok=True)
    write_config(settings)
    env = environment(settings)
    current = status(settings)
    if current.running:
        log(f"  superset: already running (pid {current.pid}), reused")
        chosen = current.port
    else:
        prepare(settings, env, log)
        chosen = supervisor.keep_port(current.port, settings.bi_port, "BI_PORT")
        started = time.monotonic()
        spec = _spec(settings, env, chosen)
        log(f"  superset: starting on 127.0.0.1:{chosen} …")
        pid = start(spec)
        supervisor.write_entry(settings, STATE_KEY, {"pid": pid, "port": chosen, "log": str(spec.log)})
        log(f"  superset: ready in {time.monotonic() - started:.1f}s")
    started = time.monotonic()
    publish(Api.of(settings), settings.trino_host, trino_port)
    log(f"  dashboard imported (Trino {settings.trino_host}:{trino_port} as user {TRINO_USER}) in "
        f"{time.monotonic() - started:.1f}s: {dashboard_url(chosen)}")
    return status(settings)


def publish(api: "Api", trino_host: str, trino_port: int) -> None:
    """Import the bundle with this Trino address and let anonymous visitors read the lakehouse database; the
    embedded stack's `up` and compose's Superset container (compose/superset) both do it this way."""
    api.import_bundle(render_bundle(bundle_files(), trino_host, trino_port))
    api.grant_public_database_access(DATABASE_NAME)


def down(settings: Settings, log=print) -> None:
    entry = supervisor.read_entry(settings, STATE_KEY)
    if is_alive(entry.get("pid"), str(settings.bi_home)):
        log(f"  superset: stopping pid {entry['pid']} …")
        stop(entry["pid"])
    if entry.pop("pid", None):
        supervisor.write_entry(settings, STATE_KEY, entry)


# -- the REST API ------------------------------------------------------------------------------------------
class ApiError(RuntimeError):
    pass


def rison(value) -> str:
    """Superset's query-string format (rison) for the few shapes the API calls here use."""
    if isinstance(value, dict):
        return "(" + ",".join(f"{key}:{rison(item)}" for key, item in value.items()) + ")"
    if isinstance(value, list):
        return "!(" + ",".join(rison(item) for item in value) + ")"
    if isinstance(value, bool):
        return "!t" if value else "!f"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("!", "!!").replace("'", "!'") + "'"


class Api:
    """Superset's REST API (/api/v1): as the admin, or anonymous (what a visitor of the dashboard may do)."""

    def __init__(self, base: str, password: str | None = None):
        """The API at `base` (http://host:port), logged in as the admin with `password`, or anonymous (None)."""
        import requests

        self.base = base
        self.session = requests.Session()
        # Superset checks that a form post comes from its own pages.
        self.session.headers["Referer"] = self.base
        if password is not None:
            login = {"username": ADMIN, "password": password, "provider": "db", "refresh": False}
            token = self._call("POST", "/api/v1/security/login", json=login)["access_token"]
            self.session.headers["Authorization"] = f"Bearer {token}"
            self.session.headers["X-CSRFToken"] = self.get("/security/csrf_token/")["result"]

    @classmethod
    def of(cls, settings: Settings, anonymous: bool = False) -> "Api":
        """The API of the stack's Superset, as its admin or as an anonymous visitor."""
        current = status(settings)
        if not current.running:
            raise StackError("Superset is not running: start it with `python -m pipeline bi up`")
        return cls(url(current.port), None if anonymous else admin_password(settings))

    def _call(self, method: str, path: str, **kwargs) -> dict:
        response = self.session.request(method, self.base + path, timeout=120, **kwargs)
        if not response.ok:
            raise ApiError(f"{method} {path}: HTTP {response.status_code} {response.text[:1000]}")
        # Money stays exact: Superset writes Trino's decimals as JSON numbers.
        return json.loads(response.text, parse_float=_decimal)

    def get(self, path: str, **query) -> dict:
        params = {"q": rison(query)} if query else None
        return self._call("GET", "/api/v1" + path, params=params)

    def post(self, path: str, body: dict) -> dict:
        return self._call("POST", "/api/v1" + path, json=body)

    def one(self, path: str, column: str, value: str) -> dict:
        """The one item of a list endpoint whose `column` equals `value`."""
        found = self.get(path, filters=[{"col": column, "opr": "eq", "value": value}])["result"]
        if len(found) != 1:
            raise ApiError(f"GET {path}: {len(found)} items with {column} = {value!r}, expected one")
        return found[0]

    def import_bundle(self, rendered: dict[str, str]) -> None:
        """POST the bundle to the assets import, which overwrites each database, dataset, chart and dashboard
        with the same uuid (the dashboard's import would keep an existing database's old address)."""
        self._call("POST", "/api/v1/assets/import/",
                   files={"bundle": ("bundle.zip", bundle_zip(rendered), "application/zip")})

    def grant_public_database_access(self, database_name: str) -> None:
        """Add database_access on `database_name` to the Public role, keeping its read-only permissions."""
        database = self.one("/database/", "database_name", database_name)
        role = self.one("/security/roles/", "name", PUBLIC_ROLE)
        permission = self.one("/security/permissions/", "name", "database_access")
        resource = self.one("/security/resources/", "name", f"[{database_name}].(id:{database['id']})")
        pairs = self.get("/security/permissions-resources/", filters=[
            {"col": "permission", "opr": "rel_o_m", "value": permission["id"]},
            {"col": "view_menu", "opr": "rel_o_m", "value": resource["id"]}])["result"]
        if len(pairs) != 1:
            raise ApiError(f"no database_access permission for the database {database_name!r}")
        held = [item["id"] for item in self.get(f"/security/roles/{role['id']}/permissions/")["result"]]
        if pairs[0]["id"] not in held:
            self.post(f"/security/roles/{role['id']}/permissions", {"permission_view_menu_ids": [*held, pairs[0]["id"]]})

    def dashboard_charts(self, slug: str = DASHBOARD_SLUG) -> dict[str, int]:
        """Chart name -> id of the dashboard's charts."""
        return {chart["slice_name"]: chart["id"] for chart in self.get(f"/dashboard/{slug}/charts")["result"]}

    def chart_data(self, chart_id: int) -> list[dict]:
        """The rows of the chart's saved query (its query_context), as the chart shows them."""
        return self.get(f"/chart/{chart_id}/data/")["result"][0]["data"]


def _decimal(text: str):
    from decimal import Decimal

    return Decimal(text)


def main(argv: list[str] | None = None) -> int:
    """`python -m pipeline.stack.bi publish …`: the import step alone, for a Superset this module did not start
    (compose's container runs it from Superset's own venv; it needs only PyYAML and requests)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m pipeline.stack.bi", description=main.__doc__)
    parser.add_argument("action", choices=("publish",))
    parser.add_argument("--url", required=True, help="Superset's address, e.g. http://localhost:8088")
    parser.add_argument("--password-file", type=Path, required=True, help="a file holding the admin's password")
    parser.add_argument("--trino-host", required=True)
    parser.add_argument("--trino-port", type=int, required=True)
    args = parser.parse_args(argv)
    publish(Api(args.url, args.password_file.read_text().strip()), args.trino_host, args.trino_port)
    print(f"dashboard published: {args.url}{DASHBOARD_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
