"""The alert channel: a final task failure and a missed deadline each append one JSON line to
LAKEHOUSE_HOME/alerts/alerts.jsonl, and the same line is POSTed to ALERT_WEBHOOK_URL when it is set."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace

import pytest

from orchestration.alerts import AlertNotifier
from pipeline.settings import Settings

LOG_URL = "http://127.0.0.1:8080/dags/gold_dbt/runs/manual__1/tasks/register_tables?try_number=3"
FAILED_TRY = {"ti": SimpleNamespace(dag_id="gold_dbt", task_id="register_tables", run_id="manual__1", try_number=3,
                                    log_url=LOG_URL),
              "exception": ConnectionRefusedError("Trino at 127.0.0.1:8080 refused the connection")}
# What the scheduler hands a deadline callback: the DAG run as the REST API shows it, and the deadline.
DEADLINE = {"dag_run": {"dag_id": "gold_dbt", "dag_run_id": "asset_triggered__2"},
            "deadline": {"id": "d-1", "deadline_time": "2026-12-01T10:10:00+00:00"}}


@pytest.fixture
def alerts_file(tmp_path, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    monkeypatch.delenv("ALERT_WEBHOOK_URL", raising=False)
    return Settings.from_env().alerts_file


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_failed_task_appends_one_line_with_its_run_try_and_error(alerts_file):
    AlertNotifier()(FAILED_TRY)
    [line] = lines(alerts_file)
    assert datetime.fromisoformat(line.pop("time")).tzinfo is not None
    assert line == {"kind": "task_failed", "dag": "gold_dbt", "task": "register_tables", "run_id": "manual__1",
                    "try_number": 3,
                    "error": "ConnectionRefusedError: Trino at 127.0.0.1:8080 refused the connection",
                    "log_url": LOG_URL}


def test_a_missed_deadline_appends_a_line_from_the_triggerer_s_await(alerts_file):
    AlertNotifier()(FAILED_TRY)
    asyncio.run(_await(AlertNotifier(context=DEADLINE)))
    first, second = lines(alerts_file)
    assert first["kind"] == "task_failed"
    del second["time"]
    assert second == {"kind": "deadline_missed", "dag": "gold_dbt", "task": None, "run_id": "asset_triggered__2",
                      "try_number": None,
                      "error": "the run had not finished by its deadline 2026-12-01T10:10:00+00:00"}


def test_the_line_is_also_posted_to_the_webhook(alerts_file, monkeypatch):
    received = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append((self.headers["Content-Type"], self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    try:
        monkeypatch.setenv("ALERT_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/alerts")
        AlertNotifier()(FAILED_TRY)
        thread.join(timeout=10)
    finally:
        server.server_close()
    [(content_type, body)] = received
    assert content_type == "application/json"
    assert json.loads(body) == lines(alerts_file)[0]


def test_a_webhook_that_is_down_still_leaves_the_line_in_the_file(alerts_file, monkeypatch):
    with HTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
        port = closed.server_port
    monkeypatch.setenv("ALERT_WEBHOOK_URL", f"http://127.0.0.1:{port}/alerts")
    AlertNotifier()(FAILED_TRY)
    assert [line["run_id"] for line in lines(alerts_file)] == ["manual__1"]


async def _await(notifier: AlertNotifier) -> None:
    await notifier
