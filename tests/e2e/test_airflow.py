"""The pipeline run by a real Airflow (scheduler, dag-processor, triggerer, api-server) against the embedded
stack: the mixed scenario reaches Gold through the three DAGs, gold_dbt triggered by Silver's asset event;
a task that cannot reach Trino is tried three times and alerts; a run past its deadline alerts."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest

from harness import reconcile
from pipeline import lag, lakehouse
from pipeline.settings import Settings
from pipeline.stack import airflow, supervisor
from pipeline.stack.airflow import Api
from pipeline.stack.process import descendants, listeners, stop
from simulator.play import run_produce
from tests.e2e import children

DAGS = ("bronze_streams_raw", "silver_jobs", "gold_dbt")
SILVER_ASSET = "silver.order_payments_enriched"
# Short enough for a test, long enough that the failing gold run (three tries, two delays) outlasts
# its deadline: the deadline alert is then certain, not a race.
RETRY_DELAY_SECONDS = 10
DEADLINE_SECONDS = 15
GOLD_TIMEOUT_SECONDS = 900
POLL_SECONDS = 5


@pytest.fixture(scope="module")
def airflow_settings(settings: Settings, stack) -> Iterator[Settings]:
    # Silver back to back instead of every 5 minutes: the test waits for data, not for the clock.
    env = {**settings.env, "SILVER_SCHEDULE": "@continuous", "TASK_RETRY_DELAY_SECONDS": str(RETRY_DELAY_SECONDS),
           "GOLD_DEADLINE_SECONDS": str(DEADLINE_SECONDS), "AIRFLOW_PORT": "0"}
    env.pop("ALERT_WEBHOOK_URL", None)
    ours = Settings.from_env(env)
    started = time.monotonic()
    airflow.up(ours)
    print(f"\nairflow up in {time.monotonic() - started:.1f}s")
    yield ours
    # Everything Airflow started, the bronze task's Spark JVM included, must end with it.
    processes = [pid for component in airflow.status(ours) if component.running
                 for pid in (component.pid, *descendants(component.pid))]
    airflow.down(ours)
    assert not [component.name for component in airflow.status(ours) if component.running]
    # A process still exiting, or a zombie its parent has not reaped yet, is not left behind.
    deadline = time.monotonic() + 30
    while (left := [pid for pid in processes if children.is_running(pid)]) and time.monotonic() < deadline:
        time.sleep(1)
    assert not left, f"airflow down left processes behind: {left}"


@pytest.fixture(scope="module")
def api(airflow_settings) -> Api:
    return Api(airflow_settings)


def wait_for(what: str, check: Callable[[], object], timeout: float, report: Callable[[], str] = lambda: "") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(POLL_SECONDS)
    pytest.fail(f"no {what} within {timeout:.0f}s. {report()}")


def runs(api: Api, dag_id: str) -> list[dict]:
    return api.get(f"/dags/{dag_id}/dagRuns?order_by=-run_after&limit=100")["dag_runs"]


def run_states(api: Api) -> str:
    return "; ".join(f"{dag_id}: " + ", ".join(f"{r['dag_run_id']} {r['state']}" for r in runs(api, dag_id)[:5])
                     for dag_id in DAGS)


def alerts(settings: Settings) -> list[dict]:
    try:
        return [json.loads(line) for line in settings.alerts_file.read_text().splitlines()]
    except FileNotFoundError:
        return []


def bronze_holds_kafka(settings: Settings) -> bool:
    return all(topic.behind == 0 for topic in lag.measure(settings).kafka)


def test_airflow_listens_on_loopback_only(airflow_settings):
    found = listeners(pid for component in airflow.status(airflow_settings)
                      for pid in (component.pid, *descendants(component.pid)))
    assert any(listener.port == airflow.port(airflow_settings) for listener in found), found
    assert [listener for listener in found if not listener.is_loopback()] == []


def test_mixed_reaches_gold_through_airflow_triggered_by_the_silver_asset(airflow_settings, api, tmp_path):
    lakehouse.empty(airflow_settings)
    api.patch("/dags/bronze_streams_raw", {"is_paused": False})
    produced_at = time.monotonic()
    event_log = tmp_path / "mixed.jsonl"
    expected, _ = run_produce(airflow_settings, scenario="mixed", record=event_log)
    # Silver and Gold start once Bronze holds every message: each of their runs starts a JVM or dbt (a minute or
    # so here), and one Silver run over all of it then leads to the gold run that matches.
    wait_for("Bronze holding every produced message", lambda: bronze_holds_kafka(airflow_settings), 300,
             lambda: run_states(api))
    for dag_id in ("silver_jobs", "gold_dbt"):
        api.patch(f"/dags/{dag_id}", {"is_paused": False})
    checked: set[str] = set()

    def matching_gold_run() -> dict | None:
        for run in runs(api, "gold_dbt"):
            if run["state"] == "success" and run["dag_run_id"] not in checked:
                checked.add(run["dag_run_id"])
                if reconcile.reconcile(airflow_settings, expected, [event_log]).matches:
                    return run
        return None

    run = wait_for("gold_dbt run that leaves Gold equal to the oracle", matching_gold_run, GOLD_TIMEOUT_SECONDS,
                   lambda: run_states(api) + "\n" + reconcile.reconcile(airflow_settings, expected, [event_log])
                   .summary("mixed"))
    print(f"\nmixed: produce -> Gold through Airflow in {time.monotonic() - produced_at:.0f}s "
          f"({len(checked)} successful gold_dbt runs)")
    result = reconcile.reconcile(airflow_settings, expected, [event_log])
    assert result.matches, result.summary("mixed through Airflow")

    assert run["run_type"] == "asset_triggered"
    events = api.get(f"/dags/gold_dbt/dagRuns/{run['dag_run_id']}/upstreamAssetEvents")["asset_events"]
    assert events and {(e["name"], e["source_dag_id"], e["source_task_id"]) for e in events} == \
        {(SILVER_ASSET, "silver_jobs", "bronze_to_silver")}

    # An asset event only for the Silver runs that changed rows: once Silver has caught up, its runs
    # find nothing new and are skipped. The run after the one that took all of Bronze began as that one
    # ended, before the gold run it triggered: it has nothing new, and is the last.
    def silver_tries(state: str) -> list[dict]:
        return api.get(f"/dags/silver_jobs/dagRuns/~/taskInstances?task_id=bronze_to_silver&state={state}&limit=1000"
                       )["task_instances"]

    api.patch("/dags/silver_jobs", {"is_paused": True})
    wait_for("end of the running silver_jobs run",
             lambda: not [r for r in runs(api, "silver_jobs") if r["state"] in ("queued", "running")], 300)
    assert silver_tries("skipped"), run_states(api)
    events = api.get("/assets/events?source_dag_id=silver_jobs&limit=1000")["asset_events"]
    assert {e["name"] for e in events} == {SILVER_ASSET}
    assert len(events) == len(silver_tries("success")) > 0


def test_a_task_that_fails_is_tried_three_times_alerts_once_and_its_late_run_alerts(airflow_settings, settings, api):
    # No new Silver changes, so no asset-triggered gold run besides ours; gold_dbt itself stays unpaused
    # (the runs of a paused DAG, triggered ones too, stay queued).
    for dag_id in ("bronze_streams_raw", "silver_jobs"):
        api.patch(f"/dags/{dag_id}", {"is_paused": True})
    api.patch("/dags/gold_dbt", {"is_paused": False})
    wait_for("end of the running gold_dbt runs",
             lambda: not [r for r in runs(api, "gold_dbt") if r["state"] in ("queued", "running")], 600)
    [trino] = [s for s in supervisor.status(settings) if s.name == "trino"]
    stop(trino.pid)
    try:
        run_id = api.post("/dags/gold_dbt/dagRuns", {"logical_date": None})["dag_run_id"]
        wait_for("failed gold_dbt run", lambda: api.get(f"/dags/gold_dbt/dagRuns/{run_id}")["state"] == "failed",
                 300, lambda: run_states(api))
        tries = api.get(f"/dags/gold_dbt/dagRuns/{run_id}/taskInstances/register_tables/tries")["task_instances"]
        assert [(t["try_number"], t["state"]) for t in tries] == [(1, "failed"), (2, "failed"), (3, "failed")]

        failures = [a for a in alerts(airflow_settings) if a["kind"] == "task_failed" and a["run_id"] == run_id]
        assert [(a["dag"], a["task"], a["try_number"]) for a in failures] == [("gold_dbt", "register_tables", 3)]
        assert failures[0]["error"] and failures[0]["time"]

        late = wait_for("deadline alert", lambda: [a for a in alerts(airflow_settings)
                                                    if a["kind"] == "deadline_missed" and a["run_id"] == run_id],
                        120, lambda: str(alerts(airflow_settings)))
        assert [(a["dag"], a["task"]) for a in late] == [("gold_dbt", None)]
    finally:
        supervisor.up(settings)
