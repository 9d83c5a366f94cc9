"""silver_jobs: Silver brought up to Bronze on a schedule (SILVER_SCHEDULE, default every 5 minutes).

The task is `python -m pipeline silver`, the Silver step of `python -m pipeline run`. Its outlet is the
asset silver.order_payments_enriched, the table Gold reads: a run that committed new or changed rows
there succeeds and emits an asset event, which triggers gold_dbt; a run that changed nothing there exits
with UNCHANGED_EXIT_CODE, the task is skipped, and no event is emitted.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from orchestration.tasks import SILVER_ENRICHED, START_DATE, UNCHANGED_EXIT_CODE, default_args, pipeline_step
from pipeline.settings import Settings

settings = Settings.from_env()


@dag(
    schedule=settings.silver_schedule,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(settings),
    tags=["lakehouse", "silver"],
    doc_md=__doc__,
)
def silver_jobs():
    @task.bash(outlets=[SILVER_ENRICHED], skip_on_exit_code=UNCHANGED_EXIT_CODE)
    def bronze_to_silver() -> str:
        return pipeline_step("silver", "--unchanged-exit-code", str(UNCHANGED_EXIT_CODE))

    bronze_to_silver()


silver_jobs()
