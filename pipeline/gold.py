"""Gold: `dbt build` of the dbt project through Trino, run by dbt's programmatic runner in this process."""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from datetime import datetime, timezone
from pathlib import Path

from dbt.cli.main import dbtRunner, dbtRunnerResult

from pipeline.settings import REPO_ROOT, Settings
from pipeline.tables import GOLD_SCHEMA

DBT_PROJECT = REPO_ROOT / "dbt"
# What dbt reads from the environment: env_var() in profiles.yml (TRINO_*, DBT_SCHEMA, DBT_TARGET),
# its own flags (DBT_*) and LAKEHOUSE_STORAGE (`local` or `s3`), by which fct_sales_minute chooses how
# it writes (copy-on-write or MERGE).
DBT_ENV_PREFIXES = ("DBT_", "TRINO_", "LAKEHOUSE_STORAGE")
OUTPUT_TAIL_CHARS = 6000
CONSOLE_LEVELS = {"info", "warn", "error"}  # the events dbt prints at its default --log-level
COLOUR_CODES = re.compile(r"\x1b\[[0-9;]*m")


class DbtFailed(RuntimeError):
    pass


def dbt_env(settings: Settings, schema: str = GOLD_SCHEMA) -> dict[str, str]:
    """What dbt reads from the environment: the settings' DBT_* and TRINO_* variables, with the Trino
    the stack runs (or the one TRINO_HOST/TRINO_PORT name) and the schema dbt builds into."""
    return {
        **{name: value for name, value in settings.env.items() if name.startswith(DBT_ENV_PREFIXES)},
        "TRINO_HOST": settings.trino_host,
        "TRINO_PORT": str(settings.trino_http_port),
        "TRINO_USER": settings.trino_user,
        "DBT_SCHEMA": schema,
        "DBT_PROFILES_DIR": str(DBT_PROJECT),
        "LAKEHOUSE_STORAGE": "s3" if settings.on_s3 else "local",
    }


def target_dir(settings: Settings) -> Path:
    """Where dbt writes manifest.json, run_results.json, sources.json and the docs."""
    return settings.home / "dbt" / "target"


def dbt(settings: Settings, *args: str, schema: str = GOLD_SCHEMA, dbt_vars: dict | None = None,
        quiet: bool = False) -> dbtRunnerResult:
    """Run one dbt command in this process; its target/ and logs/ go under LAKEHOUSE_HOME, not into the repo.

    `schema` is where the models go and `dbt_vars` the project vars (dbt_project.yml) to set:
    tests build Gold from probe tables into a schema of their own. `quiet` keeps dbt's console
    output for the error message instead of printing it.
    """
    options = ["--project-dir", str(DBT_PROJECT),
               "--target-path", str(target_dir(settings)), "--log-path", str(settings.home / "dbt" / "logs")]
    if dbt_vars:
        options += ["--vars", json.dumps(dbt_vars)]
    env = dbt_env(settings, schema)
    # Quiet, dbt prints nothing and its console lines are kept, for the error message, from its events: not by
    # redirecting sys.stdout, which would take in whatever another thread prints meanwhile (`pipeline run`
    # logs Silver's next step while a cycle's Gold builds).
    console: list[str] = []
    keep = [lambda event: console.append(event.info.msg) if event.info.level in CONSOLE_LEVELS else None]
    # dbt keeps its flags, adapters and event logger in globals: one invocation at a time.
    with _one_at_a_time, _environment(env):
        # dbt's partial parsing (target/partial_parse.msgpack) re-parses only what changed since the
        # last call; handing dbtRunner a parsed manifest would save ~0.1 s a call more.
        result = dbtRunner(callbacks=keep if quiet else None).invoke(
            [*args, *options, *(["--log-level", "none"] if quiet else [])])
    _raise_if_failed(args, result, "\n".join(console) if quiet else None)
    return result


# dbt commands that read the project only: they run without a Trino to talk to.
OFFLINE_COMMANDS = {"parse", "ls", "list", "deps", "clean"}


def cli(settings: Settings, args: list[str]) -> int:
    """dbt's own command line, as given, with the environment the pipeline gives dbt (the running
    stack's Trino): what astronomer-cosmos's tasks run (orchestration/dbt). Returns dbt's exit code."""
    command = next((arg for arg in args if not arg.startswith("-")), None)
    offline = command is None or command in OFFLINE_COMMANDS  # `dbt --version` has no command
    env = {"DBT_PROFILES_DIR": str(DBT_PROJECT)} if offline else dbt_env(settings)
    with _one_at_a_time, _environment(env):
        return _exit_code(dbtRunner().invoke(args))


def refresh(settings: Settings, quiet: bool = False) -> None:
    """`dbt run`: the models only, for the continuous pipeline's cycles. Their data tests read all of
    Silver's and Gold's rows; a cycle must cost what is new (`run --once` and `gold` run them)."""
    dbt(settings, "run", quiet=quiet)


def build(settings: Settings, full_refresh: bool = False, quiet: bool = False, unit_tests: bool = True) -> None:
    """`dbt build`: models and their data tests; the dbt unit tests too unless `unit_tests` is False
    (the pipeline's own runs skip them: they test the SQL, not the data, and cost ~5 s a run)."""
    dbt(settings, "build", *(["--full-refresh"] if full_refresh else []),
        *([] if unit_tests else ["--exclude-resource-type", "unit_test"]), quiet=quiet)


def pin_sales_window(settings: Settings, last_minute: datetime | None, quiet: bool = False) -> None:
    """Rebuild the dashboard's view with its window ending at `last_minute` (None: at the time of each query,
    the default). A look at a past hour, e.g. the simulator's, whose event time is not the clock's; the
    pipeline's next `dbt build` puts the default back."""
    end = None if last_minute is None else f"{last_minute.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC"
    dbt(settings, "run", "--select", "vw_sales_last_60min", dbt_vars={"sales_window_end": end}, quiet=quiet)


def _exit_code(result: dbtRunnerResult) -> int:
    """The dbt CLI's exit code: 0, 1 when dbt completed with errors, 2 when it could not complete."""
    if result.exception is not None and not isinstance(result.exception, Exception):
        raise result.exception  # Ctrl-C (KeyboardInterrupt) or SystemExit reached dbt: not dbt's failure
    return 0 if result.success else 1 if result.exception is None else 2


def _raise_if_failed(args: tuple[str, ...], result: dbtRunnerResult, output: str | None) -> None:
    exit_code = _exit_code(result)
    if exit_code == 0:
        return
    detail = "(above)" if output is None else COLOUR_CODES.sub("", output)[-OUTPUT_TAIL_CHARS:]
    if result.exception is not None:
        detail = f"{result.exception}\n{detail}"
    raise DbtFailed(f"`dbt {' '.join(args)}` failed with exit code {exit_code}: {detail}")


_one_at_a_time = threading.Lock()


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    """The process environment with exactly `values` as its DBT_* and TRINO_* variables while dbt runs:
    profiles.yml's env_var() and dbt's flags read os.environ. Put back as it was afterwards."""
    before = {name: value for name, value in os.environ.items() if name.startswith(DBT_ENV_PREFIXES)}
    _replace_dbt_variables(values)
    try:
        yield
    finally:
        _replace_dbt_variables(before)


def _replace_dbt_variables(values: dict[str, str]) -> None:
    for name in [name for name in os.environ if name.startswith(DBT_ENV_PREFIXES)]:
        del os.environ[name]
    os.environ.update(values)
