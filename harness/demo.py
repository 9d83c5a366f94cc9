"""The main job: from nothing to Gold checked against the simulator's ground truth."""

from __future__ import annotations

import time

from harness import scenarios
from pipeline import gold
from pipeline.settings import Settings
from pipeline.spark import build_session
from pipeline.stack import artifacts, bi, supervisor
from pipeline.stack.trino import MIN_JAVA
from pipeline.stack.java import find_java_home


def _step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def demo(settings: Settings, scenario: str = "happy_path", orders: int | None = None, seed: int | None = None) -> int:
    started = time.monotonic()
    _step("JVM artifacts")
    artifacts.fetch(settings)
    _step("fresh stack and lakehouse")
    supervisor.reset(settings)
    for service in supervisor.up(settings):
        print("  " + service.line())
    _step(f"scenario {scenario}: simulator -> Kafka -> Bronze -> Silver -> Gold")
    spark = build_session(settings, "lakehouse-demo")
    try:
        outcome = scenarios.run(spark, settings, scenario, orders=orders, seed=seed)
    finally:
        spark.stop()
    _step("Gold: delta.gold.fct_sales_minute")
    print(f"  {'minute (UTC)':17} {'gmv':>12} {'paid_orders':>11}")
    for row in outcome.result.actual:
        print(f"  {row.minute_bucket:%Y-%m-%d %H:%M} {row.gmv:>12} {row.paid_orders:>11}")
    print("\n" + outcome.result.summary(outcome.title))
    print(f"\nreport: {outcome.report}\nevent log: {outcome.event_log} "
          f"(replay it with `python -m harness scenario replay {outcome.event_log}`)")
    if outcome.matches:
        print(f"\nMATCH: every Gold minute equals the ground truth to the cent, and every message is in Bronze and "
              f"counted as clean, quarantined or duplicate as expected ({time.monotonic() - started:.0f}s in all).")
    _how_to_query(settings)
    _dashboard(settings, outcome)
    return 0 if outcome.matches else 1


def _dashboard(settings: Settings, outcome: scenarios.Outcome) -> None:
    """Start Superset and show the scenario's Gold on the dashboard: its event time is the simulator's hour,
    not the clock's, so the view's window is pinned to the scenario's last minute."""
    _step("dashboard (Superset)")
    if not bi.superset_bin(settings).exists():
        print(f"  Superset is not installed ({settings.bi_venv}): run bin/setup-bi, then python -m pipeline bi up")
        return
    minutes = [row.minute_bucket for row in outcome.result.actual]
    if minutes:
        gold.pin_sales_window(settings, max(minutes), quiet=True)
        print(f"  the dashboard's window ends at the scenario's last minute, {max(minutes):%Y-%m-%d %H:%M} UTC "
              "(`python -m pipeline gold` puts it back on the clock)")
    current = bi.up(settings)
    print(f"""
Open the dashboard (no login needed to view it):
  {bi.dashboard_url(current.port)}
Admin: user {bi.ADMIN}, password in {bi.password_file(settings)} (`python -m pipeline bi status` prints it).""")


def _how_to_query(settings: Settings) -> None:
    java = find_java_home("the Trino CLI", minimum=MIN_JAVA, explicit=settings.trino_java_home,
                          explicit_var="TRINO_JAVA_HOME") / "bin" / "java"
    print(f"""
The stack keeps running. Query it:
  Trino CLI:  {java} -jar {artifacts.trino_cli_jar(settings)} --server http://{settings.trino_host}:{settings.trino_http_port} --catalog delta
              then e.g.  SELECT * FROM gold.fct_sales_minute ORDER BY minute_bucket DESC LIMIT 10;
  Python:     import trino; trino.dbapi.connect(host="{settings.trino_host}", port={settings.trino_http_port}, user="lakehouse", catalog="delta")
  Kafka:      {settings.kafka_bootstrap} (topics {settings.topic_order_events}, {settings.topic_payment_events})
Stop it with: python -m pipeline stack down""")
