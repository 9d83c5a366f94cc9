"""The main job: from nothing to Gold checked against the simulator's ground truth."""

from __future__ import annotations

import time

from pipeline import reconcile, run
from pipeline.settings import Settings
from pipeline.spark import build_session
from pipeline.stack import artifacts, supervisor
from pipeline.stack.trino import MIN_JAVA
from pipeline.stack.java import find_java_home
from simulator.run import run_produce


def _step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def demo(settings: Settings, orders: int, seed: int, keep: bool = False, scenario: str = "happy_path") -> int:
    started = time.monotonic()
    _step("JVM artifacts")
    artifacts.fetch(settings)
    if not keep:
        _step("fresh lakehouse (pass --keep to keep earlier data)")
        supervisor.reset(settings)
    _step("embedded stack")
    for service in supervisor.up(settings):
        print("  " + service.line())
    _step(f"simulator: scenario {scenario}, {orders:,} orders, seed {seed}")
    expected, expected_file = run_produce(settings, orders, seed)
    print(f"  produced {expected.orders.produced:,} order and {expected.payments.produced:,} payment messages; "
          f"ground truth in {expected_file}")
    _step("pipeline run --once")
    spark = build_session(settings, "lakehouse-demo")
    try:
        run.run_once(spark, settings)
    finally:
        spark.stop()
    _step("Gold: delta.gold.fct_sales_minute")
    result = reconcile.reconcile(settings, expected)
    print(f"  {'minute (UTC)':17} {'gmv':>12} {'paid_orders':>11}")
    for row in result.actual:
        print(f"  {row.minute_bucket:%Y-%m-%d %H:%M} {row.gmv:>12} {row.paid_orders:>11}")
    total = sum((row.gmv for row in result.actual), start=0)
    print(f"  {len(result.actual)} minutes, gmv {total}, paid orders {sum(r.paid_orders for r in result.actual):,}")
    if result.matches:
        print(f"\nMATCH: every Gold minute equals the ground truth to the cent, and Bronze holds one row "
              f"per produced message ({time.monotonic() - started:.0f}s in all).")
    else:
        print("\nMISMATCH against the ground truth:")
        for line in result.differences():
            print("  " + line)
    _how_to_query(settings)
    return 0 if result.matches else 1


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
