"""gold_dbt: Gold rebuilt by dbt whenever Silver's order_payments_enriched has changed.

Scheduled on the asset silver_jobs emits. First the tables Spark wrote are registered in Trino
(`python -m pipeline register`), then astronomer-cosmos runs the dbt project, one task per model and one
per model's tests, each `dbt run`/`dbt test` of that node through `python -m pipeline dbt` (the
project's dbt with the running stack's Trino). Together they are the Gold step of `python -m pipeline
run --once` (`dbt build`). A run still unfinished GOLD_DEADLINE_SECONDS (default 10 minutes) after it
was queued raises a Deadline Alert.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference, dag, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode

from orchestration.alerts import AlertNotifier
from orchestration.tasks import SILVER_ENRICHED, START_DATE, default_args, pipeline_step
from pipeline.settings import REPO_ROOT, Settings
from pipeline.stack.airflow import dbt_manifest

settings = Settings.from_env()
DBT_PROJECT = REPO_ROOT / "dbt"


@dag(
    schedule=[SILVER_ENRICHED],
    start_date=START_DATE,
    catchup=False,
    # dbt replaces Gold's tables copy-on-write: one run at a time.
    max_active_runs=1,
    default_args=default_args(settings),
    deadline=DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(seconds=settings.gold_deadline_seconds),
        callback=AsyncCallback(AlertNotifier),
    ),
    tags=["lakehouse", "gold"],
    doc_md=__doc__,
)
def gold_dbt():
    @task.bash
    def register_tables() -> str:
        return pipeline_step("register")

    dbt = DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(dbt_project_path=DBT_PROJECT, manifest_path=dbt_manifest(settings),
                                     install_dbt_deps=False),
        profile_config=ProfileConfig(profile_name="lakehouse", target_name="embedded",
                                     profiles_yml_filepath=DBT_PROJECT / "profiles.yml"),
        execution_config=ExecutionConfig(execution_mode=ExecutionMode.LOCAL,
                                         invocation_mode=InvocationMode.SUBPROCESS,
                                         dbt_executable_path=REPO_ROOT / "orchestration" / "dbt"),
        # The manifest `python -m pipeline airflow up` wrote with the project's dbt: the DAG is drawn from
        # it without running dbt at parse time. (LoadMode.CUSTOM needs no manifest, but misses every test
        # declared under dbt 1.8+'s `data_tests:`.)
        # Sources are not drawn: `dbt build` runs no freshness check, and their tests read all of Silver
        # (`python -m pipeline run` leaves them to `run --once` and `gold` too).
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST),
        # The shim needs PIPELINE_PYTHON and the settings' variables from the worker's environment.
        # emit_datasets off: the asset that matters is Silver's; cosmos's per-model events would only be noise.
        operator_args={"append_env": True, "emit_datasets": False},
    )

    register_tables() >> dbt


gold_dbt()
