"""The DAG folder: it imports cleanly and cheaply, and each DAG has the id, schedule, arguments,
deadline and asset wiring of the design."""

from __future__ import annotations

import socket
import subprocess
from datetime import timedelta

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import Asset, AsyncCallback, CronTriggerTimetable, DeadlineReference
from airflow.sdk.definitions.timetables.simple import ContinuousTimetable

from orchestration.tasks import SILVER_ENRICHED, UNCHANGED_EXIT_CODE
from pipeline.stack.airflow import DAGS_FOLDER

DAG_IDS = {"bronze_streams_raw", "silver_jobs", "gold_dbt", "lakehouse_maintenance"}


def load(monkeypatch, **env: str) -> DagBag:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    bag = DagBag(dag_folder=DAGS_FOLDER)
    assert bag.import_errors == {}
    return bag


@pytest.fixture
def dags(monkeypatch) -> DagBag:
    return load(monkeypatch)


def test_the_folder_holds_the_four_dags_one_per_file(dags):
    assert set(dags.dag_ids) == DAG_IDS
    assert {dag.dag_id: dag.fileloc.rsplit("/", 1)[-1] for dag in dags.dags.values()} == \
        {dag_id: f"{dag_id}.py" for dag_id in DAG_IDS}


def test_importing_the_dags_starts_no_process_and_opens_no_connection(monkeypatch):
    # What the dag-processor pays every parse: no dbt, Spark, Kafka or Trino, only reading settings
    # and the dbt manifest.
    def refuse(*args, **kwargs):
        raise AssertionError("heavy work at import time")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    load(monkeypatch)


def test_every_task_retries_twice_two_minutes_apart_and_alerts_on_failure(dags):
    for dag in dags.dags.values():
        for task in dag.tasks:
            assert (task.retries, task.retry_delay) == (2, timedelta(minutes=2)), task.task_id
            assert [type(c).__name__ for c in task.on_failure_callback] == ["AlertNotifier"], task.task_id


def test_retries_and_their_delay_come_from_the_environment(monkeypatch):
    dags = load(monkeypatch, TASK_RETRIES="1", TASK_RETRY_DELAY_SECONDS="5")
    assert {(task.retries, task.retry_delay) for dag in dags.dags.values() for task in dag.tasks} == \
        {(1, timedelta(seconds=5))}


def test_bronze_keeps_one_streaming_task_running(dags):
    dag = dags.dags["bronze_streams_raw"]
    assert isinstance(dag.timetable, ContinuousTimetable)
    assert (dag.max_active_runs, dag.catchup) == (1, False)
    [task] = dag.tasks
    assert task.task_id == "stream_topics_to_bronze"
    assert _command(task).endswith("-m pipeline bronze")


def test_silver_runs_every_five_minutes_one_at_a_time_without_catch_up(dags):
    dag = dags.dags["silver_jobs"]
    assert isinstance(dag.timetable, CronTriggerTimetable)
    assert dag.timetable.expression == "*/5 * * * *"
    assert (dag.max_active_runs, dag.catchup) == (1, False)


def test_the_silver_schedule_comes_from_the_environment(monkeypatch):
    dag = load(monkeypatch, SILVER_SCHEDULE="*/2 * * * *").dags["silver_jobs"]
    assert dag.timetable.expression == "*/2 * * * *"


def test_silver_emits_the_enriched_asset_and_is_skipped_when_it_changed_nothing(dags):
    [task] = dags.dags["silver_jobs"].tasks
    assert task.outlets == [Asset("silver.order_payments_enriched")]
    assert task.skip_on_exit_code == [UNCHANGED_EXIT_CODE]
    assert _command(task).endswith(f"-m pipeline silver --unchanged-exit-code {UNCHANGED_EXIT_CODE}")


def test_gold_runs_on_the_silver_asset_one_run_at_a_time(dags):
    dag = dags.dags["gold_dbt"]
    assert list(dag.timetable.asset_condition.objects) == [SILVER_ENRICHED]
    assert (dag.max_active_runs, dag.catchup) == (1, False)


def test_gold_registers_the_tables_then_runs_and_tests_each_model(dags):
    dag = dags.dags["gold_dbt"]
    tasks = {task.task_id: task for task in dag.tasks}
    assert _command(tasks["register_tables"]).endswith("-m pipeline register")
    upstream = {task_id: sorted(task.upstream_task_ids) for task_id, task in tasks.items()}
    assert upstream == {
        "register_tables": [],
        "dbt.fct_sales_minute.run": ["register_tables"],
        "dbt.fct_sales_minute.test": ["dbt.fct_sales_minute.run"],
        "dbt.vw_sales_last_60min.run": ["dbt.fct_sales_minute.test"],
        "dbt.vw_sales_last_60min.test": ["dbt.vw_sales_last_60min.run"],
    }
    dbt_task = tasks["dbt.fct_sales_minute.run"]
    assert str(dbt_task.dbt_executable_path).endswith("orchestration/dbt")


def test_gold_has_a_ten_minute_deadline_from_queueing_that_alerts(dags):
    [deadline] = dags.dags["gold_dbt"].deadline
    assert deadline.reference == DeadlineReference.DAGRUN_QUEUED_AT
    assert deadline.interval == timedelta(minutes=10)
    assert deadline.callback == AsyncCallback("orchestration.alerts.AlertNotifier")


def test_the_deadline_comes_from_the_environment(monkeypatch):
    [deadline] = load(monkeypatch, GOLD_DEADLINE_SECONDS="30").dags["gold_dbt"].deadline
    assert deadline.interval == timedelta(seconds=30)


def test_maintenance_runs_daily_one_at_a_time_without_catch_up_and_calls_maintain(dags):
    dag = dags.dags["lakehouse_maintenance"]
    assert isinstance(dag.timetable, CronTriggerTimetable)
    assert dag.timetable.expression == "0 0 * * *"
    assert (dag.max_active_runs, dag.catchup) == (1, False)
    [task] = dag.tasks
    assert task.task_id == "optimize_vacuum_checkpoint"
    assert _command(task).endswith("-m pipeline maintain")


def _command(task) -> str:
    # @task.bash returns its command when the task runs; python_callable gives it without running it.
    return task.python_callable()
