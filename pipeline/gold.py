"""Gold: `dbt build` of the dbt project through Trino."""

from __future__ import annotations

import subprocess
import sys

from pipeline.settings import REPO_ROOT, Settings

DBT_PROJECT = REPO_ROOT / "dbt"


class DbtFailed(RuntimeError):
    pass


def dbt_env(settings: Settings) -> dict[str, str]:
    """What profiles.yml reads: the Trino the stack runs (or the one TRINO_HOST/TRINO_PORT name)."""
    return {
        **settings.env,
        "TRINO_HOST": settings.trino_host,
        "TRINO_PORT": str(settings.trino_http_port),
        "TRINO_USER": settings.trino_user,
        "DBT_PROFILES_DIR": str(DBT_PROJECT),
    }


def dbt(settings: Settings, *args: str, quiet: bool = False) -> subprocess.CompletedProcess:
    """Run one dbt command; its target/ and logs/ go under LAKEHOUSE_HOME, not into the repo."""
    work = settings.home / "dbt"
    command = [sys.executable, "-m", "dbt.cli.main", *args,
               "--project-dir", str(DBT_PROJECT),
               "--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    result = subprocess.run(command, env=dbt_env(settings), capture_output=quiet, text=True)
    if result.returncode != 0:
        output = (result.stdout or "")[-6000:] if quiet else "(above)"
        raise DbtFailed(f"`dbt {' '.join(args)}` failed with exit code {result.returncode}: {output}")
    return result


def build(settings: Settings, full_refresh: bool = False, quiet: bool = False) -> None:
    dbt(settings, "build", *(["--full-refresh"] if full_refresh else []), quiet=quiet)
