"""lakehouse_maintenance: the Delta tables of Bronze, Silver and Gold compacted, vacuumed and checkpointed daily.

The task is `python -m pipeline maintain`: OPTIMIZE, VACUUM keeping a week (Delta's safety limit) and a log
checkpoint per table, printing each table's files and bytes before and after. It runs beside the other DAGs
and beside `python -m pipeline run`: each layer's tables are maintained under that layer's commit lock, which
Silver and Gold hold while they commit, so a Silver run or a Gold swap waits for it and it waits for them.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from orchestration.tasks import START_DATE, default_args, pipeline_step
from pipeline.settings import Settings


@dag(
    schedule="@daily",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(Settings.from_env()),
    tags=["lakehouse", "maintenance"],
    doc_md=__doc__,
)
def lakehouse_maintenance():
    @task.bash
    def optimize_vacuum_checkpoint() -> str:
        return pipeline_step("maintain")

    optimize_vacuum_checkpoint()


lakehouse_maintenance()
