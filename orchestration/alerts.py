"""The DAGs' alert channel: one JSON line per final task failure or missed deadline, appended to
LAKEHOUSE_HOME/alerts/alerts.jsonl and POSTed to ALERT_WEBHOOK_URL when that is set.

A task's on_failure_callback calls the notifier in the task's process (`notify`); a Deadline Alert's
AsyncCallback awaits it in the triggerer (`async_notify`), with the simple context the scheduler sends
(the DAG run and the deadline).
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request
from datetime import datetime, timezone

from airflow.sdk import BaseNotifier

from pipeline.settings import Settings

TASK_FAILED = "task_failed"
DEADLINE_MISSED = "deadline_missed"
WEBHOOK_TIMEOUT_SECONDS = 10

log = logging.getLogger(__name__)


def task_failure(context) -> dict:
    ti = context["ti"]
    # BashOperator's error gives only the exit code: the log of the try (in the UI) has the rest.
    return {"kind": TASK_FAILED, "dag": ti.dag_id, "task": ti.task_id, "run_id": ti.run_id,
            "try_number": ti.try_number, "error": _error(context.get("exception")), "log_url": ti.log_url}


def deadline_missed(context: dict) -> dict:
    run, deadline = context.get("dag_run") or {}, context.get("deadline") or {}
    return {"kind": DEADLINE_MISSED, "dag": run.get("dag_id"), "task": None, "run_id": run.get("dag_run_id"),
            "try_number": None, "error": f"the run had not finished by its deadline {deadline.get('deadline_time')}"}


def _error(exception: BaseException | str | None) -> str | None:
    if exception is None:
        return None
    return str(exception) if isinstance(exception, str) else f"{type(exception).__name__}: {exception}"


def send(alert: dict, settings: Settings | None = None) -> dict:
    """Append the alert, stamped with the time, to the alerts file; POST it to the webhook if one is set."""
    settings = settings or Settings.from_env()
    line = {**alert, "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds")}
    settings.alerts_file.parent.mkdir(parents=True, exist_ok=True)
    with settings.alerts_file.open("a", encoding="utf-8") as alerts:
        alerts.write(json.dumps(line, default=str) + "\n")
    if settings.alert_webhook_url:
        request = urllib.request.Request(settings.alert_webhook_url, data=json.dumps(line, default=str).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS):
                pass
        except OSError as error:
            # The line is in the file already; a webhook that is down must not hide the alert.
            log.error("alert webhook %s failed: %s", settings.alert_webhook_url, error)
    return line


class AlertNotifier(BaseNotifier):
    """Airflow notifier for both: `on_failure_callback=AlertNotifier()` and
    `DeadlineAlert(callback=AsyncCallback(AlertNotifier))`."""

    def notify(self, context) -> None:
        send(task_failure(context))

    async def async_notify(self, context) -> None:
        await asyncio.to_thread(send, deadline_missed(context))
