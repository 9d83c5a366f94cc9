"""Gold: `dbt build` of the dbt project through Trino."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pipeline.settings import REPO_ROOT, Settings
from pipeline.tables import GOLD_SCHEMA

DBT_PROJECT = REPO_ROOT / "dbt"


class DbtFailed(RuntimeError):
    pass


def dbt_env(settings: Settings, schema: str = GOLD_SCHEMA) -> dict[str, str]:
    """What profiles.yml reads: the Trino the stack runs (or the one TRINO_HOST/TRINO_PORT name)
    and the schema dbt builds into."""
    return {
        **settings.env,
        "TRINO_HOST": settings.trino_host,
        "TRINO_PORT": str(settings.trino_http_port),
        "TRINO_USER": settings.trino_user,
        "DBT_SCHEMA": schema,
        "DBT_PROFILES_DIR": str(DBT_PROJECT),
    }


def target_dir(settings: Settings) -> Path:
    """Where dbt writes manifest.json, run_results.json, sources.json and the docs."""
    return settings.home / "dbt" / "target"


def dbt(settings: Settings, *args: str, schema: str = GOLD_SCHEMA, dbt_vars: dict | None = None,
        quiet: bool = False) -> subprocess.CompletedProcess:
    """Run one dbt command; its target/ and logs/ go under LAKEHOUSE_HOME, not into the repo.

    `schema` is where the models go and `dbt_vars` the project vars (dbt_project.yml) to set:
    tests build Gold from probe tables into a schema of their own.
    """
    command = [sys.executable, "-m", "dbt.cli.main", *args,
               "--project-dir", str(DBT_PROJECT),
               "--target-path", str(target_dir(settings)), "--log-path", str(settings.home / "dbt" / "logs")]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    result = subprocess.run(command, env=dbt_env(settings, schema), capture_output=quiet, text=True)
    if result.returncode != 0:
        output = (result.stdout or "")[-6000:] if quiet else "(above)"
        raise DbtFailed(f"`dbt {' '.join(args)}` failed with exit code {result.returncode}: {output}")
    return result


def build(settings: Settings, full_refresh: bool = False, quiet: bool = False, unit_tests: bool = True) -> None:
    """`dbt build`: models and their data tests; the dbt unit tests too unless `unit_tests` is False
    (the pipeline's own runs skip them: they test the SQL, not the data, and cost ~5 s a run)."""
    dbt(settings, "build", *(["--full-refresh"] if full_refresh else []),
        *([] if unit_tests else ["--exclude-resource-type", "unit_test"]), quiet=quiet)
