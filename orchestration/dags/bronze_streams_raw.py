"""bronze_streams_raw: both Kafka -> Bronze streaming queries, kept alive as one long-running task.

The task is `python -m pipeline bronze`, the streaming half of `python -m pipeline run`. It fails when a
query dies, and is retried; each query then resumes from its checkpoint
(LAKEHOUSE_URI/_checkpoints/bronze/<table>): the Kafka offsets of the last committed micro-batch, so
nothing is lost and nothing is written twice. The schedule is continuous: should the task ever end, a
new run starts it again.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from orchestration.tasks import START_DATE, default_args, pipeline_step
from pipeline.settings import Settings


@dag(
    schedule="@continuous",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(Settings.from_env()),
    tags=["lakehouse", "bronze"],
    doc_md=__doc__,
)
def bronze_streams_raw():
    @task.bash
    def stream_topics_to_bronze() -> str:
        return pipeline_step("bronze")

    stream_topics_to_bronze()


bronze_streams_raw()
