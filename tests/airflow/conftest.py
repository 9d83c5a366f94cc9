"""The DAG tests run in Airflow's own virtualenv (`tox -e airflow`): the DAG folder loaded as the
dag-processor loads it, with AIRFLOW_HOME and LAKEHOUSE_HOME in a temporary folder."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

# Airflow reads its configuration when it is first imported, that is when the test modules are collected.
_HOME = Path(tempfile.mkdtemp(prefix="airflow-tests-"))
os.environ["AIRFLOW_HOME"] = str(_HOME / "airflow")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["LAKEHOUSE_HOME"] = str(_HOME / "lakehouse")
# The DAGs read these; the tests set what they need and expect the defaults otherwise.
for name in ("SILVER_SCHEDULE", "TASK_RETRIES", "TASK_RETRY_DELAY_SECONDS", "GOLD_DEADLINE_SECONDS",
             "ALERT_WEBHOOK_URL"):
    os.environ.pop(name, None)

from pipeline.settings import REPO_ROOT, Settings  # noqa: E402
from pipeline.stack.airflow import dbt_manifest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def manifest() -> Path:
    """gold_dbt is drawn from the dbt manifest that `pipeline airflow up` writes; here the project's
    Python (PIPELINE_PYTHON: the tox env's, else .venv's) writes it once for the session."""
    path = dbt_manifest(Settings.from_env())
    python = os.environ.get("PIPELINE_PYTHON") or str(REPO_ROOT / ".venv" / "bin" / "python")
    if not Path(python).exists():
        pytest.fail(f"no project Python at {python} to parse the dbt project with: run bin/setup, or set "
                    "PIPELINE_PYTHON to a Python with the project installed (tox -e airflow does)")
    subprocess.run([python, "-m", "pipeline", "dbt", "parse", "--quiet", "--project-dir", str(REPO_ROOT / "dbt"),
                    "--target-path", str(path.parent), "--log-path", str(path.parent / "logs")],
                   check=True, cwd=REPO_ROOT)
    return path
