"""What the DAGs share: their default_args, a pipeline step as a bash command, the Silver asset."""

from __future__ import annotations

import shlex
from datetime import datetime, timedelta, timezone

from airflow.sdk import Asset

from orchestration.alerts import AlertNotifier
from pipeline.settings import REPO_ROOT, Settings

# Gold reads only this table: silver_jobs emits an event for it when a run changed it, gold_dbt runs on it.
SILVER_ENRICHED = Asset("silver.order_payments_enriched")
# `python -m pipeline silver --unchanged-exit-code` exits with it when nothing changed; BashOperator's
# skip_on_exit_code (99 by default) then marks the task skipped, and a skipped task emits no asset event.
UNCHANGED_EXIT_CODE = 99
START_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)


def default_args(settings: Settings) -> dict:
    return {
        "owner": "lakehouse",
        "retries": settings.task_retries,
        "retry_delay": timedelta(seconds=settings.task_retry_delay_seconds),
        "on_failure_callback": AlertNotifier(),
    }


def pipeline_step(*args: str) -> str:
    """The bash command of a step: `python -m pipeline ARGS` in the project's virtualenv, the one that
    ran `python -m pipeline airflow up` (PIPELINE_PYTHON), from the repository."""
    return f'cd {shlex.quote(str(REPO_ROOT))} && exec "${{PIPELINE_PYTHON:?set by python -m pipeline airflow up}}" ' \
           f"-m pipeline {shlex.join(args)}"
